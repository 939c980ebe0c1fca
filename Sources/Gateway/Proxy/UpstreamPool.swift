import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Keep-alive connections to upstreams, one pool per event loop, used only on that loop: a request
/// and its upstream connection always share a loop, so nothing here takes a lock.
final class UpstreamPool {
    /// Connections are reused only for the same origin and TLS settings.
    struct Key: Hashable {
        var target: UpstreamTarget
    }

    let eventLoop: any EventLoop
    /// Idle connections kept per origin at most.
    let maximumIdlePerKey: Int
    static let maximumTLSContexts = 256
    private var idle: [Key: [any Channel]] = [:]
    private var tlsContexts: [UpstreamTarget.TLS: NIOSSLContext] = [:]

    init(eventLoop: any EventLoop, maximumIdlePerKey: Int = 64) {
        self.eventLoop = eventLoop
        self.maximumIdlePerKey = maximumIdlePerKey
    }

    /// An idle connection to the target (`reused` true), or a new one; `fresh` skips the idle ones.
    func lease(_ target: UpstreamTarget, connectTimeout: TimeAmount, fresh: Bool = false) -> EventLoopFuture<(any Channel, reused: Bool)> {
        eventLoop.preconditionInEventLoop()
        let key = Key(target: target)
        while !fresh, var channels = idle[key], let channel = channels.popLast() {
            idle[key] = channels
            if channel.isActive { return eventLoop.makeSucceededFuture((channel, true)) }
        }
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try target.scheme == .https ? context(for: target.tls ?? UpstreamTarget.TLS()) : nil
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let serverName = target.tls?.serverName ?? target.host
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        let name = serverName.first?.isNumber == true || serverName.contains(":") ? nil : serverName
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: name))
                    }
                    // Bytes an upstream sends right after a 101 are handed on when the decoder is removed.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: target.host, port: target.port)
            .map { ($0, false) }
    }

    /// Returns a connection whose exchange completed cleanly; it is closed if the pool is full.
    func release(_ channel: any Channel, target: UpstreamTarget) {
        eventLoop.preconditionInEventLoop()
        let key = Key(target: target)
        guard channel.isActive, idle[key, default: []].count < maximumIdlePerKey else {
            channel.close(promise: nil)
            return
        }
        idle[key, default: []].append(channel)
    }

    private func context(for tls: UpstreamTarget.TLS) throws -> NIOSSLContext {
        if let context = tlsContexts[tls] { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let pem = tls.trustedCAPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        }
        if tls.insecureSkipVerify { configuration.certificateVerification = .none }
        if let identity = tls.clientIdentity {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8)).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        }
        configuration.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        // Rotated client certificates leave contexts behind; start over rather than grow without bound.
        if tlsContexts.count >= Self.maximumTLSContexts { tlsContexts.removeAll() }
        tlsContexts[tls] = context
        return context
    }
}

/// The last handler of an upstream connection: hands response parts and connection events to the
/// request that leased the connection.
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// The request currently using this connection; `nil` while the connection is idle in the pool.
    weak var exchange: GatewayHandler?
    /// Whether the last response's end arrived (after a 101 the decoder may deliver it only as it leaves).
    private(set) var responseEnded = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head) where head.status.code >= 200 || head.status == .switchingProtocols: responseEnded = false
        case .end: responseEnded = true
        case .head, .body: break
        }
        exchange?.upstreamRead(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        exchange?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.upstreamWritabilityChanged(context.channel.isWritable)
    }

    func channelInactive(context: ChannelHandlerContext) {
        exchange?.upstreamClosed(nil)
        exchange = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        exchange?.upstreamClosed(error)
        exchange = nil
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
