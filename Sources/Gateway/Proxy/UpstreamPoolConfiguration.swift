/// How the gateway's upstream pools keep their connections. One value for the whole gateway, not per
/// route: connections are pooled per origin, and every route to an origin shares them.
public struct UpstreamPoolConfiguration: Sendable, Hashable {
    /// Idle HTTP/1.1 connections kept per origin and event loop; more are closed as their requests end.
    /// Default 64.
    public var maximumIdlePerOrigin: Int

    /// - Parameters:
    ///   - maximumIdlePerOrigin: Idle HTTP/1.1 connections kept per origin and event loop. Default 64.
    public init(maximumIdlePerOrigin: Int = 64) {
        self.maximumIdlePerOrigin = maximumIdlePerOrigin
    }
}
