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

        /// A snapshot of `config`, keeping the breakers and bulkheads of `previous` whose settings did not change.
        init(_ config: GatewayConfig, previous: Snapshot?) {
            router = Router(routes: config.routes)
            generation = config.generation
            routeGenerations = Dictionary(config.routes.map { ($0.key, $0.generation) }, uniquingKeysWith: { first, _ in first })
            var policies: [RouteKey: RoutePolicies] = [:]
            for route in config.routes {
                let settings = RoutePolicies.Settings(circuitBreaker: route.circuitBreaker, bulkhead: route.bulkhead)
                if let kept = previous?.policies[route.key], kept.settings == settings {
                    policies[route.key] = kept
                } else {
                    policies[route.key] = RoutePolicies(settings)
                }
            }
            self.policies = policies
        }
    }

    private let current: Mutex<Snapshot>
    /// Serialises swaps, so that each new snapshot is built from the one it replaces.
    private let swapLock = Mutex(())

    public init(_ config: GatewayConfig = GatewayConfig()) {
        current = Mutex(Snapshot(config, previous: nil))
    }

    /// Serves `config` from now on. The router is built before the swap, outside the lock requests take.
    public func apply(_ config: GatewayConfig) {
        swapLock.withLock { _ in
            let snapshot = Snapshot(config, previous: current.withLock { $0 })
            current.withLock { $0 = snapshot }
        }
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
