public import NIOCore
import NIOHTTP1
import NIOSSL
import NIOHTTP2
public import Logging
public import NIOPosix

/// The gateway's listener: HTTP/1.1 with keep-alive, or, with TLS, HTTP/2 or HTTP/1.1 as ALPN
/// decides. Each request is proxied by a ``GatewayHandler`` that uses its event loop's upstream pool.
public struct GatewayServer: Sendable {
    public let host: String
    public let port: Int
    public let state: GatewayState
    public let group: MultiThreadedEventLoopGroup

    /// One `info` record per request (request id, client, method, path without the query, route,
    /// upstream, status, attempts, duration, problem type); `nil` logs none.
    public let accessLog: Logger?
    /// When set, the gateway terminates TLS with this certificate (https); else it serves plain HTTP.
    public let tls: GatewayTLS?
    /// How upstream connections are pooled and kept alive.
    public let upstreamPool: UpstreamPoolConfiguration

    public init(
        host: String = "0.0.0.0",
        port: Int,
        state: GatewayState,
        group: MultiThreadedEventLoopGroup = .singleton,
        accessLog: Logger? = nil,
        tls: GatewayTLS? = nil,
        upstreamPool: UpstreamPoolConfiguration = UpstreamPoolConfiguration()
    ) {
        self.host = host
        self.port = port
        self.state = state
        self.group = group
        self.accessLog = accessLog
        self.tls = tls
        self.upstreamPool = upstreamPool
    }

    /// Binds the listener; the returned channel serves until closed.
    public func start() async throws -> any Channel {
        let pools = UpstreamPools(group: group, metrics: UpstreamMetricsRegistry(factory: state.metricsFactory), configuration: upstreamPool)
        let state = self.state
        let accessLog = self.accessLog
        let tls = self.tls
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard let tls else {
                    // Without TLS, the first bytes tell: the HTTP/2 preface (h2c with prior knowledge), else HTTP/1.1.
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            CleartextProtocolDetector(
                                http1: { Self.serveHTTP1(on: $0, scheme: "http", state: state, pools: pools, accessLog: accessLog) },
                                http2: { Self.serveHTTP2(on: $0, scheme: "http", state: state, pools: pools, accessLog: accessLog) }
                            )
                        )
                    }
                }
                do {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.current))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                // ALPN picks the protocol: h2, else HTTP/1.1.
                return channel.configureHTTP2SecureUpgrade(
                    h2ChannelConfigurator: { channel in Self.serveHTTP2(on: channel, scheme: "https", state: state, pools: pools, accessLog: accessLog) },
                    http1ChannelConfigurator: { channel in Self.serveHTTP1(on: channel, scheme: "https", state: state, pools: pools, accessLog: accessLog) }
                )
            }
            .bind(host: host, port: port)
            .get()
    }
}

extension GatewayServer {
    /// HTTP/1.1 with keep-alive and pipelining on `channel`, each request proxied by a ``GatewayHandler``.
    /// Pipelined requests wait their turn in an ``HTTPPipeliningGuard``, not NIO's pipeline handler,
    /// which pauses and resumes reading the socket around every response.
    ///
    /// NIO's outbound header validation is off here and on upstream connections (``UpstreamPool``): every
    /// header the gateway writes is valid already. Those it forwards were parsed by NIO's strict HTTP/1.1
    /// parser, or came over HTTP/2 and were checked by NIO's codec (no CR, LF or NUL) and by the
    /// ``GatewayHandler`` (no other control character); those it adds are its own, or a credential
    /// or static response's content type checked where they enter (`TokenCache`, the Route and
    /// UpstreamAuth schemas). Checking every header again cost 1.5–3 µs a request, 5–11% of the gateway's CPU.
    static func serveHTTP1(on channel: any Channel, scheme: String, state: GatewayState, pools: UpstreamPools, accessLog: Logger?) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false
            )
            try channel.pipeline.syncOperations.addHandler(HTTPPipeliningGuard())
            try channel.pipeline.syncOperations.addHandler(GatewayHandler(state: state, pool: pools.pool(for: channel.eventLoop), inboundScheme: scheme, accessLog: accessLog))
        }
    }

    /// HTTP/2 on `channel`: each stream is a child channel on the same event loop, translated to
    /// HTTP/1-style request parts for its own ``GatewayHandler``, which uses the loop's upstream pool.
    static func serveHTTP2(on channel: any Channel, scheme: String, state: GatewayState, pools: UpstreamPools, accessLog: Logger?) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture {
            _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .server,
                connectionConfiguration: .init(),
                streamConfiguration: .init()
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                    try stream.pipeline.syncOperations.addHandler(
                        GatewayHandler(state: state, pool: pools.pool(for: stream.eventLoop), inboundScheme: scheme, accessLog: accessLog, inboundHTTP2: true)
                    )
                }
            }
        }
    }
}

/// Tells HTTP/2 with prior knowledge (h2c) from HTTP/1.1 on a cleartext connection by its first
/// bytes, sets the pipeline up for the one it is, hands it those bytes and leaves.
final class CleartextProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// What an HTTP/2 client sends first (RFC 9113 §3.4).
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    private let http1: @Sendable (any Channel) -> EventLoopFuture<Void>
    private let http2: @Sendable (any Channel) -> EventLoopFuture<Void>
    private var received: ByteBuffer?

    init(http1: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>, http2: @escaping @Sendable (any Channel) -> EventLoopFuture<Void>) {
        self.http1 = http1
        self.http2 = http2
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var part = unwrapInboundIn(data)
        if received == nil { received = part } else { received!.writeBuffer(&part) }
        let bytes = received!.readableBytesView
        let compared = min(bytes.count, Self.preface.count)
        let looksLikeHTTP2 = bytes.prefix(compared).elementsEqual(Self.preface.prefix(compared))
        if looksLikeHTTP2 && bytes.count < Self.preface.count { return }  // not enough to tell yet
        let buffered = received!
        received = nil
        (looksLikeHTTP2 ? http2 : http1)(context.channel).assumeIsolated().whenComplete { result in
            switch result {
            case .success:
                context.fireChannelRead(NIOAny(buffered))
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            case .failure(let error):
                context.fireErrorCaught(error)
                context.close(promise: nil)
            }
        }
    }
}

@available(*, unavailable)
extension CleartextProtocolDetector: Sendable {}

/// One ``UpstreamPool`` per event loop, each made and touched only on its own loop.
final class UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBoundBox<UpstreamPool?>]
    private let metrics: UpstreamMetricsRegistry
    private let configuration: UpstreamPoolConfiguration

    init(group: MultiThreadedEventLoopGroup, metrics: UpstreamMetricsRegistry, configuration: UpstreamPoolConfiguration) {
        self.metrics = metrics
        self.configuration = configuration
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
        let pool = UpstreamPool(eventLoop: loop, metrics: metrics, configuration: configuration)
        box.value = pool
        return pool
    }
}
