public import Foundation
import IPAddresses
public import Resilience
public import CoreMetrics
import Synchronization

/// The config the gateway serves, swapped atomically: a request reads the current router once, at
/// its start, and finishes on it even if a new config arrives meanwhile. A swap never waits for
/// requests, and requests never wait for a swap beyond a pointer's worth of lock.
public final class GatewayState: Sendable {
    final class Snapshot: Sendable {
        let router: Router
        let generation: Int64
        let routeGenerations: [RouteKey: Int64]
        let policies: [RouteKey: RoutePolicies]
        let issuer: IssuerDocuments?
        let destinations: DestinationPolicy

        /// A snapshot of `config`, keeping the breakers and bulkheads of `previous` whose settings did not change.
        init(_ config: GatewayConfig, previous: Snapshot?, metricsFactory: any MetricsFactory, outbox: BreakerTransitionOutbox) {
            router = Router(routes: config.routes)
            generation = config.generation
            issuer = config.issuer
            destinations = config.destinations
            routeGenerations = Dictionary(config.routes.map { ($0.key, $0.generation) }, uniquingKeysWith: { first, _ in first })
            var policies: [RouteKey: RoutePolicies] = [:]
            for route in config.routes {
                let settings = RoutePolicies.Settings(circuitBreaker: route.circuitBreaker, bulkhead: route.bulkhead, retry: route.retry)
                if let kept = previous?.policies[route.key], kept.settings == settings {
                    policies[route.key] = kept
                } else {
                    policies[route.key] = RoutePolicies(
                        route: route.key, settings,
                        metrics: previous?.policies[route.key]?.metrics ?? RouteMetrics(route: route.key, factory: metricsFactory),
                        outbox: outbox
                    )
                }
            }
            self.policies = policies
        }
    }

    private let current: Mutex<Snapshot>
    /// Serialises swaps, so that each new snapshot is built from the one it replaces.
    private let swapLock = Mutex(())
    private let applied: Mutex<Bool>

    /// Where the routes' request metrics and the upstream pools' connection metrics go.
    let metricsFactory: any MetricsFactory
    /// The transitions of shared breakers, on their way to the ``BreakerExchange``.
    let breakerOutbox = BreakerTransitionOutbox()

    /// A state serving `config`; without one it serves nothing and is not ready until ``apply(_:)``.
    ///
    /// - Parameter metricsFactory: Where each route's request metrics and each upstream's connection
    ///   metrics go. Default: the process's `MetricsSystem.factory`.
    public init(_ config: GatewayConfig? = nil, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metricsFactory = metricsFactory
        current = Mutex(Snapshot(config ?? GatewayConfig(), previous: nil, metricsFactory: metricsFactory, outbox: breakerOutbox))
        applied = Mutex(config != nil)
    }

    /// Serves `config` from now on. The router is built before the swap, outside the lock requests take.
    public func apply(_ config: GatewayConfig) {
        swapLock.withLock { _ in
            let snapshot = Snapshot(config, previous: current.withLock { $0 }, metricsFactory: metricsFactory, outbox: breakerOutbox)
            current.withLock { $0 = snapshot }
            applied.withLock { $0 = true }
        }
    }

    /// Whether a config was applied: the gateway is ready once the controller has built its first one.
    public var isReady: Bool { applied.withLock { $0 } }

