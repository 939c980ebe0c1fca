import ArgumentParser
import PortcullisAPI

/// `portcullis version`: prints the binary's version and the API version it serves.
struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "version",
        abstract: "Print the Portcullis version and the resource API version."
    )

    func run() throws {
        print("portcullis \(PortcullisVersion.current) (API \(PortcullisAPIGroup.apiVersion))")
    }
}
