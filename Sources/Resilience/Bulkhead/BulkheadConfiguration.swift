/// How many requests may be in flight to one upstream, and how many may wait for a slot, as a Route's
/// `concurrency` sets it (Envoy's `max_requests` and `max_pending_requests`).
public struct BulkheadConfiguration: Sendable, Hashable {
    /// Requests in flight to the upstream, 1–1000000. Route: `concurrency.maxRequests`, default 1024.
    public var maxRequests: Int
    /// Requests waiting for a slot, 0–1000000; beyond it a request is rejected at once.
    /// Route: `concurrency.maxPending`, default 1024.
    public var maxPending: Int

    /// A bulkhead with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - maxRequests: Requests in flight. Default 1024.
    ///   - maxPending: Requests waiting. Default 1024.
    public init(maxRequests: Int = 1024, maxPending: Int = 1024) {
        self.maxRequests = maxRequests
        self.maxPending = maxPending
    }
}
