/// The retry budget of one upstream, shared by all its requests: Envoy's `retry_budget`, with a count
/// ledger so that fast failures cannot slip past it, and a per-second floor.
///
/// A retry is admitted when either
///
/// 1. **the ratio allows it**: `(retriesInFlight + 1) × 100 ≤ percent × requestsInFlight` (Envoy's
///    concurrency budget) **and** the ledger holds a retry's worth of credit; or
/// 2. **the floor allows it**: fewer than `minPerSecond` retries have been admitted by the floor in the
///    current second (seconds counted from the budget's creation).
///
/// The ledger is what makes the budget hold during an outage whose failures are instant (connection
/// refused): such retries are in flight for next to no time, so a concurrency limit alone would never bind.
/// Every request started adds `percent` hundredths of a retry; every retry admitted by the ratio spends one
/// retry (100 hundredths). The ledger is capped at `percent × requestsInFlight` hundredths, so credit
/// earned while the upstream was healthy cannot be hoarded into a burst larger than the current load
/// would allow. Hence, over any run, for `N` requests started and `S` distinct seconds in which the floor
/// admitted retries,
///
/// ```
/// retries  ≤ ⌊percent × N / 100⌋ + minPerSecond × S
/// attempts ≤ (1 + percent/100) × N + minPerSecond × S
/// ```
///
/// With the defaults (20 %, 3 per second): at 100 requests per second in a full outage, at most about
/// 20 + 3 = 23 retries per second reach the upstream, however many attempts each request may make.
///
/// The caller reports every request (``requestStarted()``, ``requestFinished()``) and every admitted retry
/// (``retryFinished()`` when the retry attempt ends, or when the request gives up during the backoff wait).
/// One budget per upstream; in a gateway with several event loops, keep it in a lock
/// (``SharedRetryBudget``) or give each loop its own budget with the same configuration.
public struct RetryBudget<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// The percentage and the floor.
    public let configuration: RetryBudgetConfiguration

    /// Requests started and not yet finished.
    public private(set) var requestsInFlight = 0
    /// Retries admitted and not yet finished.
    public private(set) var retriesInFlight = 0
    /// Retries admitted since the budget was created.
    public private(set) var retriesAdmitted: Int64 = 0
    /// Retries refused since the budget was created.
    public private(set) var retriesRefused: Int64 = 0

    /// Ledger credit in hundredths of a retry.
    private var credit = 0
    /// The second (since `origin`) the floor count applies to.
    private var floorSecond: Int64 = .min
    /// Retries admitted by the floor in `floorSecond`.
    private var floorAdmitted = 0
    private let origin: Instant

    /// A budget with nothing in flight.
    ///
    /// - Parameters:
    ///   - configuration: The percentage and floor; a percentage outside 0–100 and a negative floor are
    ///     clamped.
    ///   - now: The current instant; the floor's seconds are counted from it.
    public init(configuration: RetryBudgetConfiguration = RetryBudgetConfiguration(), now: Instant) {
        var configuration = configuration
        configuration.percent = min(100, max(0, configuration.percent))
        configuration.minPerSecond = max(0, configuration.minPerSecond)
        self.configuration = configuration
        self.origin = now
    }

    /// Records that a request to the upstream started (before its first attempt).
    public mutating func requestStarted() {
        self.requestsInFlight += 1
        // Stays within the cap: `requestFinished()` clamps, and each start raises credit and cap alike.
        self.credit += self.configuration.percent
    }

    /// Records that a request finished, whatever its outcome and however many attempts it made.
    public mutating func requestFinished() {
        self.requestsInFlight = max(0, self.requestsInFlight - 1)
        self.credit = min(self.credit, self.creditCap)
    }

    /// Asks for a retry; admitted retries count as in flight until ``retryFinished()``.
    ///
    /// - Parameter now: The current instant, for the per-second floor.
    /// - Returns: `true` if the retry may go ahead; `false` if the budget is exhausted.
    public mutating func tryAcquireRetry(now: Instant) -> Bool {
        let percent = self.configuration.percent
        if (self.retriesInFlight + 1) * 100 <= percent * self.requestsInFlight && self.credit >= 100 {
            self.credit -= 100
            return self.admit()
        }
        let second = now.secondsSince(self.origin)
        if second != self.floorSecond {
            self.floorSecond = second
            self.floorAdmitted = 0
        }
        if self.floorAdmitted < self.configuration.minPerSecond {
            self.floorAdmitted += 1
            return self.admit()
        }
        self.retriesRefused += 1
        return false
    }

    /// Records that an admitted retry finished (or was abandoned before it started).
    public mutating func retryFinished() {
        self.retriesInFlight = max(0, self.retriesInFlight - 1)
    }

    private var creditCap: Int { self.configuration.percent * self.requestsInFlight }

    private mutating func admit() -> Bool {
        self.retriesInFlight += 1
        self.retriesAdmitted += 1
        return true
    }
}
