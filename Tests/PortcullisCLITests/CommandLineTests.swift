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

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func acknowledgedWritesSurviveAKill() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        let arguments = ["apiserver", "--state-dir", state.path, "--port", "0"]
        let first = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), arguments)
        #expect(try await first.waitFor("kubeconfig: "), "\(first.printed)")
        let kubectl = { (arguments: [String]) in try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig] + arguments) }
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("crds").path]).status == 0)
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("examples/quickstart").path]).status == 0)
        #expect(try await kubectl(["create", "configmap", "settings", "--from-literal=mode=fast"]).status == 0)
        let before = try await kubectl(["get", "routes", "-o", "jsonpath={.items[0].metadata.resourceVersion}"]).stdout
        first.kill()

        let second = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), arguments)
        defer { second.terminate() }
        #expect(try await second.waitFor("kubeconfig: "), "\(second.printed)")
        let route = try await kubectl(["get", "route", "hello", "-o", "jsonpath={.metadata.resourceVersion} {.spec.match.path.value}"])
        #expect(route.stdout == "\(before) /hello", "\(route.stderr)")
        #expect(try await kubectl(["get", "configmap", "settings", "-o", "jsonpath={.data.mode}"]).stdout == "fast")
        let created = try await kubectl(["create", "configmap", "after", "-o", "jsonpath={.metadata.resourceVersion}"])
        #expect((Int(created.stdout) ?? 0) > (Int(before) ?? .max), "resourceVersions continue after the restart")
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func bodiesOverThreeMebibytesAreRefused() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let server = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { server.terminate() }
        #expect(try await server.waitFor("kubeconfig: "), "\(server.printed)")
        let large = state.appendingPathComponent("large.txt")
        try String(repeating: "x", count: 4 * 1024 * 1024).write(to: large, atomically: true, encoding: .utf8)
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        let output = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "create", "configmap", "big", "--from-file=\(large.path)"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("Request entity too large"), "\(output.stderr)")
        let stillServing = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "get", "configmaps"])
        #expect(stillServing.status == 0)
    }
}
