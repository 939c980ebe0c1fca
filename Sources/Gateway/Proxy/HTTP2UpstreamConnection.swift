import IPAddresses
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// One multiplexed HTTP/2 connection to an upstream, owned by its event loop's ``UpstreamPool`` and
/// touched only on that loop.
///
/// ```
///                           GOAWAY, or its last stream ID taken
/// connecting ──SETTINGS──▶ ready ─────────────────────────────▶ draining ──last stream ends──▶ (closed by the pool)
///      │                     │                                      │
///      └── closed, no SETTINGS (waiting requests fail: not HTTP/2) ──┴── closed (lost, or no PING answer) ──▶ closed
/// ```
///
/// Requests that arrive while it connects wait for it, as many as it is assumed to carry; each gets a
/// stream once the upstream's SETTINGS arrived. A draining connection takes no new stream; the ones it
/// carries finish.
final class HTTP2UpstreamConnection {
    enum State {
        case connecting
        case ready
        case draining
        case closed
    }

    /// Streams a connection carries until the upstream's SETTINGS say otherwise, and when they set no
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (unlimited by RFC 9113; a cap keeps one connection from
    /// carrying every request).
    static let assumedMaximumStreams = 100

    let target: UpstreamTarget
    let connectTimeout: TimeAmount
    /// The addresses the connection was allowed to go to, for the requests it hands on to another connection.
    let destinations: DestinationPolicy
    /// Streams the connection carries in its lifetime (``UpstreamPoolConfiguration/HTTP2``).
    let streamLimit: Int
    var state = State.connecting
    /// Set once the TCP connection is up.
    var channel: (any Channel)?
    var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
    /// Streams open, or promised to requests waiting for the connection.
    var streams = 0
    /// Streams opened or promised since the connection was made, each taking a stream ID.
    private(set) var streamsTaken = 0
    /// The upstream's `SETTINGS_MAX_CONCURRENT_STREAMS`, capped at ``assumedMaximumStreams``.
    var maximumStreams = HTTP2UpstreamConnection.assumedMaximumStreams
    /// The last stream the upstream will process, from its GOAWAY; streams after it were not processed.
    var lastStreamID: HTTP2StreamID?
    /// Requests waiting for the connection to be ready.
    var waiters: [(Result<UpstreamLease, any Error>) -> Void] = []
    /// The first error seen on the connection.
    var failure: (any Error)?
    /// Whether the HTTP/2 handlers are in the pipeline (after ALPN on a TLS connection).
    var speaksHTTP2 = false
    /// How the connection is counted in the origin's metrics.
    var counted = UpstreamMetrics.Count.uncounted

    init(target: UpstreamTarget, connectTimeout: TimeAmount, destinations: DestinationPolicy, streamLimit: Int) {
        self.destinations = destinations
        self.target = target
        self.connectTimeout = connectTimeout
        self.streamLimit = streamLimit
    }

    /// Whether a new stream may go on this connection.
    var hasRoom: Bool { state == .ready && streams < maximumStreams && streamsTaken < streamLimit }

    /// Whether a request may wait for this connection to be ready.
    var takesWaiters: Bool { state == .connecting && streams < maximumStreams && streamsTaken < streamLimit }

    /// Counts a stream promised to a request. The last stream ID taken drains a ready connection.
    func takeStream() {
        streams += 1
        streamsTaken += 1
        if streamsTaken >= streamLimit && state == .ready { state = .draining }
    }

    /// Takes back a promised stream that was never opened (its request went to another connection).
    func returnStream() {
        streams -= 1
        streamsTaken -= 1
    }
}

@available(*, unavailable)
extension HTTP2UpstreamConnection: Sendable {}

/// Why an HTTP/2 upstream connection cannot carry a request.
struct UpstreamHTTP2Error: Error, CustomStringConvertible {
    enum Code {
        /// TLS ALPN did not select `h2`.
        case alpn(selected: String?)
        /// The connection ended before the upstream's SETTINGS arrived, or it sent GOAWAY first.
        case noSettings(underlying: (any Error)?)
        /// The upstream's SETTINGS allow no stream at all (`SETTINGS_MAX_CONCURRENT_STREAMS` 0).
        case noStreams
        /// Nothing arrived for `timeout` after a PING, sent when the connection had read nothing for
        /// `interval`: the gateway closed it as dead.
        case pingTimeout(interval: TimeAmount, timeout: TimeAmount)
    }

