/// Jittered exponential backoff for reconnecting to the API server.
///
/// `delay(n) = min(initial · multiplierⁿ, maximum) · (1 − jitter · u)`, `u` uniform in [0, 1),
/// `n` = consecutive failures − 1. With the defaults (200 ms, ×2, 30 s, jitter 0.5):
///
/// | n | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | ≥ 8 |
/// |---|---|---|---|---|---|---|---|---|---|
/// | upper bound | 0.2 s | 0.4 s | 0.8 s | 1.6 s | 3.2 s | 6.4 s | 12.8 s | 25.6 s | 30 s |
///
/// Each delay lies between half the bound and the bound, so replicas that lost the server together
/// do not come back in lockstep.
public struct BackoffConfiguration: Sendable, Hashable {
    /// The first delay's upper bound. Default 200 ms.
    public var initial: Duration
    /// The largest delay. Default 30 s.
    public var maximum: Duration
    /// Growth per failure. Default 2.
    public var multiplier: Double
    /// The fraction of the delay that is random, in [0, 1]. Default 0.5.
    public var jitter: Double

    public init(
        initial: Duration = .milliseconds(200),
        maximum: Duration = .seconds(30),
        multiplier: Double = 2,
        jitter: Double = 0.5
    ) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = multiplier
        self.jitter = jitter
    }

    /// The delay after the `attempt`-th consecutive failure (0-based).
    public func delay(attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let exponent = Double(max(0, min(attempt, 64)))
        let bound = min(initial.seconds * power(multiplier, exponent), maximum.seconds)
        let factor = 1 - min(max(jitter, 0), 1) * Double.random(in: 0..<1, using: &random)
        return .nanoseconds(Int64((bound * factor * 1e9).rounded()))
    }
}

/// `base` raised to a whole `exponent` (the backoff only needs integer powers).
@inline(__always)
func power(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    var factor = base
    while remaining > 0 {
        if remaining & 1 == 1 { result *= factor }
        factor *= factor
        remaining >>= 1
    }
    return result
}
