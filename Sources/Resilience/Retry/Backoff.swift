/// The wait before a retry: capped exponential growth, then jitter.
///
/// Before retry `n` (`n = 1` for the first retry, that is the second attempt) the delay is
///
/// ```
/// d = min(max, base × 2^(n−1))
/// ```
///
/// and the wait is, by ``BackoffConfiguration/Jitter``:
///
/// ```
/// Full:  U[0, d]
/// Equal: d/2 + U[0, d/2]
/// None:  d
/// ```
///
/// where `U[a, b]` is uniform over the closed range at nanosecond resolution. With the defaults
/// (base 25 ms, max 250 ms):
///
/// | retry | d      | Full      | Equal          | None   |
/// |-------|--------|-----------|----------------|--------|
/// | 1     | 25 ms  | 0–25 ms   | 12.5–25 ms     | 25 ms  |
/// | 2     | 50 ms  | 0–50 ms   | 25–50 ms       | 50 ms  |
/// | 3     | 100 ms | 0–100 ms  | 50–100 ms      | 100 ms |
/// | 4     | 200 ms | 0–200 ms  | 100–200 ms     | 200 ms |
/// | 5+    | 250 ms | 0–250 ms  | 125–250 ms     | 250 ms |
///
/// This is the Route's formula, not Envoy's `U[0, (2^n − 1) × base)`; AWS's analysis of the jitter modes
/// ("Exponential Backoff and Jitter") applies unchanged. The random source is injected, so tests can pin it.
public struct Backoff: Sendable, Hashable {
    /// The base, cap and jitter.
    public let configuration: BackoffConfiguration

    /// A backoff with the given configuration.
    ///
    /// - Parameter configuration: The base, cap and jitter. A `max` below `base` is raised to `base`.
    public init(configuration: BackoffConfiguration = BackoffConfiguration()) {
        var configuration = configuration
        configuration.base = Swift.max(.zero, configuration.base)
        configuration.max = Swift.max(configuration.base, configuration.max)
        self.configuration = configuration
    }

    /// The delay before retry `retry`, before jitter: `min(max, base × 2^(retry−1))`.
    ///
    /// - Parameter retry: The retry, 1 for the first; values below 1 are treated as 1.
    /// - Returns: The capped exponential delay.
    public func delay(forRetry retry: Int) -> Duration {
        self.configuration.base.doubled(Swift.max(1, retry) - 1, cappedAt: self.configuration.max)
    }

    /// The wait before retry `retry`, jitter applied.
    ///
    /// - Parameters:
    ///   - retry: The retry, 1 for the first; values below 1 are treated as 1.
    ///   - generator: The random source for the jitter; one value is drawn unless the jitter is
    ///     ``BackoffConfiguration/Jitter/none``.
    /// - Returns: A wait in `[0, d]` (Full), `[d/2, d]` (Equal) or exactly `d` (None).
    public func wait(beforeRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let delay = self.delay(forRetry: retry)
        switch self.configuration.jitter {
        case .full:
            return .random(upTo: delay, using: &generator)
        case .equal:
            let half = delay / 2
            return half + .random(upTo: delay - half, using: &generator)
        case .none:
            return delay
        }
    }
}
