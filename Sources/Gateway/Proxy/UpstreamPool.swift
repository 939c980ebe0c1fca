import CoreMetrics
import IPAddresses
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A connection handed to one request: the channel it writes to, the handler that hands the
/// responses back, and whether the connection was open already.
struct UpstreamLease {
    var channel: any Channel
    var handler: UpstreamHandler
    /// Whether the request goes on a connection that was already open (a pooled keep-alive connection,
    /// or an HTTP/2 connection that carried streams before).
    var reused: Bool
}

/// Connections to upstreams, one pool per event loop, used only on that loop: a request and its
/// upstream connection always share a loop, so nothing here takes a lock. HTTP/1.1 upstreams get
/// keep-alive connections, one request at a time; HTTP/2 upstreams get streams on multiplexed
/// connections (`UpstreamPool+HTTP2.swift`). Every origin's connections are counted in its
/// ``UpstreamMetrics``.
final class UpstreamPool {
    /// Connections are reused only for the same origin, TLS settings, HTTP version and tunnel (the whole
    /// target): a connection bound to a tunnel's address never serves a route without that tunnel.
    struct Key: Hashable {
        var target: UpstreamTarget
    }

    /// What the pool keeps for one key.
    final class Origin {
        /// Idle HTTP/1.1 connections.
        var idle: [UpstreamLease] = []
        /// HTTP/2 connections, in the order they were opened.
        var http2: [HTTP2UpstreamConnection] = []
        let metrics: UpstreamMetrics

        init(metrics: UpstreamMetrics) {
            self.metrics = metrics
        }
    }

    let eventLoop: any EventLoop
    let configuration: UpstreamPoolConfiguration
    static let maximumTLSContexts = 256
    /// Origins kept at most before the ones without a connection are dropped (rotated client
    /// certificates make new keys for the same origin).
    static let maximumOrigins = 1024
    private let registry: UpstreamMetricsRegistry
    private var origins: [Key: Origin] = [:]
    private var tlsContexts: [TLSContextKey: NIOSSLContext] = [:]

    private struct TLSContextKey: Hashable {
        var tls: UpstreamTarget.TLS
        var http2: Bool
    }

    init(eventLoop: any EventLoop, metrics: UpstreamMetricsRegistry, configuration: UpstreamPoolConfiguration = UpstreamPoolConfiguration()) {
        self.eventLoop = eventLoop
        self.registry = metrics
        self.configuration = configuration
    }

    /// Hands `completion` an idle connection to the target (`reused` true), or a new one; `fresh`
    /// skips the idle ones. For an HTTP/2 target, a stream on an open connection with room, or on a new
    /// one. `completion` runs on this loop, at once when an idle connection is there.
    ///
    /// - Parameter destinations: The addresses a new connection may go to (read only when one is opened).
    func lease(
        _ target: UpstreamTarget,
        destinations: @autoclosure () -> DestinationPolicy,
        connectTimeout: TimeAmount,
        fresh: Bool = false,
        _ completion: @escaping (Result<UpstreamLease, any Error>) -> Void
    ) {
        eventLoop.preconditionInEventLoop()
        let origin = self.origin(for: target)
        if target.httpProtocol == .http2 {
            return leaseHTTP2(target, origin: origin, destinations: destinations(), connectTimeout: connectTimeout, completion)
        }
        while !fresh, let connection = origin.idle.popLast() {
            guard connection.channel.isActive else { continue }
            connection.handler.pooled = false
            origin.metrics.recount(from: .idle, to: .active)
            origin.metrics.reused.increment()
            return completion(.success(connection))
        }
        let tlsContext: NIOSSLContext?
        let base: ClientBootstrap
        do {
            tlsContext = try target.scheme == .https ? context(for: target.tls ?? UpstreamTarget.TLS(), http2: false) : nil
            base = try Self.bootstrap(for: target, on: eventLoop, connectTimeout: connectTimeout)
        } catch {
            return completion(.failure(error))
        }
        let serverName = Self.serverName(target)
        let bootstrap = base
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                    }
                    // Bytes an upstream sends right after a 101 are handed on when the decoder is removed. Headers
                    // are valid before they get here (see `GatewayServer.serveHTTP1`).
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
        connect(bootstrap, to: target, destinations: destinations())
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

