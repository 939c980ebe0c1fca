/// An instant as an offset from an arbitrary origin: what the state machines take as "now", so a
/// test drives them with plain values and production with any `Clock` (see ``ClockSource``).
public struct MonotonicInstant: InstantProtocol, Sendable, Hashable, CustomStringConvertible {
    /// Time since the origin.
    public var offset: Duration

    public init(offset: Duration) { self.offset = offset }

    public static let zero = MonotonicInstant(offset: .zero)

    public func advanced(by duration: Duration) -> MonotonicInstant { MonotonicInstant(offset: offset + duration) }
    public func duration(to other: MonotonicInstant) -> Duration { other.offset - offset }
    public static func < (lhs: MonotonicInstant, rhs: MonotonicInstant) -> Bool { lhs.offset < rhs.offset }
    public var description: String { "t+\(offset)" }
}

/// A clock erased to "now" and "sleep until", in ``MonotonicInstant``s from the moment it was made.
struct ClockSource: Sendable {
    let now: @Sendable () -> MonotonicInstant
    let sleepUntil: @Sendable (MonotonicInstant) async throws -> Void

    init<C: Clock>(_ clock: C) where C.Duration == Duration {
        let origin = clock.now
        now = { MonotonicInstant(offset: origin.duration(to: clock.now)) }
        sleepUntil = { instant in try await clock.sleep(until: origin.advanced(by: instant.offset), tolerance: nil) }
    }

    func sleep(for duration: Duration) async throws {
        try await sleepUntil(now().advanced(by: duration))
    }
}

extension Duration {
    /// The duration in seconds as a `Double`.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) * 1e-18
    }
}
