extension Duration {
    /// The duration in whole nanoseconds, truncated toward zero and clamped to `Int64`.
    ///
    /// Every computation in this module that scales or randomises a duration works in nanoseconds, so the
    /// results are exact integers and do not depend on floating-point rounding.
    var clampedNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflowSum { return seconds < 0 ? .min : .max }
        return sum
    }

    /// The duration in whole seconds, rounded toward negative infinity.
    var flooredSeconds: Int64 {
        let (seconds, attoseconds) = self.components
        return attoseconds < 0 ? seconds - 1 : seconds
    }

    /// A uniformly distributed random duration in the closed range `[0, bound]`, at nanosecond resolution.
    ///
    /// One 64-bit value `r` is drawn and mapped to `⌊(bound + 1ns) × r / 2⁶⁴⌋`: `r = 0` gives `0`,
    /// `r = UInt64.max` gives `bound`, `r = 2⁶³` gives half of `bound + 1ns`, rounded down. The mapping never
    /// loops, so a test can pass a generator that returns constants and know the exact result; the bias
    /// against a perfectly uniform draw is below 2⁻³⁰ for durations under a century.
    ///
    /// - Parameters:
    ///   - bound: The largest result; a negative bound is treated as zero.
    ///   - generator: The random source.
    /// - Returns: A duration in `[0, bound]`.
    static func random(upTo bound: Duration, using generator: inout some RandomNumberGenerator) -> Duration {
        let nanoseconds = bound.clampedNanoseconds
        guard nanoseconds > 0 else { return .zero }
        let span = UInt64(nanoseconds) &+ 1  // at most 2^63, no overflow
        let draw = generator.next()
        let (high, _) = span.multipliedFullWidth(by: draw)
        return .nanoseconds(Int64(high))
    }

    /// The duration scaled by `2^exponent`, saturating at `limit` (and never above it).
    ///
    /// - Parameters:
    ///   - exponent: The power of two; negative values are treated as zero.
    ///   - limit: The cap.
    /// - Returns: `min(limit, self × 2^exponent)`.
    func doubled(_ exponent: Int, cappedAt limit: Duration) -> Duration {
        var value = self
        var remaining = Swift.max(0, exponent)
        while remaining > 0 && value < limit {
            // `value < limit` keeps `value + value` far from overflow for any realistic limit.
            value = value + value
            remaining -= 1
        }
        return Swift.min(value, limit)
    }
}

extension InstantProtocol where Duration == Swift.Duration {
    /// Whole seconds from `origin` to `self`, rounded down; negative when `self` is before `origin`.
    func secondsSince(_ origin: Self) -> Int64 {
        origin.duration(to: self).flooredSeconds
    }
}