    /// Connects `bootstrap` to the target's address, or fails with ``UpstreamDestinationRefused`` when
    /// `destinations` allows none of the addresses it names or resolves to.
    func connect(_ bootstrap: ClientBootstrap, to target: UpstreamTarget, destinations: DestinationPolicy) -> EventLoopFuture<any Channel> {
        let host = target.connectHost ?? target.host
        if let literal = IPAddress(host) {
            if let refusal = destinations.refusal(literal, port: target.port, intoClusterNetwork: target.intoClusterNetwork) {
                return eventLoop.makeFailedFuture(UpstreamDestinationRefused(host: host, refusal: refusal))
            }
            return bootstrap.connect(host: host, port: target.port)
        }
        let resolver = DestinationCheckingResolver(eventLoop: eventLoop, policy: destinations, intoClusterNetwork: target.intoClusterNetwork)
        return bootstrap.resolver(resolver).connect(host: host, port: target.port).flatMapErrorThrowing { error in
            if let refusal = resolver.refusal { throw UpstreamDestinationRefused(host: host, refusal: refusal) }
            throw error
        }
    }

    /// Returns a connection whose exchange completed cleanly; it is closed if the pool is full. An HTTP/2
    /// stream closes by itself once both sides ended it.
    func release(_ lease: UpstreamLease, target: UpstreamTarget) {
        eventLoop.preconditionInEventLoop()
        guard target.httpProtocol == .http1 else { return }
        let origin = self.origin(for: target)
        guard lease.channel.isActive, origin.idle.count < configuration.maximumIdlePerOrigin else {
            lease.channel.close(promise: nil)
            return
        }
        lease.handler.pooled = true
        origin.metrics.recount(from: .active, to: .idle)
        origin.idle.append(lease)
    }

    /// The pool's record of `target`, when it has one.
    func origin(existing target: UpstreamTarget) -> Origin? {
        origins[Key(target: target)]
    }

    /// The pool's record of `target`, made on first use with the origin's shared metrics.
    private func origin(for target: UpstreamTarget) -> Origin {
        let key = Key(target: target)
        if let origin = origins[key] { return origin }
        if origins.count >= Self.maximumOrigins {
            origins = origins.filter { !$0.value.idle.isEmpty || !$0.value.http2.isEmpty }
        }
        let origin = Origin(metrics: registry.metrics(for: target.description))
        origins[key] = origin
        return origin
    }

    /// A bootstrap for connections to `target`: through a tunnel, bound to the tunnel's address (any port),
    /// so that the tunnel's routing table, and only it, routes them.
    static func bootstrap(for target: UpstreamTarget, on eventLoop: any EventLoop, connectTimeout: TimeAmount) throws -> ClientBootstrap {
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
        guard let tunnel = target.tunnel else { return bootstrap }
        return bootstrap.bind(to: try SocketAddress(ipAddress: tunnel.sourceAddress.description, port: 0))
    }

    /// The SNI name: the TLS server name or the host, none for an IP address.
    static func serverName(_ target: UpstreamTarget) -> String? {
        let name = target.tls?.serverName ?? target.host
        return name.first?.isNumber == true || name.contains(":") ? nil : name
    }

    /// The client TLS context for `tls` (TLS 1.2 or later), offering `h2` or `http/1.1` by ALPN.
    func context(for tls: UpstreamTarget.TLS, http2: Bool) throws -> NIOSSLContext {
        let key = TLSContextKey(tls: tls, http2: http2)
        if let context = tlsContexts[key] { return context }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let pem = tls.trustedCAPEM {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
        }
        if tls.insecureSkipVerify { configuration.certificateVerification = .none }
        if let identity = tls.clientIdentity {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8)).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        }
        configuration.applicationProtocols = http2 ? ["h2"] : ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        // Rotated client certificates leave contexts behind; start over rather than grow without bound.
        if tlsContexts.count >= Self.maximumTLSContexts { tlsContexts.removeAll() }
        tlsContexts[key] = context
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
    /// The HTTP/2 connection this stream belongs to; `nil` on an HTTP/1.1 connection.
    weak var connection: HTTP2UpstreamConnection?
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
        exchange?.upstreamClosed(connection?.failure)
        exchange = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An HTTP/2 connection that failed explains its streams' errors better than they do.
        exchange?.upstreamClosed(UpstreamStreamRefused.refusal(error, on: connection) ?? connection?.failure ?? error)
        exchange = nil
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamHandler: Sendable {}
