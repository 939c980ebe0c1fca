/// How long a key waits before it is retried: client-go's `DefaultTypedControllerRateLimiter`, the
/// maximum of a per-key exponential backoff and an overall token bucket.
///
/// Per key: `delay(n) = min(baseDelay · 2ⁿ, maxDelay)`, `n` = failures since the last ``forget(_:)``:
///
/// | n | 0 | 1 | 2 | 3 | 4 | 10 | 17 | ≥ 18 |
/// |---|---|---|---|---|---|---|---|---|
/// | delay | 5 ms | 10 ms | 20 ms | 40 ms | 80 ms | 5.12 s | 655 s | 1000 s |
///
/// Overall: a bucket of `burst` tokens refilled at `qps`; each retry takes one, and once it is empty a
/// retry waits `-tokens / qps` (the 101st immediate retry waits 100 ms at 10 qps).
public struct RateLimiterConfiguration: Sendable, Hashable {
    /// The first retry's delay. Default 5 ms.
    public var baseDelay: Duration
    /// The longest per-key delay. Default 1000 s.
    public var maxDelay: Duration
    /// Retries per second over all keys once the burst is spent. Default 10.
    public var qps: Double
    /// Retries allowed at once. Default 100.
    public var burst: Int

    public init(
        baseDelay: Duration = .milliseconds(5),
        maxDelay: Duration = .seconds(1000),
        qps: Double = 10,
        burst: Int = 100
    ) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.qps = qps
        self.burst = burst
    }
}

/// The state of ``RateLimiterConfiguration``'s limiter, a pure value driven with "now".
struct RateLimiter<Key: Hashable> {
    let configuration: RateLimiterConfiguration
    private(set) var failures: [Key: Int] = [:]
    private var tokens: Double
    private var last: MonotonicInstant?

    init(configuration: RateLimiterConfiguration) {
        self.configuration = configuration
        self.tokens = Double(configuration.burst)
    }

    /// The delay before retrying `key` now; counts a failure and takes a token.
    mutating func when(_ key: Key, now: MonotonicInstant) -> Duration {
        let exponential = backoff(for: key)
        let bucket = reserve(now: now)
        return max(exponential, bucket)
    }

    /// Resets the key's failure count (after a success).
    mutating func forget(_ key: Key) {
        failures[key] = nil
    }

    func numRequeues(_ key: Key) -> Int { failures[key] ?? 0 }

    private mutating func backoff(for key: Key) -> Duration {
        let exponent = failures[key] ?? 0
        failures[key] = exponent + 1
        let seconds = configuration.baseDelay.seconds * pow2(exponent)
        if seconds.isNaN || seconds >= configuration.maxDelay.seconds { return configuration.maxDelay }
        return configuration.baseDelay * (1 << min(exponent, 62))
    }

    private func pow2(_ exponent: Int) -> Double {
        exponent >= 1024 ? .infinity : Double(sign: .plus, exponent: exponent, significand: 1)
    }

    /// golang.org/x/time/rate `Limiter.Reserve().Delay()`.
    private mutating func reserve(now: MonotonicInstant) -> Duration {
        guard configuration.qps > 0 else { return .zero }
        if let last {
            let elapsed = max(0, last.duration(to: now).seconds)
            tokens = min(Double(configuration.burst), tokens + elapsed * configuration.qps)
        }
        last = now
        tokens -= 1
        if tokens >= 0 { return .zero }
        return .nanoseconds(Int64((-tokens / configuration.qps * 1e9).rounded()))
    }
}
