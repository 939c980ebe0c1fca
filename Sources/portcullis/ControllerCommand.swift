import ArgumentParser
import AsyncHTTPClient
import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import Logging
import NIOCore
import Reconcilers
import ServiceLifecycle
import Tunnels
import UnixSignals
import UpstreamCredentials

/// `portcullis controller`: the controller and gateway, against a cluster.
struct ControllerCommand: AsyncParsableCommand {
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

    @Option(help: "The admin port: /healthz, /readyz, /debug/config, /debug/breakers, /metrics; peer replicas exchange breaker transitions on it over mutual TLS.")
    var adminPort: Int = 9090

    @Flag(help: "Serve the admin port's /debug/config and /debug/breakers to clients off this host too; without it only loopback clients (kubectl port-forward) get them.")
    var exposeDebug = false

    @Option(help: "HOST:PORT where the other gateway replicas reach this one's admin port to share circuit-breaker state; defaults to POD_IP and --admin-port.")
    var peerAddress: String?

    @Option(help: "Watch only this namespace; all namespaces when omitted.")
    var namespace: String?

    @Flag(help: "Elect a leader through a Lease; only the leader writes status.")
    var leaderElect = false

    @Option(help: "The namespace of the leader-election Lease; defaults to POD_NAMESPACE, then default.")
    var leaseNamespace: String?

    @Option(help: "The namespace of the installation's CA and signing keys; defaults to POD_NAMESPACE, then default.")
    var pkiNamespace: String?

    @Option(help: "A kubernetes.io/tls Secret, as NAMESPACE/NAME, whose certificate the gateway terminates TLS with (replaced when the Secret changes); plain HTTP when omitted.")
    var gatewayTLSSecret: String?

    @Option(help: "The installation's JWT issuer URL; the gateway serves its discovery document and JWKS under it. Needed for gateway-signed JWTs.")
    var issuerURL: String?

    @Option(
        name: .customLong("upstream-http2-ping-interval"),
        help: "How long an HTTP/2 upstream connection may read nothing before the gateway sends it a PING; 0s sends none."
    )
    var upstreamHTTP2PingInterval = APIDuration(.seconds(30))

    @Option(
        name: .customLong("upstream-http2-ping-timeout"),
        help: "How long the gateway waits for anything from an HTTP/2 upstream after a PING before it closes the connection as dead and fails its streams."
    )
    var upstreamHTTP2PingTimeout = APIDuration(.seconds(10))

    @OptionGroup(title: "Tenancy (docs/security.md)")
    var tenancy: TenancyOptions

    @Option(help: "How long followers respect the leader's Lease after it last changed.")
    var leaderElectLeaseDuration = APIDuration(.seconds(15))

    @Option(help: "How long the leader keeps leading without a successful renewal; less than the lease duration.")
    var leaderElectRenewDeadline = APIDuration(.seconds(10))

    @Option(help: "The time between attempts to acquire or renew the Lease.")
    var leaderElectRetryPeriod = APIDuration(.seconds(2))

