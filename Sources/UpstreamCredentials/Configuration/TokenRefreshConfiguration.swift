extension RandomNumberGenerator {
    /// A uniform value in `[0, 1)` from one draw: the top 53 bits as a fraction. No rejection loop, so a fixed
    /// generator in a test gives a fixed answer (0 → 0, `.max` → just under 1).
    mutating func nextUnitInterval() -> Double {
        Double(next() >> 11) * 0x1p-53
    }
}

/// When a cached token is replaced, how long a fetch may take, and how failures are retried; `before` mirrors
/// `spec.refresh.before` of an UpstreamAuth, the rest are the gateway's settings.
///
/// See ``TokenRefreshStateMachine`` for the formulas.
public struct TokenRefreshConfiguration: Sendable, Hashable {
    /// A capped exponential backoff with equal jitter: before retry `n` (1-based) wait
    /// `d/2 + U[0, d/2]` where `d = min(max, base × 2^(n−1))`.
    public struct Backoff: Sendable, Hashable {
        public var base: Duration
        public var max: Duration

        public init(base: Duration, max: Duration) {
            self.base = base
            self.max = Swift.max(base, max)
        }

        /// `min(max, base × 2^(n−1))`, before jitter.
        public func delay(forRetry retry: Int) -> Duration {
            var delay = base
            var remaining = Swift.max(1, retry) - 1
            while remaining > 0 && delay < max {
                delay = delay * 2
                remaining -= 1
            }
            return Swift.min(delay, max)
        }

        /// The jittered wait before retry `retry`: `d/2 + U[0, d/2]`.
        public func wait(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
            let delay = self.delay(forRetry: retry)
            let half = delay / 2
            return half + (delay - half).scaled(by: generator.nextUnitInterval())
        }
    }

    /// Refresh this long before expiry; `nil` for `min(max(minimumBefore, beforeFraction × lifetime), lifetime / 2)`.
    /// A value not shorter than the token's lifetime is ignored for that token (the default applies).
    public var before: Duration?
    /// The floor of the default margin: 5 minutes.
    public var minimumBefore: Duration
    /// The default margin's share of the lifetime: 0.2.
    public var beforeFraction: Double
    /// Refresh up to this share of the margin earlier, at random, so replicas and entries spread out: 0.1.
    public var jitter: Double
    /// A token is handed out only while at least this much of it is left, so it does not expire in flight: 5 s.
    public var minimumRemainingValidity: Duration
    /// How long one fetch may take before it counts as a ``CredentialError/Reason/timeout``: 10 s.
    public var fetchTimeout: Duration
    /// Attempts per refresh round for transient failures (unreachable, timeout, 5xx, 429): 3.
    public var maxAttempts: Int
    /// The wait between attempts of a round: base 250 ms, max 2 s.
    public var retryBackoff: Backoff
    /// The wait before the next round after a round failed: base 1 s, max 60 s. Requests that find no valid token
    /// meanwhile fail at once with the last error instead of queueing behind a broken token service.
    public var failureBackoff: Backoff

    public init(
        before: Duration? = nil,
        minimumBefore: Duration = .seconds(300),
        beforeFraction: Double = 0.2,
        jitter: Double = 0.1,
        minimumRemainingValidity: Duration = .seconds(5),
        fetchTimeout: Duration = .seconds(10),
        maxAttempts: Int = 3,
        retryBackoff: Backoff = Backoff(base: .milliseconds(250), max: .seconds(2)),
        failureBackoff: Backoff = Backoff(base: .seconds(1), max: .seconds(60))
    ) {
        self.before = before
        self.minimumBefore = minimumBefore
        self.beforeFraction = beforeFraction
        self.jitter = jitter
        self.minimumRemainingValidity = minimumRemainingValidity
        self.fetchTimeout = fetchTimeout
        self.maxAttempts = max(1, maxAttempts)
        self.retryBackoff = retryBackoff
        self.failureBackoff = failureBackoff
    }

    /// The refresh margin for a token of `lifetime`, before jitter:
    /// `before` if set and shorter than the lifetime, else `min(max(minimumBefore, beforeFraction × L), L / 2)`.
    public func refreshMargin(forLifetime lifetime: Duration) -> Duration {
        if let before, before > .zero, before < lifetime { return before }
        let proportional = lifetime.scaled(by: beforeFraction)
        return min(max(minimumBefore, proportional), lifetime / 2)
    }
}
