import Foundation
import PortcullisTestSupport
import Testing

/// Runs the built `portcullis` binary as a user would.
@Suite struct CommandLineTests {
    static func portcullis(_ arguments: String...) throws -> ExternalTool.Output {
        try portcullis(arguments: arguments)
    }

    static func portcullis(arguments: [String]) throws -> ExternalTool.Output {
        try ExternalTool.run(RepositoryFiles.builtProduct("portcullis"), arguments)
    }

    @Test func crdsPrintsExactlyWhatCRDsHolds() throws {
        let output = try Self.portcullis("crds")
        #expect(output.status == 0)
        let files = ["portcullis.io_routes.yaml", "portcullis.io_upstreamauths.yaml", "portcullis.io_tunnels.yaml"]
        let committed = try files.map { try RepositoryFiles.text("crds/" + $0) }.joined(separator: "---\n")
        #expect(output.stdout == committed)
    }

    @Test func helpListsEveryCommand() throws {
        let output = try Self.portcullis("--help")
        #expect(output.status == 0)
        for command in ["controller", "dev", "apiserver", "crds", "version"] {
            #expect(output.stdout.contains(command))
        }
    }

    @Test func versionNamesTheAPIVersion() throws {
        let output = try Self.portcullis("version")
        #expect(output.status == 0)
        #expect(output.stdout.contains("portcullis.io/v1alpha1"))
    }

    @Test(arguments: [["controller"], ["dev"], ["apiserver", "--state-dir", "/tmp/portcullis-unused"]])
    func commandsNotBuiltYetFailAndSaySo(arguments: [String]) throws {
        let output = try Self.portcullis(arguments: arguments)
        #expect(output.status != 0)
        #expect(output.stderr.contains("is not available in this build yet"))
    }
}
