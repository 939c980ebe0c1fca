import Foundation
import PortcullisTestSupport
import Testing

/// Runs the built `portcullis` binary as a user would.
@Suite struct CommandLineTests {
    static func portcullis(_ arguments: String...) async throws -> ExternalTool.Output {
        try await portcullis(arguments: arguments)
    }

    static func portcullis(arguments: [String]) async throws -> ExternalTool.Output {
        try await ExternalTool.run(RepositoryFiles.builtProduct("portcullis"), arguments)
    }

    @Test func crdsPrintsExactlyWhatCRDsHolds() async throws {
        let output = try await Self.portcullis("crds")
        #expect(output.status == 0)
        let files = ["portcullis.io_routes.yaml", "portcullis.io_upstreamauths.yaml", "portcullis.io_tunnels.yaml"]
        let committed = try files.map { try RepositoryFiles.text("crds/" + $0) }.joined(separator: "---\n")
        #expect(output.stdout == committed)
    }

    @Test func helpListsEveryCommand() async throws {
        let output = try await Self.portcullis("--help")
        #expect(output.status == 0)
        for command in ["controller", "dev", "apiserver", "crds", "version"] {
            #expect(output.stdout.contains(command))
        }
    }

    @Test func versionNamesTheAPIVersion() async throws {
        let output = try await Self.portcullis("version")
        #expect(output.status == 0)
        #expect(output.stdout.contains("portcullis.io/v1alpha1"))
    }

    @Test(arguments: [["controller"], ["dev"]])
    func commandsNotBuiltYetFailAndSaySo(arguments: [String]) async throws {
        let output = try await Self.portcullis(arguments: arguments)
        #expect(output.status != 0)
        #expect(output.stderr.contains("is not available in this build yet"))
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func apiserverWritesAKubeconfigThatKubectlUses() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let server = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { server.terminate() }
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        #expect(try await server.waitFor("kubeconfig: \(kubeconfig)"), "\(server.printed)")
        #expect(server.printed.contains("API server listening on https://127.0.0.1:"))
        let attributes = try FileManager.default.attributesOfItem(atPath: kubeconfig)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let namespaces = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"])
        #expect(namespaces.status == 0, "\(namespaces.stderr)")
        #expect(namespaces.stdout.contains("namespace/default"))
    }
}
