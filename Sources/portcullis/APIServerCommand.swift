import ArgumentParser

/// `portcullis apiserver`: the embedded Kubernetes-compatible API server on its own.
struct APIServerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Run the embedded Kubernetes-compatible API server on its own.",
        discussion: "Serves HTTPS with bearer-token authentication and writes <state-dir>/kubeconfig for kubectl."
    )

    @Option(help: "Where state, the serving certificate and the kubeconfig are kept.")
    var stateDir: String

    @Option(help: "The port; 0 picks a free one.")
    var port: Int = 6443

    func run() throws {
        throw NotBuiltYet(command: "apiserver", tracking: "the embedded API server is being built")
    }
}
