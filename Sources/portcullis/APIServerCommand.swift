import ArgumentParser
import Foundation
import KubernetesAPIServer
import Logging

/// `portcullis apiserver`: the embedded Kubernetes-compatible API server on its own.
struct APIServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apiserver",
        abstract: "Run the embedded Kubernetes-compatible API server on its own.",
        discussion: """
            Serves HTTPS (a certificate from a CA kept in the state directory) with bearer-token \
            authentication, keeps every object durably in the state directory, and writes \
            <state-dir>/kubeconfig for kubectl:
              KUBECONFIG=<state-dir>/kubeconfig kubectl get namespaces
            """
    )

    @Option(help: "Where objects, the CA, the token and the kubeconfig are kept.")
    var stateDir: String

    @Option(help: "The port; 0 picks a free one.")
    var port: Int = 6443

    @Option(help: "The address to listen on.")
    var host: String = "127.0.0.1"

    func run() async throws {
        let logger = Logger(label: "portcullis.apiserver")
        let state = try LocalState(directory: URL(fileURLWithPath: stateDir))
        let server = try state.makeAPIServer(host: host, port: port, logger: logger)
        try await server.run { endpoint in
            let kubeconfig = try state.writeKubeconfig(for: endpoint)
            print("API server listening on \(endpoint.url)")
            print("kubeconfig: \(kubeconfig.path)")
            print("try: KUBECONFIG=\(kubeconfig.path) kubectl get namespaces")
            fflush(nil)
        }
    }
}