    /// The live config as JSON for `/debug/config`: routes, where they go, and their breakers. It
    /// holds nothing secret (no credentials, no Secret data beyond CA certificates, which are public).
    public func describe() -> String {
        let snapshot = self.snapshot
        let routes: [[String: Any]] = snapshot.router.routes.sorted { $0.key < $1.key }.map { route in
            var description: [String: Any] = [
                "route": route.key.description, "generation": route.generation, "upstream": route.upstream.description,
                "hostnames": route.match.hostnames, "methods": route.match.methods,
            ]
            switch route.match.path {
            case .exact(let value): description["path"] = ["exact": value]
            case .prefix(let value): description["path"] = ["prefix": value]
            case .regularExpression(let value): description["path"] = ["regularExpression": value]
            }
            if let tunnel = route.upstream.tunnel { description["tunnel"] = ["name": tunnel.name, "sourceAddress": tunnel.sourceAddress.description] }
            if route.upstream.httpProtocol != .http1 { description["protocol"] = route.upstream.httpProtocol.rawValue }
            if !route.credentials.isEmpty { description["credentials"] = route.credentials.map(\.credential.name) }
            if route.upstream.tls?.clientIdentity != nil { description["clientCertificate"] = true }
            if let breaker = snapshot.policies[route.key]?.breaker {
                description["circuitBreaker"] = breaker.snapshot(now: .now).state.rawValue
            }
            return description
        }
        var document: [String: Any] = ["generation": snapshot.generation, "ready": isReady, "routes": routes]
        if let issuer = snapshot.issuer { document["issuer"] = ["discovery": issuer.discoveryPath, "jwks": issuer.jwksPath] }
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// Where a route's circuit breaker stands, for Route status.
    public struct CircuitBreakerReport: Sendable, Hashable {
        public var state: CircuitBreakerState
        /// When it entered the state, by the wall clock.
        public var since: Date
        public var failureRatePercent: Int
        public var trips: Int64
        /// Whether peer replicas share the breaker's transitions (Route `circuitBreaker.scope`).
        public var scope: CircuitBreakerConfiguration.Scope
        /// The peer replica whose transition put the breaker in its state; `nil` when this replica's own
        /// calls did (or it never changed).
        public var changedBy: String?
    }

    /// The circuit breaker of every served route that has one.
    public func circuitBreakers() -> [RouteKey: CircuitBreakerReport] {
        let snapshot = self.snapshot
        let now = ContinuousClock.now
        let wallNow = Date()
        var reports: [RouteKey: CircuitBreakerReport] = [:]
        for (key, policies) in snapshot.policies {
            guard let breaker = policies.breaker else { continue }
            let state = breaker.snapshot(now: now)
            reports[key] = CircuitBreakerReport(
                state: state.state,
                since: wallNow.addingTimeInterval(-Double((now - state.since).components.seconds)),
                failureRatePercent: state.failureRatePercent,
                trips: state.trips,
                scope: policies.breakerConfiguration?.scope ?? .shared,
                changedBy: policies.breakerChangedBy
            )
        }
        return reports
    }

    /// The breakers as `/debug/breakers` lists them, by route: state, since, failure rate, trips, scope,
    /// the settings fingerprint peers must match, and the peer that last changed it.
    func describeBreakers() -> [[String: Any]] {
        let reports = circuitBreakers()
        let snapshot = self.snapshot
        return reports.keys.sorted().compactMap { key -> [String: Any]? in
            guard let report = reports[key] else { return nil }
            var description: [String: Any] = [
                "route": key.description, "state": report.state.rawValue, "since": Self.timestamp(report.since),
                "failureRatePercent": report.failureRatePercent, "trips": report.trips,
                "scope": report.scope == .shared ? "Shared" : "Replica",
            ]
            if let settings = snapshot.policies[key]?.breakerSettings { description["settings"] = settings }
            if let peer = report.changedBy { description["changedBy"] = peer }
            return description
        }
    }

    private static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// What became of a peer's transition.
    enum PeerTransitionResult: Sendable, Hashable {
        /// The breaker followed it.
        case applied(CircuitBreakerTransition)
        /// The breaker was already there.
        case unchanged
        /// This replica does not serve the route; why, for the peer's log.
        case notServed(String)
        /// The route's breaker here is not shared or has other settings; why, for the peer's log.
        case refused(String)
    }

    /// Applies a peer replica's transition to the same route's breaker, if this replica serves the route
    /// with a shared breaker of the same settings.
    func follow(_ message: BreakerTransitionMessage) -> PeerTransitionResult {
        guard let policies = snapshot.policies[message.route] else { return .notServed("route \(message.route) is not served here") }
        guard let configuration = policies.breakerConfiguration, let settings = policies.breakerSettings else {
            return .refused("route \(message.route) has no circuit breaker here")
        }
        guard configuration.scope == .shared else { return .refused("route \(message.route) keeps its breaker per replica (scope Replica) here") }
        guard settings == message.settings else {
            return .refused("route \(message.route) has breaker settings \(settings) here, not \(message.settings)")
        }
        guard let transition = policies.follow(message.target, from: message.sender) else { return .unchanged }
        return .applied(transition)
    }

    /// The breakers that are not Closed, by route: read from each breaker's atomic state without the locks
    /// requests take, for this replica's report in its Lease.
    public func breakersNotClosed() -> [RouteKey: CircuitBreakerState] {
        var states: [RouteKey: CircuitBreakerState] = [:]
        for (key, policies) in snapshot.policies {
            guard let state = policies.breaker?.state, state != .closed else { continue }
            states[key] = state
        }
        return states
    }

    /// This replica's shared breakers that its own calls opened and that are still open, as the messages
    /// that tell a peer so (with what is left of each open period). Breakers that follow a peer are left
    /// out, so a peer is never told back what it said.
    func ownOpenBreakers(sender: String) -> [RouteKey: BreakerTransitionMessage] {
        let now = ContinuousClock.now
        var messages: [RouteKey: BreakerTransitionMessage] = [:]
        for (key, policies) in snapshot.policies {
            if let message = policies.ownOpenState(sender: sender, now: now) { messages[key] = message }
        }
        return messages
    }

    /// `message` as it should go out now, for one that waited (a peer was unreachable): an Open one with
    /// what is left of the open period, if the breaker is still open on this replica's own calls; a Closed
    /// one unless the breaker opened again meanwhile; `nil` when it no longer holds or the route's breaker
    /// has other settings now.
    func refreshed(_ message: BreakerTransitionMessage) -> BreakerTransitionMessage? {
        guard let policies = snapshot.policies[message.route], policies.breakerSettings == message.settings, let breaker = policies.breaker else { return nil }
        if message.state == CircuitBreakerState.open.rawValue {
            return policies.ownOpenState(sender: message.sender)
        }
        return breaker.state == .open ? nil : message
    }

    /// The config being served.
    var snapshot: Snapshot { current.withLock { $0 } }

    /// The router of the config being served.
    var router: Router { snapshot.router }

    /// The generation of the config being served.
    public var generation: Int64 { current.withLock { $0.generation } }

    /// The generation of each route being served, for Route status.
    public var routeGenerations: [RouteKey: Int64] { current.withLock { $0.routeGenerations } }
}
