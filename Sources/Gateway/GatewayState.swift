import Synchronization

/// The config the gateway serves, swapped atomically: a request reads the current router once, at
/// its start, and finishes on it even if a new config arrives meanwhile. A swap never waits for
/// requests, and requests never wait for a swap beyond a pointer's worth of lock.
public final class GatewayState: Sendable {
    private final class Snapshot: Sendable {
        let router: Router
        let generation: Int64
        let routeGenerations: [RouteKey: Int64]

        init(_ config: GatewayConfig) {
            router = Router(routes: config.routes)
            generation = config.generation
            routeGenerations = Dictionary(config.routes.map { ($0.key, $0.generation) }, uniquingKeysWith: { first, _ in first })
        }
    }

    private let current: Mutex<Snapshot>

    public init(_ config: GatewayConfig = GatewayConfig()) {
        current = Mutex(Snapshot(config))
    }

    /// Serves `config` from now on. The router is built before the swap, outside the lock.
    public func apply(_ config: GatewayConfig) {
        let snapshot = Snapshot(config)
        current.withLock { $0 = snapshot }
    }

    /// The router of the config being served.
    var router: Router { current.withLock { $0.router } }

    /// The generation of the config being served.
    public var generation: Int64 { current.withLock { $0.generation } }

    /// The generation of each route being served, for Route status.
    public var routeGenerations: [RouteKey: Int64] { current.withLock { $0.routeGenerations } }
}
