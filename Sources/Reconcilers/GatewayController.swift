public import Gateway
public import KubernetesClient
public import Logging
public import Metrics
public import ServiceLifecycle
import Foundation
import PKI
import Kubernetes
import PortcullisAPI
import Resilience
import Synchronization

/// Watches Routes and everything they refer to, builds the gateway's whole config from the caches,
/// swaps it into the gateway, and reports each Route's conditions in its status.
///
/// Every change enqueues the same key, so a burst of changes costs one rebuild. A Route that
/// becomes invalid or unresolvable keeps its last good version serving, and its status says so.
/// Only the leader writes status.
///
/// Beside the config it runs two more loops on the same caches: the installation's PKI (CA and
/// signing keys in Secrets, see ``InstallationPKI``) and each UpstreamAuth's certificate and status
/// (``UpstreamAuthReconciler``).
///
/// Besides the runtime's metrics (controllers and queues `gateway`/`gateway-config`,
/// `installation-pki` and `upstreamauth`, one informer per watched resource), it records the gauges
/// `portcullis_gateway_config_generation` (the generation of the config the gateway serves) and
/// `portcullis_gateway_routes` (how many routes it serves).
public final class GatewayController: Service, Sendable {
    let client: KubernetesClient
    let state: GatewayState
    let namespace: String?
    let isLeader: @Sendable () -> Bool
    let logger: Logger
    let pki: InstallationPKI
    let upstreamAuths: UpstreamAuthReconciler
    let metricsFactory: any MetricsFactory
    private let servedGeneration: Gauge
    private let servedRoutes: Gauge
    /// Events on condition transitions, written by the leader.
    let events: EventRecorder
    private let lastGood = Mutex<[RouteKey: RouteConfig]>([:])
    /// The resourceVersion at which each Route's current generation was first seen (leader's view).
    private let generationSeen = Mutex<[RouteKey: (generation: Int64, resourceVersion: Int64?)]>([:])
    /// This replica's Lease saying how far its gateway has got.
    let replicas: ReplicaReports
    /// The `kubernetes.io/tls` Secret the gateway terminates TLS with, and where its certificate goes.
    let gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)?
    private let generation = Atomic<Int64>(0)

    /// The key every change enqueues: the config is rebuilt as a whole.
    static let configKey = ObjectKey(namespace: "", name: "gateway-config")

    /// The key of the PKI loop.
    static let pkiKey = ObjectKey(namespace: "", name: "installation-pki")

    /// - Parameters:
    ///   - namespace: Watch one namespace, or all when `nil`.
    ///   - isLeader: Whether this replica may write status, Secrets and ConfigMaps now.
    ///   - credentials: This replica's token credentials; run it as a service beside this one.
    ///   - pki: Where the CA and signing keys live, and the issuer URL.
    ///   - metricsFactory: Where the controller's metrics go. Default: the process's `MetricsSystem.factory`.
    public init(
        client: KubernetesClient,
        state: GatewayState,
        namespace: String? = nil,
        isLeader: @escaping @Sendable () -> Bool = { true },
        credentials: CredentialRuntime,
        pki: PKISettings,
        identity: String = LeaderElector.defaultIdentity(),
        gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)? = nil,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.state = state
        self.namespace = namespace
        self.isLeader = isLeader
        self.logger = logger
        self.metricsFactory = metricsFactory
        servedGeneration = Gauge(label: "portcullis_gateway_config_generation", factory: metricsFactory)
        servedRoutes = Gauge(label: "portcullis_gateway_routes", factory: metricsFactory)
        self.pki = InstallationPKI(settings: pki, signing: credentials.signing, logger: logger)
        self.events = EventRecorder(
            client: client,
            configuration: .init(component: "portcullis-controller", instance: ProcessInfo.processInfo.hostName),
            logger: logger
        )
        self.upstreamAuths = UpstreamAuthReconciler(runtime: credentials, pki: self.pki, events: events, logger: logger)
        self.replicas = ReplicaReports(identity: identity, namespace: pki.namespace, logger: logger)
        self.gatewayTLS = gatewayTLS
    }

    public func run() async throws {
        let factory = SharedInformerFactory(client: client, namespace: namespace, logger: logger, metricsFactory: metricsFactory)
        let routes = factory.informer(for: Route.self)
        let auths = factory.informer(for: UpstreamAuth.self)
        let tunnels = factory.informer(for: Tunnel.self)
        let services = factory.informer(.services, as: JSONValue.self)
        let secrets = factory.informer(for: CoreV1.Secret.self)
        // The PKI's own objects, in the controller's namespace (which a one-namespace watch may not cover).
        let pkiNamespace = pki.settings.namespace
        let pkiSecrets = namespace == nil || namespace == pkiNamespace ? secrets : factory.informer(for: CoreV1.Secret.self, namespace: .some(pkiNamespace))
        let pkiConfigMaps = factory.informer(for: CoreV1.ConfigMap.self, namespace: .some(pkiNamespace))
        let replicaLeases = factory.informer(for: CoordinationV1.Lease.self, namespace: .some(pkiNamespace), labelSelector: ReplicaReports.label)
        // The gateway's own certificate, which may live outside a one-namespace watch.
        let tlsSecrets = gatewayTLS.map { namespace == nil || namespace == $0.secret.namespace ? secrets : factory.informer(for: CoreV1.Secret.self, namespace: .some($0.secret.namespace)) }
        let pkiNames: Set<String> = [
            pki.settings.caSecretName, pki.settings.signingKeysSecretName, pki.settings.trustBundleConfigMapName, pki.settings.jwksConfigMapName,
        ]

        let queue = WorkQueue<ObjectKey>(name: "gateway-config", metricsFactory: metricsFactory)
        routes.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        auths.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        tunnels.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        services.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        secrets.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        // A replica that appears, goes, or serves further changes Route readiness; a renewal alone does not.
        replicaLeases.addEventHandler(
            InformerEventHandler(
                onAdd: { _ in queue.add(Self.configKey) },
                onUpdate: { old, new in
                    let key = ReplicaReports.watermarkAnnotation
                    if old.metadata.annotations?[key] != new.metadata.annotations?[key] { queue.add(Self.configKey) }
                },
                onDelete: { _ in queue.add(Self.configKey) }
            )
        )
        if let tlsSecrets, tlsSecrets !== secrets { tlsSecrets.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] }) }
        queue.add(Self.configKey)

        let pkiQueue = WorkQueue<ObjectKey>(name: "installation-pki", metricsFactory: metricsFactory)
        let isOurs: @Sendable (ObjectMeta) -> [ObjectKey] = { meta in
            meta.namespace == pkiNamespace && pkiNames.contains(meta.name ?? "") ? [Self.pkiKey] : []
        }
        pkiSecrets.addEventHandler(.enqueue(into: pkiQueue) { isOurs($0.metadata) })
        pkiConfigMaps.addEventHandler(.enqueue(into: pkiQueue) { isOurs($0.metadata) })
        pkiQueue.add(Self.pkiKey)

        // Each UpstreamAuth, and those of a namespace whose Secrets changed (they may name one).
        let authQueue = WorkQueue<ObjectKey>(name: "upstreamauth", metricsFactory: metricsFactory)
        auths.addEventHandler(.enqueue(into: authQueue))
        secrets.addEventHandler(
            .enqueue(into: authQueue) { secret in
                auths.store.list(namespace: secret.metadata.namespace ?? "default").map(\.objectKey)
            }
        )

        let controller = Controller(
            configuration: .init(name: "gateway"),
            queue: queue,
            waitingFor: [routes, auths, tunnels, services, secrets, replicaLeases],
            logger: logger,
            metricsFactory: metricsFactory
        ) { [self] _ in
            let (references, newAlgorithms) = resolveReferences(auths: auths.store, tunnels: tunnels.store, services: services.store, secrets: secrets.store)
            if newAlgorithms { pkiQueue.add(Self.pkiKey) }
            if let gatewayTLS, let secret = tlsSecrets?.store.get(gatewayTLS.secret) { updateGatewayCertificate(from: secret) }
            let now = Date()
            let live = ReplicaReports.live(replicaLeases.store.list(), now: now)
            try await reconcile(routes: routes.store.list(), references: { references[$0] ?? RouteReferences() }, replicas: live.replicas, now: now)
            if isLeader() {
                for lease in ReplicaReports.abandoned(replicaLeases.store.list(), now: now) {
                    try? await client.resources(CoordinationV1.Lease.self).delete(lease.metadata.name ?? "", namespace: lease.metadata.namespace)
                }
            }
            // Look again when the first replica would expire, so a replica that died stops counting.
            guard isLeader(), let expiry = live.nextExpiry else { return .done }
            return .requeueAfter(.seconds(max(1, expiry.timeIntervalSince(now) + 1)))
        }
        let pkiController = Controller(
            configuration: .init(name: "installation-pki"),
            queue: pkiQueue,
            waitingFor: [pkiSecrets, pkiConfigMaps],
            logger: logger,
            metricsFactory: metricsFactory
        ) { [self] _ in
            let problemBefore = pki.signingProblem
            let (next, changed) = try await pki.reconcile(secrets: pkiSecrets.store, configMaps: pkiConfigMaps.store, client: client, isLeader: isLeader())
            // Rebuild the config only when what it takes from the PKI changed: the issuer's documents, or
            // whether JWT credentials can sign at all.
            if changed || pki.signingProblem != problemBefore { queue.add(Self.configKey) }
            // Followers look again soon: the leader may create what is missing meanwhile.
            return .requeueAfter(min(next ?? .seconds(3600), isLeader() ? .seconds(3600) : .seconds(5)))
        }
        let authController = Controller(
            configuration: .init(name: "upstreamauth"),
            queue: authQueue,
            waitingFor: [auths, secrets],
            logger: logger,
            metricsFactory: metricsFactory
        ) { [self] key in
            guard isLeader(), let auth = auths.store.get(key), auth.metadata.deletionTimestamp == nil else { return .done }
            return try await upstreamAuths.reconcile(auth, secrets: secrets.store, client: client)
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await factory.run() }
            group.addTask { try await controller.run() }
            group.addTask { try await pkiController.run() }
            group.addTask { try await authController.run() }
            group.addTask { try await self.events.run() }
            group.addTask {
                // They only report, so they have nothing to finish: they end at once on graceful shutdown.
                do {
                    try await cancelWhenGracefulShutdown { try await self.reportCircuitBreakers(routes: routes.store) }
                } catch is CancellationError {}
            }
            group.addTask {
                do {
                    try await cancelWhenGracefulShutdown { try await self.replicas.run(client: self.client) }
                } catch is CancellationError {}
                await self.replicas.withdraw(client: self.client)
            }
            group.addTask {
                // Followers reconcile without writing; a replica that becomes leader writes what they left.
                do {
                    try await cancelWhenGracefulShutdown {
                        var leading = false
                        while !Task.isCancelled {
                            try await Task.sleep(for: .seconds(1))
                            let now = self.isLeader()
                            if now && !leading {
                                queue.add(Self.configKey)
                                pkiQueue.add(Self.pkiKey)
                                for key in auths.store.keys { authQueue.add(key) }
                            }
                            leading = now
                        }
                    }
                } catch is CancellationError {}
            }
        }
    }

    /// Serves the certificate in the gateway's TLS Secret to new connections, if it changed; one that
    /// cannot be used is logged and the current one stays.
    func updateGatewayCertificate(from secret: CoreV1.Secret) {
        guard let gatewayTLS else { return }
        guard let certificate = secret.data?["tls.crt"], let key = secret.data?["tls.key"] else {
            logger.error("the gateway's TLS Secret has no tls.crt or tls.key", metadata: ["secret": "\(gatewayTLS.secret)"])
            return
        }
        do {
            if try gatewayTLS.tls.update(certificateChainPEM: String(decoding: certificate, as: UTF8.self), privateKeyPEM: String(decoding: key, as: UTF8.self)) {
                logger.info("the gateway serves a new TLS certificate", metadata: ["secret": "\(gatewayTLS.secret)"])
            }
        } catch {
            logger.error("the gateway's TLS Secret cannot be used; the current certificate stays", metadata: ["secret": "\(gatewayTLS.secret)", "error": "\(error)"])
        }
    }

    /// Writes each route's circuit breaker into its status when the breaker's state or trip count
    /// changed. Looked at every second: a transition reaches status within about a second, and a
    /// Route gets at most one such write a second. (The failure rate is written with them, not on
    /// its own: it moves with every request.)
    func reportCircuitBreakers(routes: Store<Route>) async throws {
        struct Written: Equatable {
            var state: CircuitBreakerStatus.State
            var trips: Int64
        }
        var written: [RouteKey: Written] = [:]
        let client = self.client.resources(Route.self)
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            guard isLeader() else {
                written = [:]
                continue
            }
            for (key, report) in state.circuitBreakers() {
                let status = CircuitBreakerStatus(
                    state: Self.breakerState(report.state),
                    since: RFC3339.string(from: report.since),
                    failureRate: report.failureRatePercent,
                    trips: report.trips
                )
                let now = Written(state: status.state, trips: report.trips)
                if written[key] == nil, let current = routes.get(namespace: key.namespace, name: key.name)?.status?.circuitBreaker,
                    Written(state: current.state, trips: current.trips ?? 0) == now
                {
                    written[key] = now
                }
                guard written[key] != now else { continue }
                do {
                    _ = try await client.patch(key.name, namespace: key.namespace, .merge(["status": ["circuitBreaker": try JSONValue(encoding: status)]]), subresource: "status")
                    written[key] = now
                    if let route = routes.get(namespace: key.namespace, name: key.name) {
                        events.record(
                            status.state == .closed ? .normal : .warning,
                            reason: "CircuitBreaker\(status.state.rawValue)",
                            message: "the circuit breaker for \(route.spec.upstream.url ?? route.spec.upstream.service?.name ?? "the upstream") is \(status.state.rawValue) (failure rate \(report.failureRatePercent)%, \(report.trips) trips)",
                            about: CoreV1.ObjectReference(route)
                        )
                    }
                } catch let error as KubernetesError where error.code == .notFound {
                    written[key] = nil
                }
            }
        }
    }

    static func breakerState(_ state: CircuitBreakerState) -> CircuitBreakerStatus.State {
        switch state {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }

    /// Rebuilds the config from `routes`, serves it, and writes each changed status.
    ///
    /// - Parameter replicas: The live gateway replicas and how far each has got (``ReplicaReports``).
    func reconcile(routes: [Route], references: (String) -> RouteReferences, replicas: [String: Int64?], now: Date = Date()) async throws {
        var configs: [RouteConfig] = []
        var statuses: [(Route, [Condition], ReplicaCounts?)] = []
        var good = lastGood.withLock { $0 }
        let issuer = pki.issuerDocuments
        var live = Set<RouteKey>()
        var watermark: Int64 = 0
        var seen = generationSeen.withLock { $0 }
        for route in routes where route.metadata.deletionTimestamp == nil {
            let namespace = route.metadata.namespace ?? "default"
            let key = RouteKey(namespace: namespace, name: route.metadata.name ?? "")
            live.insert(key)
            let generation = route.metadata.generation ?? 1
            var conditions = route.status?.conditions ?? []
            func set(_ type: String, _ status: Condition.Status, _ reason: String, _ message: String) {
                conditions = ConditionList.setting(type, to: status, reason: reason, message: message, observedGeneration: generation, in: conditions, now: now)
            }
            let resourceVersion = route.metadata.resourceVersion.flatMap { Int64($0) }
            watermark = max(watermark, resourceVersion ?? 0)
            if seen[key]?.generation != generation { seen[key] = (generation, resourceVersion) }
            var counts: ReplicaCounts?
            switch RouteTranslator.translate(route, references: references(namespace)) {
            case .serve(let config):
                good[key] = config
                configs.append(config)
                set("Accepted", .true, "Accepted", "the spec is valid")
                set("ResolvedRefs", .true, "ResolvedRefs", "every reference resolves")
                let firstSeen = seen[key]?.resourceVersion
                let ready = replicas.values.filter { reported in
                    guard let firstSeen, let reported else { return true }
                    return reported >= firstSeen
                }.count
                counts = ReplicaCounts(ready: ready, total: replicas.count)
                if ready == replicas.count && ready > 0 {
                    set("Ready", .true, "Serving", "\(ready == 1 ? "the gateway replica serves" : "all \(ready) gateway replicas serve") generation \(generation)")
                } else {
                    set("Ready", .false, "Propagating", "\(ready) of \(replicas.count) gateway replicas serve generation \(generation)")
                }
            case .invalid(let errors):
                set("Accepted", .false, "Invalid", errors.map(\.description).joined(separator: "; "))
                set("ResolvedRefs", .unknown, "Invalid", "references are resolved once the spec is valid")
                stale(key, &good, &configs, set)
            case .unresolved(let problems):
                set("Accepted", .true, "Accepted", "the spec is valid")
                set("ResolvedRefs", .false, "RefNotResolved", problems.joined(separator: "; "))
                stale(key, &good, &configs, set)
            }
            statuses.append((route, conditions, counts))
        }
        good = good.filter { live.contains($0.key) }
        lastGood.withLock { $0 = good }
        generationSeen.withLock { $0 = seen.filter { live.contains($0.key) } }
        state.apply(GatewayConfig(generation: generation.add(1, ordering: .relaxed).newValue, routes: configs, issuer: issuer))
        self.replicas.applied(upTo: watermark)
        servedGeneration.record(state.generation)
        servedRoutes.record(configs.count)

        guard isLeader() else { return }
        let client = self.client.resources(Route.self)
        let served = Dictionary(configs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (route, conditions, counts) in statuses {
            let current = route.status?.conditions ?? []
            guard current != conditions || route.status?.observedGeneration != route.metadata.generation || counts != route.status?.replicas else { continue }
            Self.recordTransitions(from: current, to: conditions, of: CoreV1.ObjectReference(route), events: events)
            var status: JSONValue = ["observedGeneration": .integer(route.metadata.generation ?? 1), "conditions": try JSONValue(encoding: conditions)]
            if let config = served[RouteKey(namespace: route.metadata.namespace ?? "default", name: route.metadata.name ?? "")] {
                status["upstream"] = .string(config.upstream.description)
            }
            status["replicas"] = try counts.map { try JSONValue(encoding: $0) } ?? .null
            do {
                _ = try await client.patch(route.metadata.name ?? "", namespace: route.metadata.namespace, .merge(["status": status]), subresource: "status")
            } catch let error as KubernetesError where error.code == .notFound {
                continue  // deleted meanwhile
            }
        }
    }

    /// Records an Event for each condition whose status flipped: Normal when it became True, else Warning.
    static func recordTransitions(from old: [Condition], to new: [Condition], of object: CoreV1.ObjectReference, events: EventRecorder) {
        for condition in new where old.first(where: { $0.type == condition.type })?.status != condition.status {
            guard condition.status != .unknown else { continue }
            events.record(condition.status == .true ? .normal : .warning, reason: condition.reason, message: "\(condition.type): \(condition.message)", about: object)
        }
    }

    /// Keeps serving a Route's last good version when its current one cannot be served.
    private func stale(
        _ key: RouteKey,
        _ good: inout [RouteKey: RouteConfig],
        _ configs: inout [RouteConfig],
        _ set: (String, Condition.Status, String, String) -> Void
    ) {
        if let previous = good[key] {
            configs.append(previous)
            set("Ready", .false, "ServingPreviousGeneration", "the gateway keeps serving generation \(previous.generation); this generation cannot be served")
        } else {
            set("Ready", .false, "NotServed", "the gateway does not serve this Route")
        }
    }

    /// What the Routes of each namespace can refer to, from the caches; UpstreamAuths resolved to
    /// running credentials and client certificates.
    ///
    /// - Returns: The references by namespace, and whether an UpstreamAuth needs a signing algorithm
    ///   the key ring does not keep yet.
    func resolveReferences(
        auths: Store<UpstreamAuth>,
        tunnels: Store<Tunnel>,
        services: Store<JSONValue>,
        secrets: Store<CoreV1.Secret>
    ) -> (references: [String: RouteReferences], newAlgorithms: Bool) {
        var references: [String: RouteReferences] = [:]
        for secret in secrets.list() {
            references[secret.metadata.namespace ?? "default", default: RouteReferences()].secrets[secret.metadata.name ?? ""] = secret.data ?? [:]
        }
        for service in services.list() {
            let namespace = service.metadata.namespace ?? "default"
            let name = service.metadata.name ?? ""
            let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
            var ports: Set<Int> = []
            var appProtocols: [Int: String] = [:]
            for port in service[path: ["spec", "ports"]]?.arrayValue ?? [] {
                guard let number = port["port"]?.integerValue.map(Int.init) else { continue }
                ports.insert(number)
                if let appProtocol = port["appProtocol"]?.stringValue { appProtocols[number] = appProtocol }
            }
            references[namespace, default: RouteReferences()].services[name] = .init(
                host: clusterIP ?? "\(name).\(namespace).svc",
                ports: ports,
                appProtocols: appProtocols
            )
        }
        for tunnel in tunnels.list() {
            let ready = tunnel.status?.conditions?.contains { $0.type == "Ready" && $0.status == .true } ?? false
            references[tunnel.metadata.namespace ?? "default", default: RouteReferences()].tunnels[tunnel.metadata.name ?? ""] = ready
        }
        let allAuths = auths.list().filter { $0.metadata.deletionTimestamp == nil }
        var algorithms: Set<SigningKey.Algorithm> = []
        for auth in allAuths {
            let namespace = auth.metadata.namespace ?? "default"
            let (resolved, needed) = upstreamAuths.resolve(auth, secrets: references[namespace]?.secrets ?? [:])
            references[namespace, default: RouteReferences()].upstreamAuths[auth.metadata.name ?? ""] = resolved
            algorithms.formUnion(needed)
        }
        upstreamAuths.retain(allAuths)
        return (references, pki.require(algorithms))
    }
}