    func validate() throws {
        if let peerAddress {
            do {
                _ = try BreakerPeer(identity: "this replica", address: peerAddress)
            } catch {
                throw ValidationError("--peer-address: \(error)")
            }
        }
        guard leaderElectRenewDeadline < leaderElectLeaseDuration else {
            throw ValidationError("--leader-elect-renew-deadline must be less than --leader-elect-lease-duration")
        }
        guard leaderElectRetryPeriod.duration > .zero else {
            throw ValidationError("--leader-elect-retry-period must be more than 0s")
        }
        guard upstreamHTTP2PingTimeout.duration > .zero else {
            throw ValidationError("--upstream-http2-ping-timeout must be more than 0s")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrapPortcullis()
        let renderMetrics = ProcessMetrics.bootstrap()
        let logger = Logger(label: "portcullis.controller")
        let environment = ProcessInfo.processInfo.environment
        let client = try KubernetesClient(configuration: .resolve(kubeconfigPath: kubeconfig), logger: logger)
        let state = GatewayState()
        let identity = environment["POD_NAME"] ?? LeaderElector.defaultIdentity()
        let breakerExchange = BreakerExchange(identity: identity, state: state, logger: logger)
        var gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)?
        do {
            if let gatewayTLSSecret { gatewayTLS = try await Self.loadGatewayTLS(gatewayTLSSecret, client: client) }
        } catch {
            try? await client.shutdown()
            throw error
        }
        let upstreamPool = UpstreamPoolConfiguration(
            http2: .init(pingInterval: upstreamHTTP2PingInterval.duration, pingTimeout: upstreamHTTP2PingTimeout.duration)
        )
        let gateway = try await GatewayServer(
            port: gatewayPort,
            state: state,
            accessLog: Logger(label: LoggingSystem.accessLogLabel),
            tls: gatewayTLS?.tls,
            upstreamPool: upstreamPool
        ).start()
        let admin = try await AdminServer(
            port: adminPort,
            isReady: { state.isReady },
            describeConfig: { state.describe() },
            renderMetrics: renderMetrics,
            breakerExchange: breakerExchange,
            exposeDebug: exposeDebug
        ).start()
        logger.info("gateway on port \(gateway.localAddress?.port ?? gatewayPort), admin on port \(admin.localAddress?.port ?? adminPort)")
        let boundAdminPort = admin.localAddress?.port ?? adminPort
        var advertisedPeerAddress = peerAddress ?? environment["POD_IP"].map { $0.contains(":") ? "[\($0)]:\(boundAdminPort)" : "\($0):\(boundAdminPort)" }
        if let address = advertisedPeerAddress, peerAddress == nil, (try? BreakerPeer(identity: identity, address: address)) == nil {
            logger.error("POD_IP is not an IP address; this replica does not advertise a peer address", metadata: ["POD_IP": "\(environment["POD_IP"] ?? "")"])
            advertisedPeerAddress = nil
        }
        if advertisedPeerAddress == nil {
            logger.warning("no peer address (--peer-address or POD_IP): other replicas cannot send this one their breaker transitions")
        }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        let isLeader: @Sendable () -> Bool
        if leaderElect {
            let elector = LeaderElector(
                client: client,
                configuration: .init(
                    leaseName: "portcullis-controller",
                    namespace: leaseNamespace ?? environment["POD_NAMESPACE"] ?? "default",
                    identity: identity,
                    leaseDuration: leaderElectLeaseDuration.duration,
                    renewDeadline: leaderElectRenewDeadline.duration,
                    retryPeriod: leaderElectRetryPeriod.duration
                ),
                logger: logger
            )
            services.append(.init(service: elector))
            isLeader = { elector.isLeader }
        } else {
            isLeader = { true }
        }
        let httpClient = HTTPClient.forTokenEndpoints()
        let credentials = CredentialRuntime(httpClient: httpClient, logger: logger)
        let pki = PKISettings(namespace: pkiNamespace ?? environment["POD_NAMESPACE"] ?? "default", issuer: issuerURL)
        services.append(.init(service: credentials))
        let policy = tenancy.policy(apiServer: client.configuration.server, gatewayPorts: [gateway.localAddress?.port ?? gatewayPort, boundAdminPort])
        services.append(
            .init(
                service: GatewayController(
                    client: client, state: state, namespace: namespace, isLeader: isLeader, credentials: credentials, pki: pki,
                    tenancy: policy,
                    identity: identity, gatewayTLS: gatewayTLS, breakerExchange: breakerExchange, peerAddress: advertisedPeerAddress, logger: logger
                )
            )
        )
        let interfaces = WireGuardInterfaceManager(logger: logger)
        services.append(
            .init(service: TunnelController(client: client, interfaces: interfaces, tenancy: policy, namespace: namespace, isLeader: isLeader, logger: logger))
        )
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await gateway.close()
            try? await admin.close()
            try? await httpClient.shutdown()
            try? await client.shutdown()
            throw error
        }
        try await gateway.close()
        try await admin.close()
        try await httpClient.shutdown()
        try await client.shutdown()
    }

    /// The gateway's certificate from `--gateway-tls-secret`.
    static func loadGatewayTLS(_ reference: String, client: KubernetesClient) async throws -> (secret: ObjectKey, tls: GatewayTLS) {
        let parts = reference.split(separator: "/")
        guard parts.count == 2 else { throw ValidationError("--gateway-tls-secret \(reference): expected NAMESPACE/NAME") }
        let key = ObjectKey(namespace: String(parts[0]), name: String(parts[1]))
        let secret: CoreV1.Secret
        do {
            secret = try await client.resources(CoreV1.Secret.self).get(key.name, namespace: key.namespace)
        } catch let error as KubernetesError {
            throw ValidationError("--gateway-tls-secret \(reference): \(error.message)")
        }
        guard let certificate = secret.data?["tls.crt"], let privateKey = secret.data?["tls.key"] else {
            throw ValidationError("--gateway-tls-secret \(reference): the Secret has no tls.crt or tls.key")
        }
        do {
            let tls = try GatewayTLS(certificateChainPEM: String(decoding: certificate, as: UTF8.self), privateKeyPEM: String(decoding: privateKey, as: UTF8.self))
            return (key, tls)
        } catch {
            throw ValidationError("--gateway-tls-secret \(reference): tls.crt and tls.key cannot be used: \(error)")
        }
    }
}
