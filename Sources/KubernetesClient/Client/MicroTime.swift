public import Foundation
import Kubernetes

/// `metav1.MicroTime`: RFC 3339 in UTC with exactly six fractional digits,
/// `2025-01-01T12:00:00.000000Z` (Lease `acquireTime`/`renewTime`, events.k8s.io `eventTime`).
public enum MicroTime {
    /// Formats an instant, truncated to the microsecond.
    public static func string(from date: Date) -> String {
        let microseconds = Int64((date.timeIntervalSince1970 * 1_000_000).rounded(.down))
        let seconds = microseconds >= 0 ? microseconds / 1_000_000 : (microseconds - 999_999) / 1_000_000
        let fraction = microseconds - seconds * 1_000_000
        let whole = RFC3339.string(from: Date(timeIntervalSince1970: Double(seconds)))
        let digits = String(fraction)
        return whole.dropLast() + "." + String(repeating: "0", count: 6 - digits.count) + digits + "Z"
    }

    /// Parses a MicroTime (or any RFC 3339 time).
    public static func date(from text: String) -> Date? {
        RFC3339.date(from: text)
    }
}
