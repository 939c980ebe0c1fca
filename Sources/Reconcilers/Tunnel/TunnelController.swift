public import KubernetesClient
public import Logging
public import ServiceLifecycle
public import Tunnels
import Foundation
import IPAddresses
import Kubernetes
import PortcullisAPI
import Synchronization

/// Runs Tunnels: the leader keeps each Tunnel's keys, addresses, connector config and finalizer; every
/// replica configures its own WireGuard interface from them and reads the live handshake and traffic, which
/// the leader reports in the Tunnel's status (`Ready`: the interface is configured; `Connected`: the last
/// handshake is younger than ``Configuration/connectedWithin``).
///
/// What the leader keeps, per Tunnel `<name>` (both Secrets owned by the Tunnel, so they go with it, and labelled
/// `portcullis.io/secret: owned`, see ``SecretLabel``):
///
/// | where | what |
/// |---|---|
/// | Secret `<name>-wireguard` | `privateKey` and `publicKey` (the gateway's), `peerPublicKey`, and `peerPrivateKey` unless `spec.wireGuard.peerPublicKey` is set; annotation ``rotatedKeysAnnotation`` |
/// | Secret `spec.wireGuard.connectorSecretName` (default `<name>-connector`) | `wg0.conf`, the private side's wg-quick config |
/// | `status.address`, `status.peerAddress` | the tunnel addresses, drawn from `spec.wireGuard.addressPool` |
/// | finalizer ``finalizer`` | the interface is removed before the Tunnel goes |
///
/// Setting the annotation ``rotateKeysAnnotation`` to a new value generates new key pairs once.
/// Interface problems (no NET_ADMIN, no `/dev/net/tun`, a port or routing table in use) become `Ready=False`
/// with a message naming the interface, port or network; the process keeps running.
///
/// A Tunnel whose spec is invalid or whose networks are refused (``TunnelNetworkClaims``: a cluster network,
/// or another namespace's older Tunnel's) is `Ready=False` and its interface is not touched: one configured
/// before keeps what it had, so the Routes through it keep serving, and its routes stay in its own table,
/// where they reach only those Routes; a refused network is never added.
public final class TunnelController: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The start of every interface name; at most 5 characters. Default `wg`.
        public var interfacePrefix: String
        /// How often each Tunnel's interface is checked and its status refreshed. Default 15 s.
        public var statusInterval: Duration
        /// A handshake younger than this makes a Tunnel `Connected`. Default 3 minutes: WireGuard renews a
        /// session's keys with a new handshake every 2 minutes while packets flow, and keepalives keep them flowing.
        public var connectedWithin: Duration

        public init(interfacePrefix: String = "wg", statusInterval: Duration = .seconds(15), connectedWithin: Duration = .seconds(180)) {
            self.interfacePrefix = interfacePrefix
            self.statusInterval = statusInterval
            self.connectedWithin = connectedWithin
        }
    }

    /// Keeps a Tunnel until its interface is removed.
    public static let finalizer = "portcullis.io/wireguard-interface"
    /// On a Tunnel: set it to a new value to rotate the keys once.
    public static let rotateKeysAnnotation = "portcullis.io/rotate-keys"
    /// On the key Secret: the value of ``rotateKeysAnnotation`` that was last acted on.
    public static let rotatedKeysAnnotation = "portcullis.io/rotated-keys"
    /// On both Secrets: the Tunnel's name.
    public static let tunnelLabel = "portcullis.io/tunnel"
    /// On both Secrets: `keys` or `connector`.
    public static let roleLabel = "portcullis.io/tunnel-secret"
    /// The connector Secret's key holding the wg-quick config.
    public static let connectorConfigKey = "wg0.conf"

    let client: KubernetesClient
    let interfaces: any WireGuardInterfaceManaging
    let tenancy: TenancyPolicy
    let namespace: String?
    let isLeader: @Sendable () -> Bool
    let configuration: Configuration
    let logger: Logger
    /// The interfaces this replica configured, by Tunnel.
    private let configured = Mutex<[ObjectKey: String]>([:])
    /// Addresses this leader allocated that its cache may not show yet, by Tunnel.
    let reserved = Mutex<[ObjectKey: TunnelAddressAllocator.Allocation]>([:])

    /// - Parameters:
    ///   - interfaces: Creates and reads the interfaces: ``WireGuardInterfaceManager`` on this host.
    ///   - tenancy: The cluster admin's policy: no Tunnel network may overlap its cluster networks.
    ///   - namespace: Watch one namespace, or all when `nil`. Tunnels in namespaces not watched are not seen
    ///     to overlap, so watch all where several namespaces have Tunnels.
    ///   - isLeader: Whether this replica may write now (Secrets, finalizers, status).
    public init(
        client: KubernetesClient,
        interfaces: any WireGuardInterfaceManaging,
        tenancy: TenancyPolicy = TenancyPolicy(),
        namespace: String? = nil,
        isLeader: @escaping @Sendable () -> Bool = { true },
        configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.client = client
        self.interfaces = interfaces
        self.tenancy = tenancy
        self.namespace = namespace
        self.isLeader = isLeader
        self.configuration = configuration
        self.logger = logger
    }

    /// Watches Tunnels and their Secrets until shutdown, then removes the interfaces it configured.
    public func run() async throws {
        let factory = SharedInformerFactory(client: client, namespace: namespace, logger: logger)
        let tunnels = factory.informer(for: Tunnel.self)
        let secrets = factory.informer(for: CoreV1.Secret.self, labelSelector: Self.tunnelLabel)
        let queue = WorkQueue<ObjectKey>(name: "tunnel", clock: ContinuousClock())
        // A Tunnel's change may refuse, or free, the Tunnels of other namespaces that overlap it.
        tunnels.addEventHandler(
            .enqueue(into: queue) { [store = tunnels.store] tunnel in
                [tunnel.objectKey] + TunnelNetworkClaims.overlapping(tunnel, in: store.list())
            }
        )
        secrets.addEventHandler(
            .enqueue(into: queue) { secret in
                secret.metadata.labels?[Self.tunnelLabel].map { [ObjectKey(namespace: secret.metadata.namespace ?? "", name: $0)] } ?? []
            }
        )
        let controller = Controller(configuration: .init(name: "tunnel"), queue: queue, waitingFor: [tunnels, secrets], logger: logger) {
            [self] key in
            try await reconcile(key, tunnels: tunnels.store, secrets: secrets.store)
        }
        do {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await factory.run() }
                group.addTask { try await controller.run() }
            }
        } catch {
            await removeConfiguredInterfaces()
            throw error
        }
        await removeConfiguredInterfaces()
    }

    /// Brings one Tunnel's Secrets, interface and status in line.
    func reconcile(_ key: ObjectKey, tunnels: Store<Tunnel>, secrets: Store<CoreV1.Secret>) async throws -> ReconcileResult {
        guard let tunnel = tunnels.get(key) else {
            try await removeInterface(of: key)
            reserved.withLock { $0[key] = nil }
            return .done
        }
        if tunnel.metadata.deletionTimestamp != nil {
            try await removeInterface(of: key)
            reserved.withLock { $0[key] = nil }
            if isLeader() { try await removeFinalizer(from: tunnel) }
            return .done
        }

        let leading = isLeader()
        let now = Date()
        let generation = tunnel.metadata.generation ?? 1
        var status = tunnel.status ?? TunnelStatus()
        var conditions = status.conditions ?? []
        func set(_ type: String, _ value: Condition.Status, _ reason: String, _ message: String) {
            conditions = ConditionList.setting(type, to: value, reason: reason, message: message, observedGeneration: generation, in: conditions, now: now)
        }
        let name = interfaceName(key)
        do {
            if leading { try await addFinalizer(to: tunnel) }
            let errors = tunnel.validate()
            guard errors.isEmpty else {
                throw TunnelProblem(reason: "Invalid", message: errors.map(\.description).joined(separator: "; "))
            }
            if let refusal = TunnelNetworkClaims(tunnels: tunnels.list(), clusterNetworks: tenancy.destinations.clusterNetworks).refusals[key] {
                throw refusal
            }
            let plan: TunnelPlan
            if leading {
                plan = try await ensureKeysAndAddresses(tunnel, key: key, tunnels: tunnels, secrets: secrets)
                status.publicKey = plan.interface.privateKey.publicKey.base64
                status.address = plan.interface.address.description
                status.peerAddress = plan.peerAddress.description
            } else {
                plan = try cachedPlan(tunnel, key: key, secrets: secrets)
            }
            try await interfaces.apply(plan.interface)
            configured.withLock { $0[key] = name }
            let peer = try await interfaces.state(of: name)?.peer(plan.interface.peer.publicKey)
            let routed = (tunnel.spec.wireGuard.allowedIPs).joined(separator: ", ")
            set("Ready", .true, "Configured", "interface \(name) listens on UDP port \(plan.interface.listenPort) and routes \(routed) through the tunnel")
            status.lastHandshakeTime = peer?.lastHandshake.map { RFC3339.string(from: $0) }
            status.transferRxBytes = peer?.receivedBytes
            status.transferTxBytes = peer?.transmittedBytes
            switch peer?.lastHandshake {
            case nil:
                set("Connected", .false, "NoHandshake", "no handshake with the private side yet: run the wg-quick config from Secret \(plan.connectorSecretName) there")
            case let handshake? where now.timeIntervalSince(handshake) < configuration.connectedWithin.timeInterval:
                set("Connected", .true, "Handshake", "the last handshake with the private side was at \(RFC3339.string(from: handshake))")
            case let handshake?:
                set("Connected", .false, "HandshakeTooOld", "the last handshake with the private side, at \(RFC3339.string(from: handshake)), is older than \(Int(configuration.connectedWithin.timeInterval)) s")
            }
        } catch let problem as TunnelProblem {
            set("Ready", problem.readiness, problem.reason, problem.message)
            set("Connected", .unknown, problem.reason, "not known until the interface is configured")
        } catch let error as WireGuardError {
            set("Ready", .false, Self.reason(for: error.code), explain(error, tunnel: tunnel, tunnels: tunnels))
            set("Connected", .unknown, Self.reason(for: error.code), "not known until the interface is configured")
            logger.info("tunnel interface not configured", metadata: ["tunnel": "\(key)", "wireguard.interface": "\(name)", "error": "\(error.message)"])
        }
        status.conditions = conditions
        status.observedGeneration = generation
        if leading && isLeader() && status != tunnel.status {
            try await writeStatus(status, of: tunnel)
        }
        return .requeueAfter(configuration.statusInterval)
    }

    /// The interface name of a Tunnel: the prefix and a hash of `namespace/name`.
    func interfaceName(_ key: ObjectKey) -> String {
        WireGuardInterfaceConfiguration.interfaceName(for: key.description, prefix: configuration.interfacePrefix)
    }

    /// Removes the Tunnel's interface on this replica. A replica that cannot manage interfaces at all (no
    /// `ip`, no NET_ADMIN) and never configured this one has nothing to remove, so it does not hold the
    /// Tunnel's deletion up.
    private func removeInterface(of key: ObjectKey) async throws {
        let configuredName = configured.withLock { $0[key] }
        let name = configuredName ?? interfaceName(key)
        do {
            try await interfaces.remove(name)
        } catch let error as WireGuardError where configuredName == nil && (error.code == .toolMissing || error.code == .permissionDenied) {
            logger.debug("no tunnel interface to remove", metadata: ["tunnel": "\(key)", "error": "\(error.message)"])
        }
        configured.withLock { $0[key] = nil }
    }

    /// Removes every interface this replica configured; runs even when the calling task is cancelled.
    private func removeConfiguredInterfaces() async {
        let names = configured.withLock { Array($0.values) }
        guard !names.isEmpty else { return }
        let interfaces = self.interfaces
        let logger = self.logger
        await Task {
            for name in names {
                do {
                    try await interfaces.remove(name)
                } catch {
                    logger.warning("could not remove tunnel interface at shutdown", metadata: ["wireguard.interface": "\(name)", "error": "\(error)"])
                }
            }
        }.value
    }

    /// The condition reason for an interface error.
    static func reason(for code: WireGuardError.Code) -> String {
        switch code {
        case .permissionDenied: return "PermissionDenied"
        case .tunUnavailable: return "TUNUnavailable"
        case .toolMissing: return "ToolMissing"
        case .interfaceConflict: return "InterfaceConflict"
        case .listenPortInUse: return "ListenPortInUse"
        case .routeConflict: return "RouteConflict"
        case .poolExhausted: return "AddressPoolExhausted"
        case .invalidKey: return "InvalidKey"
        case .invalidConfiguration: return "Invalid"
        default: return "InterfaceFailed"
        }
    }

    /// The error's message, with the Tunnel that holds a contested listen port when it is one of ours.
    private func explain(_ error: WireGuardError, tunnel: Tunnel, tunnels: Store<Tunnel>) -> String {
        guard error.code == .listenPortInUse else { return error.message }
        let port = tunnel.spec.wireGuard.listenPort ?? WireGuardTunnel.defaultListenPort
        let holders = tunnels.list().filter {
            $0.objectKey != tunnel.objectKey && ($0.spec.wireGuard.listenPort ?? WireGuardTunnel.defaultListenPort) == port
        }
        guard !holders.isEmpty else { return error.message }
        return error.message + "; Tunnel \(holders.map(\.objectKey.description).sorted().joined(separator: ", ")) also listens on it: give each Tunnel its own spec.wireGuard.listenPort"
    }
}