    var code: Code

    /// Whether the upstream does not speak HTTP/2 as configured: a mismatch of configuration, not a
    /// passing failure, so the request is not retried.
    var isProtocolMismatch: Bool {
        switch code {
        case .alpn, .noSettings: true
        case .noStreams, .pingTimeout: false
        }
    }

    var description: String {
        switch code {
        case .alpn(let selected):
            "the upstream did not select HTTP/2 by TLS ALPN (it selected \(selected.map { "\"\($0)\"" } ?? "no protocol")); it may speak only HTTP/1.1"
        case .noSettings(let underlying):
            "the upstream did not answer the HTTP/2 connection preface with SETTINGS\(underlying.map { " (\($0))" } ?? ""); it may not speak HTTP/2 without TLS (h2c with prior knowledge)"
        case .noStreams:
            "the upstream's HTTP/2 SETTINGS allow no stream (SETTINGS_MAX_CONCURRENT_STREAMS 0)"
        case .pingTimeout(let interval, let timeout):
            "the HTTP/2 connection read nothing for \(Self.format(interval)), and nothing answered a PING within \(Self.format(timeout)); the gateway closed it as dead"
        }
    }

    /// `250 ms`, `10 s`.
    private static func format(_ time: TimeAmount) -> String {
        let milliseconds = time.nanoseconds / 1_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(milliseconds) ms"
    }
}

/// An upstream's GOAWAY that arrived before its SETTINGS.
struct GoAwayBeforeSettings: Error, CustomStringConvertible {
    var description: String { "it sent GOAWAY before SETTINGS" }
}

/// An HTTP/2 stream the upstream did not process: refused with `REFUSED_STREAM`, or after the last
/// stream its GOAWAY named. Retrying it cannot repeat its effect (RFC 9113 §8.7).
struct UpstreamStreamRefused: Error, CustomStringConvertible {
    var streamID: HTTP2StreamID
    /// The last stream the upstream's GOAWAY named, when that is why.
    var lastStreamID: HTTP2StreamID?

    var description: String {
        if let lastStreamID {
            return "did not process HTTP/2 stream \(Int(streamID)): its GOAWAY named \(Int(lastStreamID)) as the last stream it processes"
        }
        return "refused HTTP/2 stream \(Int(streamID)) (REFUSED_STREAM)"
    }

    /// The refusal `error` stands for on a stream of `connection`, if it is one.
    static func refusal(_ error: any Error, on connection: HTTP2UpstreamConnection?) -> UpstreamStreamRefused? {
        guard let closed = error as? NIOHTTP2Errors.StreamClosed else { return nil }
        if closed.errorCode == .refusedStream { return UpstreamStreamRefused(streamID: closed.streamID) }
        // Streams after a GOAWAY's last stream are closed with CANCEL as it arrives.
        if let last = connection?.lastStreamID, closed.streamID > last {
            return UpstreamStreamRefused(streamID: closed.streamID, lastStreamID: last)
        }
        return nil
    }
}

