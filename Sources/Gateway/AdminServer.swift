public import NIOCore
import NIOHTTP1
public import NIOPosix

/// The admin port: `/healthz` (the process runs), `/readyz` (503 until the first complete config is
/// served), `/debug/config` (the live config, without secrets), `/metrics` (the Prometheus text
/// format, when a renderer is given). Everything else is 404.
public struct AdminServer: Sendable {
    public let host: String
    public let port: Int
    /// Whether the gateway serves a complete config yet.
    public let isReady: @Sendable () -> Bool
    /// The live config as JSON, redacted.
    public let describeConfig: @Sendable () -> String
    /// The process's metrics in the Prometheus text format 0.0.4; `nil` answers `/metrics` with 404.
    public let renderMetrics: (@Sendable () -> String)?

    public init(
        host: String = "0.0.0.0",
        port: Int,
        isReady: @escaping @Sendable () -> Bool,
        describeConfig: @escaping @Sendable () -> String,
        renderMetrics: (@Sendable () -> String)? = nil
    ) {
        self.host = host
        self.port = port
        self.isReady = isReady
        self.describeConfig = describeConfig
        self.renderMetrics = renderMetrics
    }

    /// Binds the listener; the returned channel serves until closed.
    public func start(group: MultiThreadedEventLoopGroup = .singleton) async throws -> any Channel {
        let server = self
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(server: server))
                }
            }
            .bind(host: host, port: port)
            .get()
    }
}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: AdminServer
    var head: HTTPRequestHead?

    init(server: AdminServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let (status, contentType, body): (HTTPResponseStatus, String, String)
            switch path {
            case "/healthz", "/livez": (status, contentType, body) = (.ok, "text/plain; charset=utf-8", "ok\n")
            case "/readyz":
                (status, contentType, body) = server.isReady()
                    ? (.ok, "text/plain; charset=utf-8", "ok\n")
                    : (.serviceUnavailable, "text/plain; charset=utf-8", "the first configuration is not served yet\n")
            case "/debug/config": (status, contentType, body) = (.ok, "application/json", server.describeConfig())
            case "/metrics" where server.renderMetrics != nil:
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", server.renderMetrics?() ?? "")
            default: (status, contentType, body) = (.notFound, "text/plain; charset=utf-8", "not found\n")
            }
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: contentType)
            headers.add(name: "content-length", value: String(body.utf8.count))
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            self.head = nil
        }
    }
}
