import CoreMetrics
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A connection handed to one request: the channel it writes to, the handler that hands the
/// responses back, and whether the connection was open already.
struct UpstreamLease {
    var channel: any Channel
    var handler: UpstreamHandler
    /// Whether the request goes on a connection that was already open (a pooled keep-alive connection).
    var reused: Bool
}

/// Keep-alive connections to upstreams, one pool per event loop, used only on that loop: a request
/// and its upstream connection always share a loop, so nothing here takes a lock. Every origin's
/// connections are counted in its ``UpstreamMetrics``.
final class UpstreamPool {
    /// Connections are reused only for the same origin and TLS settings.
    struct Key: Hashable {
        var target: UpstreamTarget
    }

    /// What the pool keeps for one key.
    final class Origin {
        var idle: [UpstreamLease] = []
        let metrics: UpstreamMetrics

        init(metrics: UpstreamMetrics) {
            self.metrics = metrics
        }
    }

    let eventLoop: any EventLoop
    /// Idle connections kept per origin at most.
    let maximumIdlePerKey: Int
    static let maximumTLSContexts = 256
    private let registry: UpstreamMetricsRegistry
    private var origins: [Key: Origin] = [:]
    private var tlsContexts: [UpstreamTarget.TLS: NIOSSLContext] = [:]

    init(eventLoop: any EventLoop, metrics: UpstreamMetricsRegistry, maximumIdlePerKey: Int = 64) {
        self.eventLoop = eventLoop
        self.registry = metrics
        self.maximumIdlePerKey = maximumIdlePerKey
    }

    /// Hands `completion` an idle connection to the target (`reused` true), or a new one; `fresh`
    /// skips the idle ones. `completion` runs on this loop, at once when an idle connection is there.
    func lease(
        _ target: UpstreamTarget,
        connectTimeout: TimeAmount,
        fresh: Bool = false,
        _ completion: @escaping (Result<UpstreamLease, any Error>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        let origin = self.origin(for: target)
        while !fresh, let connection = origin.idle.popLast() {
            guard connection.channel.isActive else { continue }
            connection.handler.pooled = false
            origin.metrics.recount(from: .idle, to: .active)
            origin.metrics.reused.increment()
            return completion(.success(connection))
        }
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = try target.scheme == .https ? context(for: target.tls ?? UpstreamTarget.TLS()) : nil
        } catch {
            return completion(.failure(error))
        }
        let serverName = Self.serverName(target)
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    // Bytes an upstream sends right after a 101 are handed on when the decoder is removed.
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: target.host, port: target.port)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        channel.close(promise: nil)
                        return completion(.failure(ChannelError.ioOnClosedChannel))
                    }
                    origin.metrics.connected.increment()
                    origin.metrics.recount(from: .uncounted, to: .active)
                    let metrics = origin.metrics
                    channel.closeFuture.assumeIsolated().whenComplete { _ in
                        metrics.recount(from: handler.pooled ? .idle : .active, to: .uncounted)
                    }
                    completion(.success(UpstreamLease(channel: channel, handler: handler, reused: false)))
                case .failure(let error):
                    origin.metrics.connectFailed.increment()
                    completion(.failure(error))
                }
            }
    }

    /// Returns a connection whose exchange completed cleanly; it is closed if the pool is full.
    func release(_ channel: any Channel, target: UpstreamTarget) {
        eventLoop.preconditionInEventLoop()
        let origin = self.origin(for: target)
        guard channel.isActive, origin.idle.count < maximumIdlePerKey,
            let handler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
        else {
            channel.close(promise: nil)
            return
        }
        handler.pooled = true
        origin.metrics.recount(from: .active, to: .idle)
        origin.idle.append(UpstreamLease(channel: channel, handler: handler, reused: true))
    }

    /// The pool's record of `target`, made on first use with the origin's shared metrics.
    private func origin(for target: UpstreamTarget) -> Origin {
        let key = Key(target: target)
        if let origin = origins[key] { return origin }
        let origin = Origin(metrics: registry.metrics(for: target.description))
        origins[key] = origin
        return origin
    }

    /// The SNI name: the TLS server name or the host, none for an IP address.
    private static func serverName(_ target: UpstreamTarget) -> String? {
        let name = target.tls?.serverName ?? target.host
        return name.first?.isNumber == true || name.contains(":") ? nil : name
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
    /// Whether the connection waits in the pool (counted as idle, not active).
    var pooled = false
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
