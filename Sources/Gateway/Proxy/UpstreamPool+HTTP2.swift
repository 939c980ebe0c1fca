import CoreMetrics
import IPAddresses
import NIOCore
import NIOHTTP2
import NIOPosix
import NIOSSL

/// HTTP/2 upstreams: per origin and event loop, as few multiplexed connections as the upstream's
/// `SETTINGS_MAX_CONCURRENT_STREAMS` allows (one, until its streams are all taken), each request a
/// stream translated to HTTP/1 parts by `HTTP2FramePayloadToHTTP1ClientCodec`, so that the
/// ``GatewayHandler`` drives it like a keep-alive connection.
extension UpstreamPool {
    /// A stream on a ready connection with room, else a place on a connecting one, else a new connection.
    func leaseHTTP2(
        _ target: UpstreamTarget,
        origin: Origin,
        destinations: @autoclosure () -> DestinationPolicy,
        connectTimeout: TimeAmount,
        _ completion: @escaping (Result<UpstreamLease, any Error>) -> Void
    ) {
        for connection in origin.http2 where connection.hasRoom {
            connection.takeStream()
            return openStream(on: connection, origin: origin, reused: true, completion)
        }
        for connection in origin.http2 where connection.takesWaiters {
            connection.takeStream()
            connection.waiters.append(completion)
            return
        }
        connectHTTP2(target, origin: origin, destinations: destinations(), connectTimeout: connectTimeout, completion)
    }

