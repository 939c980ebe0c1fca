public import Foundation

/// Durations and ages written for people the way Kubernetes writes them
/// (`k8s.io/apimachinery/pkg/util/duration.HumanDuration`): about two significant figures, the
/// form of the AGE column and of humanised `date` cells in server-side Tables.
///
/// | Duration `d`             | Written as                   | Examples           |
/// |--------------------------|------------------------------|--------------------|
/// | below −1 s               | `<invalid>` (a future time)  |                    |
/// | −1 s to 0                | `0s` (clock skew)            |                    |
/// | below 2 minutes          | seconds                      | `0s`, `4s`, `119s` |
/// | below 10 minutes         | minutes and seconds          | `2m`, `2m5s`       |
/// | below 3 hours            | minutes                      | `15m`, `179m`      |
/// | below 8 hours            | hours and minutes            | `3h`, `3h20m`      |
/// | below 2 days             | hours                        | `8h`, `47h`        |
/// | below 8 days             | days and hours               | `2d`, `2d5h`       |
/// | below 2 years (730 days) | days                         | `8d`, `729d`       |
/// | below 8 years            | years and days               | `2y`, `3y15d`      |
/// | from 8 years             | years                        | `8y`               |
///
/// Every unit is truncated, never rounded; a year is 365 days.
public enum HumanDuration {
    /// The human form of a duration.
    ///
    /// - Parameter duration: The duration, typically `now - timestamp`.
    /// - Returns: `4s`, `2m5s`, `3h20m`, `2d5h`, `<invalid>` ... (see the table above).
    public static func format(_ duration: Duration) -> String {
        let (wholeSeconds, attoseconds) = duration.components
        let nanoseconds = Int128(wholeSeconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000)
        // Go truncates every division toward zero, as Swift's integer division does.
        let seconds = nanoseconds / 1_000_000_000
        if seconds < -1 { return "<invalid>" }
        if seconds < 0 { return "0s" }
        if seconds < 60 * 2 { return "\(seconds)s" }
        let minutes = seconds / 60
        if minutes < 10 {
            let remainder = seconds % 60
            return remainder == 0 ? "\(minutes)m" : "\(minutes)m\(remainder)s"
        }
        if minutes < 60 * 3 { return "\(minutes)m" }
        let hours = minutes / 60
        if hours < 8 {
            let remainder = minutes % 60
            return remainder == 0 ? "\(hours)h" : "\(hours)h\(remainder)m"
        }
        if hours < 48 { return "\(hours)h" }
        if hours < 24 * 8 {
            let remainder = hours % 24
            return remainder == 0 ? "\(hours / 24)d" : "\(hours / 24)d\(remainder)h"
        }
        if hours < 24 * 365 * 2 { return "\(hours / 24)d" }
        if hours < 24 * 365 * 8 {
            let days = (hours / 24) % 365
            return days == 0 ? "\(hours / 24 / 365)y" : "\(hours / 24 / 365)y\(days)d"
        }
        return "\(hours / 24 / 365)y"
    }

    /// ``format(_:)`` of a number of seconds (`now.timeIntervalSince(created)`).
    public static func format(seconds: Double) -> String {
        // Beyond ±9e15 s (285 million years) the conversion to Duration would lose its meaning.
        guard seconds.isFinite, abs(seconds) < 9e15 else {
            return seconds > 0 ? format(.seconds(Int64.max)) : "<invalid>"
        }
        return format(.seconds(seconds))
    }

    /// The age of something created at `timestamp`, as of `now`.
    public static func age(of timestamp: Date, now: Date) -> String {
        format(seconds: now.timeIntervalSince(timestamp))
    }

    /// The age of an RFC 3339 timestamp as a Table's `date` cell shows it
    /// (`metatable.ConvertToHumanReadableDateType`): `<unknown>` for an empty (or `null`) timestamp,
    /// `<invalid>` for one that does not parse, the ``format(_:)`` of `now - timestamp` otherwise.
    ///
    /// - Parameters:
    ///   - timestamp: `2025-01-01T12:00:00Z`, with an optional fraction of a second and a `Z` or `±hh:mm` offset.
    ///   - now: The time the table is made.
    public static func age(ofTimestamp timestamp: String, now: Date) -> String {
        if timestamp.isEmpty || timestamp == "null" { return "<unknown>" }
        guard let date = RFC3339.date(from: timestamp) else { return "<invalid>" }
        return age(of: date, now: now)
    }
}
