public import Foundation
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

        /// A snapshot of `config`, keeping the breakers and bulkheads of `previous` whose settings did not change.
        init(_ config: GatewayConfig, previous: Snapshot?, metricsFactory: any MetricsFactory) {
            router = Router(routes: config.routes)
            generation = config.generation
            issuer = config.issuer
            routeGenerations = Dictionary(config.routes.map { ($0.key, $0.generation) }, uniquingKeysWith: { first, _ in first })
            var policies: [RouteKey: RoutePolicies] = [:]
            for route in config.routes {
                let settings = RoutePolicies.Settings(circuitBreaker: route.circuitBreaker, bulkhead: route.bulkhead, retry: route.retry)
                if let kept = previous?.policies[route.key], kept.settings == settings {
                    policies[route.key] = kept
                } else {
                    policies[route.key] = RoutePolicies(settings, metrics: previous?.policies[route.key]?.metrics ?? RouteMetrics(route: route.key, factory: metricsFactory))
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

    /// A state serving `config`; without one it serves nothing and is not ready until ``apply(_:)``.
    /// - Parameter metricsFactory: Where each route's request metrics and each upstream's connection
    ///   metrics go. Default: the process's `MetricsSystem.factory`.
    public init(_ config: GatewayConfig? = nil, metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        self.metricsFactory = metricsFactory
        current = Mutex(Snapshot(config ?? GatewayConfig(), previous: nil, metricsFactory: metricsFactory))
        applied = Mutex(config != nil)
    }

    /// Serves `config` from now on. The router is built before the swap, outside the lock requests take.
    public func apply(_ config: GatewayConfig) {
        swapLock.withLock { _ in
            let snapshot = Snapshot(config, previous: current.withLock { $0 }, metricsFactory: metricsFactory)
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
        let routes: [[String: Any]] = snapshot.router.routes.map { route in
            var description: [String: Any] = [
                "route": route.key.description, "generation": route.generation, "upstream": route.upstream.description,
                "hostnames": route.match.hostnames, "methods": route.match.methods,
            ]
            switch route.match.path {
            case .exact(let value): description["path"] = ["exact": value]
            case .prefix(let value): description["path"] = ["prefix": value]
            case .regularExpression(let value): description["path"] = ["regularExpression": value]
            }
            if let tunnel = route.upstream.tunnel { description["tunnel"] = tunnel }
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
                trips: state.trips
            )
        }
        return reports
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
