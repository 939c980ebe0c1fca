import IPAddresses
public import NIOCore
import NIOHTTP1
public import NIOPosix
import NIOSSL

/// The admin port: `/healthz` (the process runs), `/readyz` (503 until the first complete config is
/// served), `/debug/config` (the live config, without secrets), `/debug/breakers` (circuit breakers and
/// breaker peers, when given), `/metrics` (the Prometheus text format, when a renderer is given).
/// Everything else is 404.
///
/// `/debug/*` shows every namespace's routes and upstreams, so it answers only connections from a
/// loopback address (`kubectl port-forward` arrives as one) unless ``exposeDebug`` is set; others get a
/// 403 `debug-not-exposed` problem naming the flag. The probes and `/metrics` answer everyone.
///
/// The same port speaks plain HTTP (kubelet probes, Prometheus) and, for peer replicas, TLS: a
/// connection whose first byte is a TLS handshake record (0x16) must present a client certificate that
/// chains to the peer CA (``PeerTLS``). ``BreakerExchange/path`` is served only there, and only to
/// a certificate naming ``PeerTLS/peerName``; plain HTTP gets 403 for it.
public struct AdminServer: Sendable {
    public let host: String
    public let port: Int
    /// Whether the gateway serves a complete config yet.
    public let isReady: @Sendable () -> Bool
    /// The live config as JSON, redacted.
    public let describeConfig: @Sendable () -> String
    /// The process's metrics in the Prometheus text format 0.0.4; `nil` answers `/metrics` with 404.
    public let renderMetrics: (@Sendable () -> String)?
    /// Where peer replicas' breaker transitions go, and its `/debug/breakers`; `nil` answers both with 404
    /// and refuses TLS.
    public let breakerExchange: BreakerExchange?
    /// Whether `/debug/*` answers clients that are not on a loopback address. Default `false`.
    public let exposeDebug: Bool

    public init(
        host: String = "0.0.0.0",
        port: Int,
        isReady: @escaping @Sendable () -> Bool,
        describeConfig: @escaping @Sendable () -> String,
        renderMetrics: (@Sendable () -> String)? = nil,
        breakerExchange: BreakerExchange? = nil,
        exposeDebug: Bool = false
    ) {
        self.host = host
        self.port = port
        self.isReady = isReady
        self.describeConfig = describeConfig
        self.renderMetrics = renderMetrics
        self.breakerExchange = breakerExchange
        self.exposeDebug = exposeDebug
    }

    /// Binds the listener; the returned channel serves until closed.
    public func start(group: MultiThreadedEventLoopGroup = .singleton) async throws -> any Channel {
        let server = self
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AdminProtocolDetector(server: server))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Whether `address` is a loopback address: `127.0.0.0/8`, `::1`, or `::ffff:127.0.0.0/104` (an IPv4
    /// loopback client of a dual-stack listener).
    static func isLoopback(_ address: SocketAddress?) -> Bool {
        guard let text = address?.ipAddress, let ip = IPAddress(text)?.unmapped else { return false }
        return DestinationPolicy.loopbackNetworks.contains { $0.contains(ip) }
    }

    /// HTTP/1.1 on `channel`; `peer` when it runs inside a verified TLS connection.
    fileprivate func serveHTTP(on channel: any Channel, peer: Bool) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline()
        try channel.pipeline.syncOperations.addHandler(AdminHandler(server: self, overTLS: peer))
    }
}

/// Tells a TLS client hello from plain HTTP by the first byte, sets the pipeline up for it, hands it the
/// bytes read so far and leaves. TLS without a loaded peer certificate is closed at once.
private final class AdminProtocolDetector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// The content type of a TLS handshake record (RFC 8446 §5.1); no HTTP method starts with it.
    static let handshakeRecord: UInt8 = 0x16

    let server: AdminServer

    init(server: AdminServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.readableBytesView.first else { return }
        do {
            if first == Self.handshakeRecord {
                guard let tls = server.breakerExchange?.tls.server else {
                    context.close(promise: nil)
                    return
                }
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .after(self))
                try server.serveHTTP(on: context.channel, peer: true)
            } else {
                try server.serveHTTP(on: context.channel, peer: false)
            }
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

@available(*, unavailable)
extension AdminProtocolDetector: Sendable {}

private final class AdminHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// The largest request body read; a peer's transition is a few hundred bytes.
    static let maximumBody = 16 * 1024

    let server: AdminServer
    /// Whether the connection is TLS with a client certificate that chains to the peer CA.
    let overTLS: Bool
    var head: HTTPRequestHead?
    var body = ByteBuffer()
    var bodyTooLarge = false

    init(server: AdminServer, overTLS: Bool) {
        self.server = server
        self.overTLS = overTLS
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            bodyTooLarge = false
        case .body(var part):
            if body.readableBytes + part.readableBytes > Self.maximumBody {
                bodyTooLarge = true
            } else {
                body.writeBuffer(&part)
            }
        case .end:
            guard let head else { return }
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            let plain = "text/plain; charset=utf-8"
            let (status, contentType, body): (HTTPResponseStatus, String, String)
            switch path {
            case _ where path.hasPrefix("/debug/") && !server.exposeDebug
                && !AdminServer.isLoopback(context.channel.remoteAddress):
                let problem = Problem(
                    kind: .debugNotExposed,
                    detail: "\(path) answers clients on a loopback address only (kubectl port-forward); "
                        + "start the controller with --expose-debug to serve it to others",
                    instance: path
                )
                (status, contentType, body) = (problem.kind.status, "application/problem+json", problem.json)
            case "/healthz", "/livez": (status, contentType, body) = (.ok, plain, "ok\n")
            case "/readyz":
                (status, contentType, body) = server.isReady()
                    ? (.ok, plain, "ok\n")
                    : (.serviceUnavailable, plain, "the first configuration is not served yet\n")
            case "/debug/config": (status, contentType, body) = (.ok, "application/json", server.describeConfig())
            case "/debug/breakers" where server.breakerExchange != nil:
                (status, contentType, body) = (.ok, "application/json", server.breakerExchange?.describe() ?? "")
            case "/metrics" where server.renderMetrics != nil:
                (status, contentType, body) = (.ok, "text/plain; version=0.0.4; charset=utf-8", server.renderMetrics?() ?? "")
            case BreakerExchange.path where server.breakerExchange != nil:
                (status, body) = peerTransition(head, context: context)
                contentType = plain
            default: (status, contentType, body) = (.notFound, plain, "not found\n")
            }
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: contentType)
            headers.add(name: "content-length", value: String(body.utf8.count))
            let keepAlive = head.isKeepAlive && !bodyTooLarge
            if !keepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
            self.head = nil
        }
    }

    /// A peer's breaker transition: only over mutual TLS, from a certificate naming ``PeerTLS/peerName``.
    private func peerTransition(_ head: HTTPRequestHead, context: ChannelHandlerContext) -> (HTTPResponseStatus, String) {
        guard overTLS, let exchange = server.breakerExchange else {
            return (.forbidden, "breaker transitions are accepted only over mutual TLS from a peer replica\n")
        }
        guard let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(), PeerTLS.presentsPeerName(certificate) else {
            return (.forbidden, "the client certificate does not name \(PeerTLS.peerName)\n")
        }
        guard head.method == .POST else { return (.methodNotAllowed, "breaker transitions are POSTed\n") }
        guard !bodyTooLarge else { return (.payloadTooLarge, "a breaker transition has at most \(Self.maximumBody) bytes\n") }
        let (status, text) = exchange.receive(body)
        return (status, text)
    }
}
