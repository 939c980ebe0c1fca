import ArgumentParser
import PortcullisAPI

/// The `portcullis` command line.
@main
struct Portcullis: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portcullis",
        abstract: "A Kubernetes-native API gateway that reaches its backends without static secrets.",
        discussion: """
            Portcullis watches Route, UpstreamAuth and Tunnel resources (portcullis.io/v1alpha1) and serves them \
            from an embedded gateway: authenticated to backends with workload identity, resilient when they fail, \
            and able to reach private networks over WireGuard.
            """,
        version: PortcullisVersion.current,
        subcommands: [ControllerCommand.self, DevCommand.self, APIServerCommand.self, CRDsCommand.self, VersionCommand.self]
    )
}
