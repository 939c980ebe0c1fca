import ArgumentParser

/// `portcullis controller`: the controller and gateway, against a cluster.
struct ControllerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the controller and the gateway against a Kubernetes cluster.",
        discussion: """
            Watches Routes, UpstreamAuths and Tunnels and serves them from the embedded gateway. Uses the \
            in-cluster configuration when --kubeconfig is omitted.
            """
    )

    @Option(help: "The kubeconfig file; in-cluster configuration when omitted.")
    var kubeconfig: String?

    @Option(help: "The gateway's listening port.")
    var gatewayPort: Int = 8080

    @Option(help: "The admin port: /healthz, /readyz, /metrics, /debug/config.")
    var adminPort: Int = 9090

    @Option(help: "Watch only this namespace; all namespaces when omitted.")
    var namespace: String?

    @Flag(help: "Elect a leader through a Lease; only the leader writes status and issues keys and certificates.")
    var leaderElect = false

    func run() throws {
        throw NotBuiltYet(command: "controller", tracking: "the controller runtime and reconcilers are being built")
    }
}
