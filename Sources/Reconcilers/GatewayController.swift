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

/// Watches Routes and everything they refer to, keeps the gateway's config up to date from the
/// caches, swaps it into the gateway, and reports each Route's conditions in its status.
///
/// Every change enqueues the same key, so a burst of changes costs one pass; ``RouteChanges`` says
/// what changed, so a pass translates only those Routes and rebuilds the config only when what the
/// gateway serves changed. A Route that becomes invalid or unresolvable keeps its last good version
/// serving, and its status says so. Only the leader writes status.
///
/// Beside the config it runs three more loops on the same caches: the installation's PKI (CA and
/// signing keys in Secrets, see ``InstallationPKI``), each UpstreamAuth's certificate and status
/// (``UpstreamAuthReconciler``), and the lookups of referenced Secrets the cache does not hold
/// (``SecretReferences``).
///
/// Secrets are cached only when labelled ``SecretLabel/key`` (not the installation's), plus every Secret of the
/// controller's own namespace (the PKI's, and an admin's CA, which may not be labelled) and the gateway's TLS
/// Secret by name: never every Secret of the cluster.
///
/// Besides the runtime's metrics (controllers and queues `gateway`/`gateway-config`,
/// `installation-pki`, `upstreamauth` and `secret-references`, one informer per watched resource), it records the gauges
/// `portcullis_gateway_config_generation` (the generation of the config the gateway serves) and
/// `portcullis_gateway_routes` (how many routes it serves).
public final class GatewayController: Service, Sendable {
    let client: KubernetesClient
    let state: GatewayState
    let namespace: String?
    let isLeader: @Sendable () -> Bool
    let logger: Logger
    let pki: InstallationPKI
    /// What the cluster admin lets cross a namespace.
    let tenancy: TenancyPolicy
    let upstreamAuths: UpstreamAuthReconciler
    let metricsFactory: any MetricsFactory
    let servedGeneration: Gauge
    let servedRoutes: Gauge
    /// Events on condition transitions, written by the leader.
    let events: EventRecorder
    /// What the informers reported since the config worker's last pass.
    let routeChanges = RouteChanges()
    /// The Routes as last translated, carried between the config worker's passes (only it touches them).
    let routeState = Mutex(RouteState())
    /// This replica's Lease saying how far its gateway has got.
    let replicas: ReplicaReports
    /// The `kubernetes.io/tls` Secret the gateway terminates TLS with, and where its certificate goes.
    let gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)?
    /// Shares breaker transitions with the replicas the Leases name; `nil` keeps every breaker local.
    let breakerExchange: BreakerExchange?
    let generation = Atomic<Int64>(0)
    /// Gives back the memory rebuilds free.
    let heapTrimmer = HeapTrimmer()

    /// The key every change enqueues; ``routeChanges`` says what changed.
    static let configKey = ObjectKey(namespace: "", name: "gateway-config")

    /// The key of the PKI loop.
    static let pkiKey = ObjectKey(namespace: "", name: "installation-pki")

    /// Why referenced Secrets the cache does not hold cannot be read.
    let secretReferences = SecretReferences()
    /// How those are looked up.
    let secretLookup: SecretLookupConfiguration

    /// - Parameters:
    ///   - namespace: Watch one namespace, or all when `nil`.
    ///   - isLeader: Whether this replica may write status, Secrets and ConfigMaps now.
    ///   - credentials: This replica's token credentials; run it as a service beside this one.
    ///   - pki: Where the CA and signing keys live, and the issuer URL.
    ///   - tenancy: What the cluster admin lets cross a namespace (docs/security.md); the default allows
    ///     nothing beyond the built-in token endpoints.
    ///   - identity: This replica's identity in its Lease; the breaker exchange's, when there is one.
    ///   - breakerExchange: Shares breaker transitions with the other replicas: this controller finds them
    ///     through their Leases, loads the peer certificate into it, and runs it.
    ///   - peerAddress: `host:port` where the other replicas reach this one's admin port (its Lease says so).
    ///   - secretLookup: How referenced Secrets without the `portcullis.io/secret` label are looked up for conditions.
    ///   - metricsFactory: Where the controller's metrics go. Default: the process's `MetricsSystem.factory`.
    public init(
        client: KubernetesClient,
        state: GatewayState,
        namespace: String? = nil,
        isLeader: @escaping @Sendable () -> Bool = { true },
        credentials: CredentialRuntime,
        pki: PKISettings,
        tenancy: TenancyPolicy = TenancyPolicy(),
        identity: String = LeaderElector.defaultIdentity(),
        gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)? = nil,
        breakerExchange: BreakerExchange? = nil,
        peerAddress: String? = nil,
        secretLookup: SecretLookupConfiguration = SecretLookupConfiguration(),
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
        self.pki = InstallationPKI(settings: pki, signing: credentials.signing, peerTLS: breakerExchange?.tls, logger: logger)
        self.events = EventRecorder(
            client: client,
            configuration: .init(component: "portcullis-controller", instance: ProcessInfo.processInfo.hostName),
            logger: logger
        )
        self.tenancy = tenancy
        self.upstreamAuths = UpstreamAuthReconciler(runtime: credentials, pki: self.pki, tenancy: tenancy, events: events, logger: logger)
        self.replicas = ReplicaReports(
            identity: breakerExchange?.identity ?? identity, namespace: pki.namespace, peerAddress: peerAddress,
            breakers: { [state] in state.breakersNotClosed() }, logger: logger
        )
        self.gatewayTLS = gatewayTLS
        self.breakerExchange = breakerExchange
        self.secretLookup = secretLookup
    }

    public func run() async throws {
        let factory = SharedInformerFactory(client: client, namespace: namespace, logger: logger, metricsFactory: metricsFactory)
        let routes = factory.informer(for: Route.self)
        let auths = factory.informer(for: UpstreamAuth.self)
        let tunnels = factory.informer(for: Tunnel.self)
        let services = factory.informer(.services, as: JSONValue.self)
        // The Secrets references may resolve to: labelled, and not the installation's.
        let secrets = factory.informer(for: CoreV1.Secret.self, labelSelector: SecretLabel.referenceableSelector)
        // The PKI's own objects, in the controller's namespace: every Secret there, labelled or not.
        let pkiNamespace = pki.settings.namespace
        let pkiSecrets = factory.informer(for: CoreV1.Secret.self, namespace: .some(pkiNamespace))
        let pkiConfigMaps = factory.informer(for: CoreV1.ConfigMap.self, namespace: .some(pkiNamespace))
        let replicaLeases = factory.informer(for: CoordinationV1.Lease.self, namespace: .some(pkiNamespace), labelSelector: ReplicaReports.label)
        // The gateway's own certificate: from the controller's namespace, or that one Secret by name.
        let tlsSecrets = gatewayTLS.map {
            $0.secret.namespace == pkiNamespace
                ? pkiSecrets
                : factory.informer(for: CoreV1.Secret.self, namespace: .some($0.secret.namespace), fieldSelector: "metadata.name=\($0.secret.name)")
        }
        let pkiNames: Set<String> = [
            pki.settings.caSecretName, pki.settings.signingKeysSecretName, pki.settings.trustBundleConfigMapName, pki.settings.jwksConfigMapName,
            pki.settings.peerCASecretName, pki.settings.peerSecretName,
        ]

        let queue = WorkQueue<ObjectKey>(name: "gateway-config", metricsFactory: metricsFactory)
        let changes = routeChanges
        routes.store.addIndex(RouteReference.index, RouteReference.indexValues(of:))
        let wake: @Sendable () -> Void = { queue.add(Self.configKey) }
        routes.addEventHandler(changes.routeHandler(then: wake))
        auths.addEventHandler(changes.referenceHandler(.upstreamAuth, routes: routes.store, then: wake))
        tunnels.addEventHandler(changes.referenceHandler(.tunnel, routes: routes.store, then: wake))
        services.addEventHandler(changes.referenceHandler(.service, routes: routes.store, then: wake))
        secrets.addEventHandler(changes.referenceHandler(.secret, routes: routes.store, then: wake))
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
        if let breakerExchange {
            // Every renewal too: a replica whose Lease expired drops out at the next event.
            let findPeers: @Sendable () -> Void = { [replicas, logger] in
                breakerExchange.updatePeers(ReplicaReports.peers(replicaLeases.store.list(), now: Date(), excluding: replicas.identity, logger: logger))
            }
            replicaLeases.addEventHandler(InformerEventHandler(onAdd: { _ in findPeers() }, onUpdate: { _, _ in findPeers() }, onDelete: { _ in findPeers() }))
        }
        if let tlsSecrets, let gatewayTLS {
            tlsSecrets.addEventHandler(.enqueue(into: queue) { $0.objectKey == gatewayTLS.secret ? [Self.configKey] : [] })
        }
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
            let caches = RouteCaches(routes: routes.store, upstreamAuths: auths.store, tunnels: tunnels.store, services: services.store, secrets: secrets.store)
            if let gatewayTLS, let secret = tlsSecrets?.store.get(gatewayTLS.secret) { updateGatewayCertificate(from: secret) }
            let now = Date()
            let live = ReplicaReports.live(replicaLeases.store.list(), now: now)
            let (pkiNeedsReconcile, statusesLeft) = try await reconcileRoutes(changes.take(), caches: caches, replicas: live.replicas, now: now)
            if pkiNeedsReconcile { pkiQueue.add(Self.pkiKey) }
            if isLeader() {
                for lease in ReplicaReports.abandoned(replicaLeases.store.list(), now: now) {
                    try? await client.resources(CoordinationV1.Lease.self).delete(lease.metadata.name ?? "", namespace: lease.metadata.namespace)
                }
            }
            if statusesLeft { return .requeueAfter(.zero) }
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
            if pki.signingProblem != problemBefore { changes.record { $0.allUpstreamAuths = true } }
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
            return try await upstreamAuths.reconcile(
                auth, secrets: secrets.store, unreadableSecrets: secretReferences.problems(in: key.namespace), client: client
            )
        }
        // Referenced Secrets the cache does not hold: why not, for the conditions (SecretReferences).
        let (lookupController, lookUpAll) = makeSecretLookups(routes: routes, auths: auths, secrets: secrets) { key in
            changes.record { pending in
                let value = RouteReference.indexValue(.secret, namespace: key.namespace, name: key.name)
                for route in routes.store.keys(byIndex: RouteReference.index, value: value) {
                    pending.routes.insert(RouteKey(namespace: route.namespace, name: route.name))
                }
                pending.upstreamAuthNamespaces.insert(key.namespace)
            }
            queue.add(Self.configKey)
            for auth in auths.store.keys(byIndex: Store<UpstreamAuth>.namespaceIndex, value: key.namespace) { authQueue.add(auth) }
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await factory.run() }
            group.addTask { try await controller.run() }
            group.addTask { try await pkiController.run() }
            group.addTask { try await authController.run() }
            group.addTask { try await lookupController.run() }
            group.addTask { try await self.events.run() }
            if let breakerExchange {
                // Transitions in flight are not worth waiting for: peers keep their own state.
                group.addTask { await cancelWhenGracefulShutdown { await breakerExchange.run() } }
            }
            // These only report or tidy up, so they have nothing to finish: they end at once on graceful shutdown.
            group.addTask { try await Self.untilGracefulShutdown { try await self.heapTrimmer.run() } }
            group.addTask { try await Self.untilGracefulShutdown { try await self.reportCircuitBreakers(routes: routes.store, replicaLeases: replicaLeases.store) } }
            group.addTask {
                try await Self.untilGracefulShutdown { try await self.replicas.run(client: self.client) }
                await self.replicas.withdraw(client: self.client)
            }
            group.addTask {
                // Followers reconcile without writing; a replica that becomes leader writes what they left.
                try await Self.untilGracefulShutdown {
                    var leading = false
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(1))
                        let now = self.isLeader()
                        if now && !leading {
                            changes.record { $0.allStatuses = true }
                            queue.add(Self.configKey)
                            pkiQueue.add(Self.pkiKey)
                            for key in auths.store.keys { authQueue.add(key) }
                            lookUpAll()
                        }
                        leading = now
                    }
                }
            }
        }
    }

    /// Runs `loop` until it ends or graceful shutdown begins, which cancels it; that cancellation is
    /// the loop's normal end, not an error.
    static func untilGracefulShutdown(_ loop: @escaping @Sendable () async throws -> Void) async throws {
        do {
            try await cancelWhenGracefulShutdown(loop)
        } catch is CancellationError {}
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
    /// changed, or how many replicas have it open or half-open. Looked at every second: a transition
    /// reaches status within about a second, and a Route gets at most one such write a second. (The
    /// failure rate is written with them, not on its own: it moves with every request.)
    ///
    /// The other replicas' breakers come from their Leases (``ReplicaBreakerReport``), the leader's from
    /// its gateway. `replicas` is written only while some replica's breaker is not Closed, so a replica
    /// that comes or goes does not rewrite the status of every Route whose breakers are all Closed.
    func reportCircuitBreakers(routes: Store<Route>, replicaLeases: Store<CoordinationV1.Lease>) async throws {
        struct Written: Equatable {
            var state: CircuitBreakerStatus.State
            var trips: Int64
            var openReplicas: Int
            var halfOpenReplicas: Int
            var replicas: Int?
            var unreportedReplicas: Int?

            init(_ status: CircuitBreakerStatus) {
                state = status.state
                trips = status.trips ?? 0
                openReplicas = status.openReplicas ?? 0
                halfOpenReplicas = status.halfOpenReplicas ?? 0
                replicas = status.replicas
                unreportedReplicas = status.unreportedReplicas
            }
        }
        var written: [RouteKey: Written] = [:]
        var reportCache: [String: (annotation: String, report: ReplicaBreakerReport?)] = [:]
        let client = self.client.resources(Route.self)
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            guard isLeader() else {
                written = [:]
                continue
            }
            let others = ReplicaReports.breakerReports(replicaLeases.list(), now: Date(), excluding: replicas.identity, cache: &reportCache, logger: logger)
            for (key, report) in state.circuitBreakers() {
                var status = CircuitBreakerStatus(
                    state: Self.breakerState(report.state),
                    since: RFC3339.string(from: report.since),
                    failureRate: report.failureRatePercent,
                    trips: report.trips
                )
                Self.countReplicas(of: key, leader: report.state, others: others, into: &status)
                let now = Written(status)
                if written[key] == nil, let current = routes.get(namespace: key.namespace, name: key.name)?.status?.circuitBreaker, Written(current) == now {
                    written[key] = now
                }
                guard written[key] != now else { continue }
                do {
                    var encoded = try JSONValue(encoding: status)
                    // A merge patch keeps what it does not mention: say that these are gone.
                    if status.replicas == nil { encoded["replicas"] = .null }
                    if status.unreportedReplicas == nil { encoded["unreportedReplicas"] = .null }
                    _ = try await client.patch(key.name, namespace: key.namespace, .merge(["status": ["circuitBreaker": encoded]]), subresource: "status")
                    let before = written[key]
                    written[key] = now
                    guard before?.state != now.state || before?.trips != now.trips else { continue }
                    if let route = routes.get(namespace: key.namespace, name: key.name) {
                        let source = report.changedBy.map { ", following peer replica \($0)" } ?? ""
                        events.record(
                            status.state == .closed ? .normal : .warning,
                            reason: "CircuitBreaker\(status.state.rawValue)",
                            message: "the circuit breaker for \(route.spec.upstream.url ?? route.spec.upstream.service?.name ?? "the upstream") is \(status.state.rawValue) (failure rate \(report.failureRatePercent)%, \(report.trips) trips\(source))",
                            about: CoreV1.ObjectReference(route)
                        )
                    }
                } catch let error as KubernetesError where error.code == .notFound {
                    written[key] = nil
                }
            }
        }
    }

    /// Sets how many replicas have `route`'s breaker open or half-open: the leader's own `leader` state and
    /// the `others`' reports. `replicas` only while one is not Closed; `unreportedReplicas` only when a report
    /// was cut off before the route.
    static func countReplicas(of route: RouteKey, leader: CircuitBreakerState, others: [String: ReplicaBreakerReport], into status: inout CircuitBreakerStatus) {
        var open = leader == .open ? 1 : 0
        var halfOpen = leader == .halfOpen ? 1 : 0
        var unreported = 0
        for report in others.values {
            switch report.entry(route) {
            case .known(.open): open += 1
            case .known(.halfOpen): halfOpen += 1
            case .known(.closed): break
            case .unknown: unreported += 1
            }
        }
        status.openReplicas = open
        status.halfOpenReplicas = halfOpen
        status.replicas = open + halfOpen > 0 ? 1 + others.count : nil
        status.unreportedReplicas = unreported > 0 ? unreported : nil
    }

    static func breakerState(_ state: CircuitBreakerState) -> CircuitBreakerStatus.State {
        switch state {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }

    /// Records an Event for each condition whose status flipped: Normal when it became True, else Warning.
    static func recordTransitions(from old: [Condition], to new: [Condition], of object: CoreV1.ObjectReference, events: EventRecorder) {
        for condition in new where old.first(where: { $0.type == condition.type })?.status != condition.status {
            guard condition.status != .unknown else { continue }
            events.record(condition.status == .true ? .normal : .warning, reason: condition.reason, message: "\(condition.type): \(condition.message)", about: object)
        }
    }
}
