public import Gateway
public import KubernetesClient
public import Logging
public import Metrics
public import ServiceLifecycle
import Foundation
import Kubernetes
import PortcullisAPI
import Synchronization

/// Watches Routes and everything they refer to, builds the gateway's whole config from the caches,
/// swaps it into the gateway, and reports each Route's conditions in its status.
///
/// Every change enqueues the same key, so a burst of changes costs one rebuild. A Route that
/// becomes invalid or unresolvable keeps its last good version serving, and its status says so.
/// Only the leader writes status.
///
/// Besides the runtime's metrics (queue `gateway-config`, controller `gateway`, one informer per
/// watched resource), it records the gauges `portcullis_gateway_config_generation` (the generation of
/// the config the gateway serves) and `portcullis_gateway_routes` (how many routes it serves).
public final class GatewayController: Service, Sendable {
    let client: KubernetesClient
    let state: GatewayState
    let namespace: String?
    let isLeader: @Sendable () -> Bool
    let logger: Logger
    let metricsFactory: any MetricsFactory
    private let servedGeneration: Gauge
    private let servedRoutes: Gauge
    private let lastGood = Mutex<[RouteKey: RouteConfig]>([:])
    private let generation = Atomic<Int64>(0)

    /// The key every change enqueues: the config is rebuilt as a whole.
    static let configKey = ObjectKey(namespace: "", name: "gateway-config")

    /// - Parameters:
    ///   - namespace: Watch one namespace, or all when `nil`.
    ///   - isLeader: Whether this replica may write status now.
    ///   - metricsFactory: Where the controller's metrics go. Default: the process's `MetricsSystem.factory`.
    public init(
        client: KubernetesClient,
        state: GatewayState,
        namespace: String? = nil,
        isLeader: @escaping @Sendable () -> Bool = { true },
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
    }

    public func run() async throws {
        let factory = SharedInformerFactory(client: client, namespace: namespace, logger: logger, metricsFactory: metricsFactory)
        let routes = factory.informer(for: Route.self)
        let auths = factory.informer(for: UpstreamAuth.self)
        let tunnels = factory.informer(for: Tunnel.self)
        let services = factory.informer(.services, as: JSONValue.self)
        let secrets = factory.informer(for: CoreV1.Secret.self)
        let queue = WorkQueue<ObjectKey>(name: "gateway-config", metricsFactory: metricsFactory)
        routes.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        auths.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        tunnels.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        services.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        secrets.addEventHandler(.enqueue(into: queue) { _ in [Self.configKey] })
        queue.add(Self.configKey)
        let controller = Controller(
            configuration: .init(name: "gateway"),
            queue: queue,
            waitingFor: [routes, auths, tunnels, services, secrets],
            logger: logger,
            metricsFactory: metricsFactory
        ) { [self] _ in
            try await reconcile(
                routes: routes.store.list(),
                references: { namespace in
                    Self.references(namespace: namespace, auths: auths.store, tunnels: tunnels.store, services: services.store, secrets: secrets.store)
                }
            )
            return .done
        }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await factory.run() }
            group.addTask { try await controller.run() }
        }
    }

    /// Rebuilds the config from `routes`, serves it, and writes each changed status.
    func reconcile(routes: [Route], references: (String) -> RouteReferences) async throws {
        var configs: [RouteConfig] = []
        var statuses: [(Route, [Condition])] = []
        var good = lastGood.withLock { $0 }
        var live = Set<RouteKey>()
        let now = Date()
        for route in routes where route.metadata.deletionTimestamp == nil {
            let namespace = route.metadata.namespace ?? "default"
            let key = RouteKey(namespace: namespace, name: route.metadata.name ?? "")
            live.insert(key)
            let generation = route.metadata.generation ?? 1
            var conditions = route.status?.conditions ?? []
            func set(_ type: String, _ status: Condition.Status, _ reason: String, _ message: String) {
                conditions = ConditionList.setting(type, to: status, reason: reason, message: message, observedGeneration: generation, in: conditions, now: now)
            }
            switch RouteTranslator.translate(route, references: references(namespace)) {
            case .serve(let config):
                good[key] = config
                configs.append(config)
                set("Accepted", .true, "Accepted", "the spec is valid")
                set("ResolvedRefs", .true, "ResolvedRefs", "every reference resolves")
                set("Ready", .true, "Serving", "the gateway serves generation \(generation)")
            case .invalid(let errors):
                set("Accepted", .false, "Invalid", errors.map(\.description).joined(separator: "; "))
                set("ResolvedRefs", .unknown, "Invalid", "references are resolved once the spec is valid")
                stale(key, &good, &configs, set)
            case .unresolved(let problems):
                set("Accepted", .true, "Accepted", "the spec is valid")
                set("ResolvedRefs", .false, "RefNotResolved", problems.joined(separator: "; "))
                stale(key, &good, &configs, set)
            }
            statuses.append((route, conditions))
        }
        good = good.filter { live.contains($0.key) }
        lastGood.withLock { $0 = good }
        state.apply(GatewayConfig(generation: generation.add(1, ordering: .relaxed).newValue, routes: configs))
        servedGeneration.record(state.generation)
        servedRoutes.record(configs.count)

        guard isLeader() else { return }
        let client = self.client.resources(Route.self)
        let served = Dictionary(configs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (route, conditions) in statuses {
            let current = route.status?.conditions ?? []
            guard current != conditions || route.status?.observedGeneration != route.metadata.generation else { continue }
            var status: JSONValue = ["observedGeneration": .integer(route.metadata.generation ?? 1), "conditions": try JSONValue(encoding: conditions)]
            if let config = served[RouteKey(namespace: route.metadata.namespace ?? "default", name: route.metadata.name ?? "")] {
                status["upstream"] = .string(config.upstream.description)
            }
            do {
                _ = try await client.patch(route.metadata.name ?? "", namespace: route.metadata.namespace, .merge(["status": status]), subresource: "status")
            } catch let error as KubernetesError where error.code == .notFound {
                continue  // deleted meanwhile
            }
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

    /// What the Routes of `namespace` can refer to, from the caches.
    static func references(
        namespace: String,
        auths: Store<UpstreamAuth>,
        tunnels: Store<Tunnel>,
        services: Store<JSONValue>,
        secrets: Store<CoreV1.Secret>
    ) -> RouteReferences {
        var references = RouteReferences()
        for auth in auths.list(namespace: namespace) {
            // Applying credentials on the request path is not built yet: a Route that needs an
            // UpstreamAuth is not served without it.
            references.upstreamAuths[auth.metadata.name ?? ""] = "cannot be applied: upstream credentials are not built into the gateway yet"
        }
        for tunnel in tunnels.list(namespace: namespace) {
            let ready = tunnel.status?.conditions?.contains { $0.type == "Ready" && $0.status == .true } ?? false
            references.tunnels[tunnel.metadata.name ?? ""] = ready
        }
        for service in services.list(namespace: namespace) {
            let name = service.metadata.name ?? ""
            let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
            let ports = Set((service[path: ["spec", "ports"]]?.arrayValue ?? []).compactMap { $0["port"]?.integerValue.map(Int.init) })
            references.services[name] = .init(host: clusterIP ?? "\(name).\(namespace).svc", ports: ports)
        }
        for secret in secrets.list(namespace: namespace) {
            references.secrets[secret.metadata.name ?? ""] = secret.data ?? [:]
        }
        return references
    }
}
