/// Time limits for one request, as a Route's `timeouts` sets them.
///
/// The data plane gets this value already defaulted and validated by the controller; the defaults here
/// are the Route's (`Timeouts.defaultRequest` and friends).
public struct TimeoutConfiguration: Sendable, Hashable {
    /// The whole request, retries and backoff included; `.zero` means no limit. Route: `timeouts.request`,
    /// default 15 s.
    public var request: Duration
    /// Each attempt; `nil` means an attempt may use whatever is left of ``request``. Route: `timeouts.perTry`,
    /// default absent.
    public var perTry: Duration?
    /// Establishing a connection to the upstream, TCP and TLS. Route: `timeouts.connect`, default 2 s.
    public var connect: Duration
    /// The longest an in-flight request may go without a byte in either direction. Route: `timeouts.idle`,
    /// default 60 s.
    public var idle: Duration

    /// Time limits with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - request: The whole request; `.zero` means no limit. Default 15 s.
    ///   - perTry: Each attempt; `nil` means only the request limit applies. Default `nil`.
    ///   - connect: Connection establishment. Default 2 s.
    ///   - idle: Inactivity of an in-flight request. Default 60 s.
    public init(
        request: Duration = .seconds(15),
        perTry: Duration? = nil,
        connect: Duration = .seconds(2),
        idle: Duration = .seconds(60)
    ) {
        self.request = request
        self.perTry = perTry
        self.connect = connect
        self.idle = idle
    }

    /// The deadline of a request that starts at `start`.
    ///
    /// - Parameter start: When the gateway received the request.
    /// - Returns: `start + request`, or an unlimited deadline when ``request`` is `.zero`.
    public func deadline<Instant: InstantProtocol>(startingAt start: Instant) -> Deadline<Instant>
    where Instant.Duration == Duration {
        Deadline(start: start, timeout: self.request)
    }
}