/// Watches an HTTP/2 upstream connection's own frames and lifetime for its pool: SETTINGS make it
/// ready (and say how many streams it takes), GOAWAY drains it, closing removes it. Once it is ready, it
/// keeps the connection alive: after `pingInterval` without a read it sends a PING, and when nothing
/// arrives in the `pingTimeout` after that, it closes the connection as dead. One timer per connection,
/// set again only when it fires; a read just notes the time.
final class HTTP2UpstreamConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    private let connection: HTTP2UpstreamConnection
    private weak var pool: UpstreamPool?
    /// `.zero`: no PINGs.
    private let pingInterval: TimeAmount
    private let pingTimeout: TimeAmount
    /// When the connection last read anything (frames of any stream: the HTTP/2 handler before this one
    /// passes every read's completion on).
    private var lastRead = NIODeadline.now()
    /// When the PING that has had no answer yet went out.
    private var pingSent: NIODeadline?
    private var keepAlive: Scheduled<Void>?

    init(connection: HTTP2UpstreamConnection, pool: UpstreamPool, pingInterval: TimeAmount, pingTimeout: TimeAmount) {
        self.connection = connection
        self.pool = pool
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.payload {
        case .settings(.settings(let settings)):
            for setting in settings where setting.parameter == .maxConcurrentStreams {
                connection.maximumStreams = min(setting.value, HTTP2UpstreamConnection.assumedMaximumStreams)
            }
            pool?.http2Settings(connection)
            if keepAlive == nil && pingInterval > .zero && connection.state != .closed {
                lastRead = .now()
                scheduleKeepAlive(at: lastRead + pingInterval, context: context)
            }
        case .goAway(let lastStreamID, _, _):
            connection.lastStreamID = lastStreamID
            pool?.http2GoingAway(connection)
        default:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        lastRead = .now()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if connection.failure == nil { connection.failure = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        keepAlive?.cancel()
        keepAlive = nil
        pool?.http2Closed(connection)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        keepAlive?.cancel()
        keepAlive = nil
    }

    private func scheduleKeepAlive(at deadline: NIODeadline, context: ChannelHandlerContext) {
        keepAlive = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) {
            self.keepAliveFired(context: context)
        }
    }

    /// The timer's turn: a PING answered (by anything read since) sets it for the next silence; one not
    /// answered closes the connection; else a PING goes out once the connection was silent long enough.
    private func keepAliveFired(context: ChannelHandlerContext) {
        keepAlive = nil
        guard context.channel.isActive else { return }
        let now = NIODeadline.now()
        if let sent = pingSent {
            guard lastRead >= sent else { return closeAsDead(context: context) }
            pingSent = nil
        }
        let due = lastRead + pingInterval
        guard due <= now else { return scheduleKeepAlive(at: due, context: context) }
        pingSent = now
        let ping = HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: UInt64(now.uptimeNanoseconds)), ack: false))
        context.writeAndFlush(wrapOutboundOut(ping), promise: nil)
        scheduleKeepAlive(at: now + pingTimeout, context: context)
    }

    /// Closes a connection whose PING went unanswered. Over TLS, beneath the TLS handler: a dead peer
    /// sends no close_notify, and waiting for one would hold the connection's streams for its timeout
    /// instead of failing them now.
    private func closeAsDead(context: ChannelHandlerContext) {
        if connection.failure == nil { connection.failure = UpstreamHTTP2Error(code: .pingTimeout(interval: pingInterval, timeout: pingTimeout)) }
        pool?.http2PingTimedOut(connection)
        if let tls = try? context.pipeline.syncOperations.context(handlerType: NIOSSLClientHandler.self) {
            tls.close(promise: nil)
        } else {
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension HTTP2UpstreamConnectionHandler: Sendable {}

/// Waits for the TLS handshake of an HTTP/2 upstream connection: when ALPN selected `h2` it puts the
/// HTTP/2 handlers in place and leaves; otherwise it closes the connection with an
/// ``UpstreamHTTP2Error``.
final class HTTP2NegotiationHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connection: HTTP2UpstreamConnection
    private weak var pool: UpstreamPool?

    init(connection: HTTP2UpstreamConnection, pool: UpstreamPool) {
        self.connection = connection
        self.pool = pool
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case TLSUserEvent.handshakeCompleted(let selected) = event else {
            return context.fireUserInboundEventTriggered(event)
        }
        guard selected == "h2", let pool else {
            connection.failure = UpstreamHTTP2Error(code: .alpn(selected: selected))
            return context.close(promise: nil)
        }
        do {
            try pool.speakHTTP2(on: context.channel, connection)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        } catch {
            connection.failure = error
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if connection.failure == nil { connection.failure = error }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pool?.http2Closed(connection)
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension HTTP2NegotiationHandler: Sendable {}
