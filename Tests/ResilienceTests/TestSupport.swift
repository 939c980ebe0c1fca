import Resilience

/// A point on a test timeline: an offset from an arbitrary zero, so tests say "at 5 s" and never sleep.
struct TestInstant: InstantProtocol, CustomStringConvertible {
    var offset: Duration

    static let zero = TestInstant(offset: .zero)

    static func seconds(_ seconds: Double) -> TestInstant { TestInstant(offset: .seconds(seconds)) }
    static func milliseconds(_ milliseconds: Int) -> TestInstant { TestInstant(offset: .milliseconds(milliseconds)) }

    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: self.offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - self.offset }
    static func < (lhs: TestInstant, rhs: TestInstant) -> Bool { lhs.offset < rhs.offset }

    var description: String { "t+\(self.offset)" }
}

/// A random source that returns the given values in turn, cycling, and counts the draws.
///
/// `0` makes every jittered wait its shortest, `UInt64.max` its longest, `1 << 63` the middle.
struct FixedRandom: RandomNumberGenerator {
    static let lowest: UInt64 = 0
    static let highest: UInt64 = .max
    static let middle: UInt64 = 1 << 63

    private let values: [UInt64]
    private var index = 0
    private(set) var draws = 0

    init(_ values: UInt64...) {
        precondition(!values.isEmpty)
        self.values = values
    }

    mutating func next() -> UInt64 {
        defer {
            self.index = (self.index + 1) % self.values.count
            self.draws += 1
        }
        return self.values[self.index]
    }
}

/// A small deterministic generator (SplitMix64) for simulations that want varied but repeatable draws.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { self.state = seed }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
