import ArgumentParser

/// `portcullis dev`: everything on one machine, with an embedded API server.
struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run an embedded API server, the controller and the gateway on this machine, so kubectl works with no cluster.",
        discussion: """
            Installs the CRDs, applies the given manifests (examples/quickstart by default) and prints the \
            kubeconfig path, the gateway URL and a first kubectl and curl command to try.
            """
    )

    @Option(help: "Where the API server keeps its state and writes kubeconfig and endpoints.json.")
    var stateDir: String = ".portcullis"

    @Option(help: "The API server's port; 0 picks a free one.")
    var apiPort: Int = 6443

    @Option(help: "The gateway's port; 0 picks a free one.")
    var gatewayPort: Int = 8080

    @Option(help: "The admin port; 0 picks a free one.")
    var adminPort: Int = 9090

    @Option(name: .customLong("apply"), help: "A manifest file or folder to apply at start; repeatable.")
    var manifests: [String] = []

    @Flag(help: "Also start a local demo upstream that echoes what it received.")
    var demo = false

    func run() throws {
        throw NotBuiltYet(command: "dev", tracking: "it needs the embedded API server and the controller, which are being built")
    }
}
