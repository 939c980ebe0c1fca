public import Foundation

/// Wall-clock time for credentials: tokens expire at wall-clock instants (`expireTime`, `exp`), status reports them
/// as RFC 3339 times, and the token services compare `iat`/`exp` with their own wall clocks.
///
/// Injected everywhere a time is read, so tests move time with a manual clock instead of sleeping.
public protocol CredentialClock: Sendable {
    /// The current time.
    func now() -> Date

    /// Suspends until `deadline` by this clock.
    ///
    /// - Parameter deadline: When to resume; a time in the past resumes at once.
    /// - Throws: `CancellationError` if the task is cancelled first.
    func sleep(until deadline: Date) async throws
}

/// The system's wall clock; sleeps on the continuous clock for the remaining interval.
public struct SystemCredentialClock: CredentialClock {
    public init() {}

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let interval = deadline.timeIntervalSinceNow
        if interval > 0 {
            try await Task.sleep(for: .seconds(interval))
        } else {
            try Task.checkCancellation()
        }
    }
}

extension Date {
    /// `self + duration`.
    func adding(_ duration: Duration) -> Date {
        addingTimeInterval(duration.timeInterval)
    }
}

extension Duration {
    /// The duration in seconds as Foundation counts time.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    /// The duration scaled by a factor.
    func scaled(by factor: Double) -> Duration {
        .seconds(timeInterval * factor)
    }
}
