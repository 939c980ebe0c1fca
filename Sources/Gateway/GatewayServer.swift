public import NIOCore
import NIOHTTP1
import NIOSSL
public import Logging
public import NIOPosix

/// The gateway's listener: HTTP/1.1 with keep-alive, optionally over TLS, each connection proxied by a
/// ``GatewayHandler`` that uses the upstream pool of its own event loop.
public struct GatewayServer: Sendable {
    public let host: String
    public let port: Int
    public let state: GatewayState
    public let group: MultiThreadedEventLoopGroup

    /// One `info` record per request (request id, client, method, URI, route, upstream, status,
    /// attempts, duration, problem type); `nil` logs none.
    public let accessLog: Logger?
    /// When set, the gateway terminates TLS with this certificate (https); else it serves plain HTTP.
    public let tls: GatewayTLS?

    public init(
        host: String = "0.0.0.0",
        port: Int,
        state: GatewayState,
        group: MultiThreadedEventLoopGroup = .singleton,
        accessLog: Logger? = nil,
        tls: GatewayTLS? = nil
    ) {
        self.host = host
        self.port = port
        self.state = state
        self.group = group
        self.accessLog = accessLog
        self.tls = tls
    }

    /// Binds the listener; the returned channel serves until closed.
    public func start() async throws -> any Channel {
        let pools = UpstreamPools(group: group)
        let state = self.state
        let accessLog = self.accessLog
        let tls = self.tls
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
                    let handler = GatewayHandler(state: state, pool: pools.pool(for: channel.eventLoop), inboundScheme: tls == nil ? "http" : "https", accessLog: accessLog)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

/// One ``UpstreamPool`` per event loop, each made and touched only on its own loop.
final class UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>]

    init(group: MultiThreadedEventLoopGroup) {
        var pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = NIOLoopBoundBox.makeEmptyBox(valueType: UpstreamPool.self, eventLoop: loop)
        }
        self.pools = pools
    }

    /// The pool of `loop`, made on first use; call on that loop.
    func pool(for loop: any EventLoop) -> UpstreamPool {
        let box = pools[ObjectIdentifier(loop)]!
        if let pool = box.value { return pool }
        let pool = UpstreamPool(eventLoop: loop)
        box.value = pool
        return pool
    }
}
