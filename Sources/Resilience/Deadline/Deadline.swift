/// The point in time by which a request must be answered, retries and backoff included.
///
/// A Route's `timeouts.request` of `0` means no limit; such a deadline is ``unlimited`` and
/// ``remaining(now:)`` returns `nil`. Every attempt is bounded by what is left:
///
/// ```
/// remaining(now)      = max(0, deadline − now)                (nil when unlimited)
/// attemptTimeout(now) = min(perTry, remaining(now))           (nil when both are unlimited)
/// ```
///
/// For example, with `request: 10s` and `perTry: 3s`, an attempt started 8.5 s into the request gets
/// 1.5 s, not 3 s.
public struct Deadline<Instant: InstantProtocol>: Sendable, Hashable where Instant.Duration == Duration {
    /// The instant by which the request must be done; `nil` for no limit.
    public let instant: Instant?

    /// A deadline that never passes.
    public static var unlimited: Deadline { Deadline(instant: nil) }

    /// The deadline at a given instant.
    ///
    /// - Parameter instant: The instant by which the request must be done; `nil` for no limit.
    public init(instant: Instant?) {
        self.instant = instant
    }

    /// The deadline `timeout` after `start`.
    ///
    /// - Parameters:
    ///   - start: When the request started.
    ///   - timeout: The request timeout; `.zero` (or less) means no limit, as for `timeouts.request`.
    public init(start: Instant, timeout: Duration) {
        self.instant = timeout > .zero ? start.advanced(by: timeout) : nil
    }

    /// Whether the deadline never passes.
    public var isUnlimited: Bool { self.instant == nil }

    /// The time left before the deadline.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: `nil` if the deadline is unlimited; otherwise the time left, `.zero` once it has passed.
    public func remaining(now: Instant) -> Duration? {
        guard let instant else { return nil }
        return max(.zero, now.duration(to: instant))
    }

    /// Whether the deadline has passed: nothing is left of it.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: `true` once `now` has reached the deadline; never for an unlimited deadline.
    public func hasPassed(now: Instant) -> Bool {
        guard let instant else { return false }
        return now >= instant
    }

    /// The timeout for an attempt that starts now: the per-try timeout, cut to what is left of the deadline.
    ///
    /// - Parameters:
    ///   - perTry: The per-try timeout (`timeouts.perTry`); `nil` when the Route sets none.
    ///   - now: The current instant.
    /// - Returns: `min(perTry, remaining(now))`; whichever is set if only one is; `nil` if neither limits the
    ///   attempt. `.zero` means the deadline has passed and no attempt should start.
    public func attemptTimeout(perTry: Duration?, now: Instant) -> Duration? {
        switch (perTry, self.remaining(now: now)) {
        case (nil, nil): nil
        case (let perTry?, nil): perTry
        case (nil, let remaining?): remaining
        case (let perTry?, let remaining?): min(perTry, remaining)
        }
    }
}
