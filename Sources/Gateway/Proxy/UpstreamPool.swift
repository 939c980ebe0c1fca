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
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
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
        configuration.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        tlsContexts[tls] = context
        return context
    }
}

/// The last handler of an upstream connection: hands response parts and connection events to the
/// request that leased the connection.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    /// The request currently using this connection; `nil` while the connection is idle in the pool.
    weak var exchange: GatewayHandler?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        exchange?.upstreamRead(unwrapInboundIn(data))
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
