/// Limits on the retries to one upstream, as a Route's `retries.budget` sets them.
public struct RetryBudgetConfiguration: Sendable, Hashable {
    /// Retries in flight may be at most this percentage of the requests in flight, and retries started may
    /// be at most this percentage of the requests started. 0–100. Route: `retries.budget.percent`, default 20.
    public var percent: Int
    /// Retries per second allowed whatever the percentage says, so that an upstream with little traffic
    /// still gets retries. Route: `retries.budget.minPerSecond`, default 3.
    public var minPerSecond: Int

    /// A budget with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - percent: The retry ratio in percent, 0–100. Default 20.
    ///   - minPerSecond: Retries per second always allowed. Default 3.
    public init(percent: Int = 20, minPerSecond: Int = 3) {
        self.percent = percent
        self.minPerSecond = minPerSecond
    }
}
