/// How the gateway's upstream pools keep their connections. One value for the whole gateway, not per
/// route: connections are pooled per origin, and every route to an origin shares them.
public struct UpstreamPoolConfiguration: Sendable, Hashable {
    /// Idle HTTP/1.1 connections kept per origin and event loop; more are closed as their requests end.
    /// Default 64.
    public var maximumIdlePerOrigin: Int
    public var http2: HTTP2

    /// - Parameters:
    ///   - maximumIdlePerOrigin: Idle HTTP/1.1 connections kept per origin and event loop. Default 64.
    ///   - http2: How HTTP/2 connections are retired.
    public init(maximumIdlePerOrigin: Int = 64, http2: HTTP2 = HTTP2()) {
        self.maximumIdlePerOrigin = maximumIdlePerOrigin
        self.http2 = http2
    }

    /// How multiplexed HTTP/2 connections are retired.
    public struct HTTP2: Sendable, Hashable {
        /// Streams a connection carries in its lifetime before it drains: takes no new stream, finishes
        /// the ones it carries, and closes with the last. Lowered only by tests.
        var streamsPerConnection = HTTP2.maximumStreamsPerConnection

        /// Client stream IDs are the odd numbers up to 2³¹−1, so a connection has 2³⁰ of them; NIO's
        /// multiplexer traps when it computes the ID after the last one. A margin of 1,024 keeps the
        /// count clear of that.
        static let maximumStreamsPerConnection = (1 << 30) - 1024

        public init() {}
    }
}
