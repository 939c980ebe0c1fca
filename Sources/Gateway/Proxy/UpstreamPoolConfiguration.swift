/// How the gateway's upstream pools keep their connections. One value for the whole gateway, not per
/// route: connections are pooled per origin, and every route to an origin shares them.
public struct UpstreamPoolConfiguration: Sendable, Hashable {
    /// Idle HTTP/1.1 connections kept per origin and event loop; more are closed as their requests end.
    /// Default 64.
    public var maximumIdlePerOrigin: Int
    public var http2: HTTP2

    /// - Parameters:
    ///   - maximumIdlePerOrigin: Idle HTTP/1.1 connections kept per origin and event loop. Default 64.
    ///   - http2: How HTTP/2 connections are kept alive. Default: a PING after 30 s without a frame,
    ///     closed when nothing answers it in 10 s.
    public init(maximumIdlePerOrigin: Int = 64, http2: HTTP2 = HTTP2()) {
        self.maximumIdlePerOrigin = maximumIdlePerOrigin
        self.http2 = http2
    }

    /// How multiplexed HTTP/2 connections are found dead and retired.
    ///
    /// A connection whose peer vanished without a reset (host gone, a NAT or firewall dropped the flow)
    /// reads nothing ever again, and every stream put on it would hang until its request timed out. So
    /// when a connection has read nothing for ``pingInterval``, the gateway sends a PING; when nothing at
    /// all arrives in the ``pingTimeout`` after it, the connection is closed, its streams fail at once as
    /// on a lost connection, and the next request opens a new one. Idle connections are pinged too, so a
    /// dead one leaves the pool before a request is put on it. Busy connections read frames all the time
    /// and send no PING.
    ///
    /// | pingInterval | pingTimeout | a dead connection is closed, after its last frame |
    /// |--------------|-------------|----------------------------------------------------|
    /// | 30 s         | 10 s        | 40 s                                               |
    /// | 10 s         | 5 s         | 15 s                                               |
    /// | 0            | –           | never (no PINGs)                                   |
    public struct HTTP2: Sendable, Hashable {
        /// How long a connection may read nothing before the gateway sends a PING; `.zero` sends none.
        /// Default 30 s. gRPC servers by default take repeated PINGs more often than every 5 minutes as
        /// abuse and close the connection with GOAWAY: harmless when it is idle, but it cuts a stream
        /// that stays silent for minutes.
        public var pingInterval: Duration
        /// How long after a PING the gateway waits for its ACK, or any other frame, before it closes the
        /// connection as dead; more than zero. Default 10 s: an upstream that pauses for a few seconds (a
        /// garbage collection, a burst of load) keeps its connection and the requests on it.
        public var pingTimeout: Duration
        /// Streams a connection carries in its lifetime before it drains: takes no new stream, finishes
        /// the ones it carries, and closes with the last. Lowered only by tests.
        var streamsPerConnection = HTTP2.maximumStreamsPerConnection

        /// Client stream IDs are the odd numbers up to 2³¹−1, so a connection has 2³⁰ of them; NIO's
        /// multiplexer traps when it computes the ID after the last one. A margin of 1,024 keeps the
        /// count clear of that.
        static let maximumStreamsPerConnection = (1 << 30) - 1024

        /// - Parameters:
        ///   - pingInterval: Silence before a PING; `.zero` sends none. Default 30 s.
        ///   - pingTimeout: Silence after a PING before the connection is closed as dead. Default 10 s.
        public init(pingInterval: Duration = .seconds(30), pingTimeout: Duration = .seconds(10)) {
            self.pingInterval = pingInterval
            self.pingTimeout = pingTimeout
        }
    }
}