    private func connectHTTP2(
        _ target: UpstreamTarget,
        origin: Origin,
        destinations: DestinationPolicy,
        connectTimeout: TimeAmount,
        _ completion: @escaping (Result<UpstreamLease, any Error>) -> Void
    ) {
        let tlsContext: NIOSSLContext?
        let base: ClientBootstrap
        do {
            tlsContext = try target.scheme == .https ? context(for: target.tls ?? UpstreamTarget.TLS(), http2: true) : nil
            base = try Self.bootstrap(for: target, on: eventLoop, connectTimeout: connectTimeout)
        } catch {
            return completion(.failure(error))
        }
        let connection = HTTP2UpstreamConnection(target: target, connectTimeout: connectTimeout, destinations: destinations, streamLimit: configuration.http2.streamsPerConnection)
        connection.takeStream()
        connection.waiters = [completion]
        origin.http2.append(connection)
        let serverName = Self.serverName(target)
        let bound = NIOLoopBound((pool: self, connection: connection), eventLoop: eventLoop)
        let bootstrap = base
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let (pool, connection) = bound.value
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        try channel.pipeline.syncOperations.addHandler(HTTP2NegotiationHandler(connection: connection, pool: pool))
                    } else {
                        try pool.speakHTTP2(on: channel, connection)
                    }
                }
            }
        connect(bootstrap, to: target, destinations: destinations)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    connection.channel = channel
                    self.recount(connection, origin: origin)
                    // The connect timeout covers TLS, ALPN and the upstream's SETTINGS too: an upstream that
                    // takes the connection and stays silent fails the waiting requests instead of holding them.
                    channel.eventLoop.assumeIsolated().scheduleTask(in: connectTimeout) {
                        guard connection.state == .connecting else { return }
                        if connection.failure == nil { connection.failure = ChannelError.connectTimeout(connectTimeout) }
                        channel.close(promise: nil)
                    }
                case .failure(let error):
                    origin.metrics.connectFailed.increment()
                    if connection.failure == nil { connection.failure = error }
                    self.http2Closed(connection)
                }
            }
    }

    /// Puts the HTTP/2 client handlers on `channel`: once the connection preface is out, the upstream's
    /// SETTINGS make the connection ready, and PINGs keep it alive.
    func speakHTTP2(on channel: any Channel, _ connection: HTTP2UpstreamConnection) throws {
        var configuration = NIOHTTP2Handler.ConnectionConfiguration()
        // The gateway takes no server push.
        configuration.initialSettings = nioDefaultSettings + [HTTP2Setting(parameter: .enablePush, value: 0)]
        connection.multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .client,
            connectionConfiguration: configuration,
            streamConfiguration: NIOHTTP2Handler.StreamConfiguration()
        ) { stream in
            stream.close()
        }
        let handler = HTTP2UpstreamConnectionHandler(
            connection: connection,
            pool: self,
            pingInterval: TimeAmount(self.configuration.http2.pingInterval),
            pingTimeout: TimeAmount(self.configuration.http2.pingTimeout)
        )
        try channel.pipeline.syncOperations.addHandler(handler)
        connection.speaksHTTP2 = true
    }

    /// Opens a stream for a request that already counts in `connection.streams`.
    private func openStream(
        on connection: HTTP2UpstreamConnection,
        origin: Origin,
        reused: Bool,
        _ completion: @escaping (Result<UpstreamLease, any Error>) -> Void
    ) {
        recount(connection, origin: origin)
        guard let multiplexer = connection.multiplexer else {
            streamClosed(on: connection, origin: origin)
            return completion(.failure(ChannelError.ioOnClosedChannel))
        }
        let httpProtocol: HTTP2FramePayloadToHTTP1ClientCodec.HTTPProtocol = connection.target.scheme == .https ? .https : .http
        multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: httpProtocol))
                try stream.pipeline.syncOperations.addHandler(UpstreamHandler())
            }
        }
        .assumeIsolated()
        .whenComplete { result in
            switch result {
            case .success(let stream):
                guard let handler = try? stream.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                    stream.close(promise: nil)
                    self.streamClosed(on: connection, origin: origin)
                    return completion(.failure(ChannelError.ioOnClosedChannel))
                }
                handler.connection = connection
                stream.closeFuture.assumeIsolated().whenComplete { _ in self.streamClosed(on: connection, origin: origin) }
                if reused { origin.metrics.reused.increment() }
                completion(.success(UpstreamLease(channel: stream, handler: handler, reused: reused)))
            case .failure(let error):
                self.streamClosed(on: connection, origin: origin)
                if reused && (connection.state == .draining || connection.state == .closed) {
                    // The connection went away before the stream opened, so nothing was sent: another one
                    // takes the request (a new connection's stream is not passed on again).
                    return self.leaseHTTP2(
                        connection.target, origin: origin, destinations: connection.destinations, connectTimeout: connection.connectTimeout, completion
                    )
                }
                completion(.failure(error))
            }
        }
    }

    /// A stream ended. A draining connection closes with its last stream; of the idle ones, one is kept.
    private func streamClosed(on connection: HTTP2UpstreamConnection, origin: Origin) {
        connection.streams -= 1
        recount(connection, origin: origin)
        guard connection.streams == 0 else { return }
        switch connection.state {
        case .draining:
            connection.channel?.close(promise: nil)
        case .ready:
            if origin.http2.contains(where: { $0 !== connection && $0.state == .ready && $0.streams == 0 }) {
                connection.state = .draining
                connection.channel?.close(promise: nil)
            }
        case .connecting, .closed:
            break
        }
    }

    /// The upstream's SETTINGS arrived: the first make the connection ready and give the waiting
    /// requests their streams; those beyond its stream limit look for another connection. Waiters that
    /// took its last stream IDs leave it draining.
    func http2Settings(_ connection: HTTP2UpstreamConnection) {
        guard connection.state == .connecting, let origin = origin(existing: connection.target) else { return }
        connection.state = connection.streamsTaken >= connection.streamLimit ? .draining : .ready
        origin.metrics.connected.increment()
        let waiters = connection.waiters
        connection.waiters = []
        for (index, waiter) in waiters.enumerated() {
            if index < connection.maximumStreams {
                openStream(on: connection, origin: origin, reused: false, waiter)
            } else {
                connection.returnStream()
                recount(connection, origin: origin)
                if connection.maximumStreams == 0 {
                    // Another connection would say the same: the request's retry policy decides.
                    waiter(.failure(UpstreamHTTP2Error(code: .noStreams)))
                } else {
                    leaseHTTP2(connection.target, origin: origin, destinations: connection.destinations, connectTimeout: connection.connectTimeout, waiter)
                }
            }
        }
        if connection.state == .draining && connection.streams == 0 { connection.channel?.close(promise: nil) }
    }

    /// The upstream sent GOAWAY: the connection drains, taking no new stream and closing with its last.
    /// A GOAWAY before SETTINGS fails the requests waiting for the connection (an upstream that sends it
    /// first would send it to every new connection).
    func http2GoingAway(_ connection: HTTP2UpstreamConnection) {
        guard connection.state != .closed else { return }
        if connection.state == .connecting {
            if connection.failure == nil { connection.failure = GoAwayBeforeSettings() }
            connection.channel?.close(promise: nil)
            return
        }
        connection.state = .draining
        if connection.streams == 0 { connection.channel?.close(promise: nil) }
    }

    /// A PING went unanswered: counted; the connection's handler closes it, which fails its streams.
    func http2PingTimedOut(_ connection: HTTP2UpstreamConnection) {
        origin(existing: connection.target)?.metrics.pingTimeouts.increment()
    }

    /// The connection closed. Waiting requests fail: with the TLS or ALPN error, else as an upstream that
    /// does not speak HTTP/2 when the preface went out and no SETTINGS came back. Its open streams are
    /// closed by the multiplexer, each failing its own request.
    func http2Closed(_ connection: HTTP2UpstreamConnection) {
        guard connection.state != .closed, let origin = origin(existing: connection.target) else { return }
        let wasConnecting = connection.state == .connecting
        connection.state = .closed
        origin.http2.removeAll { $0 === connection }
        recount(connection, origin: origin)
        let waiters = connection.waiters
        connection.waiters = []
        guard !waiters.isEmpty else { return }
        let error: any Error
        switch connection.failure {
        case let failure as UpstreamHTTP2Error: error = failure
        case let failure? where connection.channel == nil || !connection.speaksHTTP2: error = failure
        case let failure: error = UpstreamHTTP2Error(code: .noSettings(underlying: failure))
        }
        // A failed TCP connect was counted where it failed.
        if wasConnecting && connection.channel != nil { origin.metrics.connectFailed.increment() }
        for waiter in waiters { waiter(.failure(error)) }
    }

    /// Counts the connection as active while it carries a stream, idle while open without one.
    private func recount(_ connection: HTTP2UpstreamConnection, origin: Origin) {
        let wanted: UpstreamMetrics.Count =
            connection.state == .closed || connection.channel == nil ? .uncounted : connection.streams > 0 ? .active : .idle
        origin.metrics.recount(from: connection.counted, to: wanted)
        connection.counted = wanted
    }
}
