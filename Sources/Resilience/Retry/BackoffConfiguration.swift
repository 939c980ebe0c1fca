/// How long to wait before each retry, as a Route's `retries.backoff` sets it.
public struct BackoffConfiguration: Sendable, Hashable {
    /// How the exponential delay is randomised (AWS, "Exponential Backoff and Jitter").
    public enum Jitter: Sendable, Hashable, CaseIterable {
        /// A uniform random wait in `[0, d]`. Spreads retries the most and does the least total work.
        case full
        /// `d/2` plus a uniform random wait in `[0, d/2]`: never less than half the delay.
        case equal
        /// Exactly `d`: retries of requests that failed together stay together. For tests and special cases.
        case none
    }

    /// The delay before the first retry. Route: `retries.backoff.base`, default 25 ms.
    public var base: Duration
    /// The longest delay, before jitter; at least ``base``. Route: `retries.backoff.max`, default 250 ms.
    public var max: Duration
    /// The randomisation. Route: `retries.backoff.jitter`, default `Full`.
    public var jitter: Jitter

    /// A backoff with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - base: The delay before the first retry. Default 25 ms.
    ///   - max: The longest delay. Default 250 ms.
    ///   - jitter: The randomisation. Default ``Jitter/full``.
    public init(base: Duration = .milliseconds(25), max: Duration = .milliseconds(250), jitter: Jitter = .full) {
        self.base = base
        self.max = max
        self.jitter = jitter
    }
}
