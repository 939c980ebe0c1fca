/// A duration written the way Kubernetes APIs write them (Go's `time.ParseDuration` syntax, without a
/// sign): `250ms`, `30s`, `1m30s`, `1.5h`. Units: `ns`, `us` (or `µs`), `ms`, `s`, `m`, `h`.
///
/// The text is kept as written, so an object decoded and encoded again is unchanged.
public struct APIDuration: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The OpenAPI pattern for the syntax above.
    public static let pattern = #"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$"#

    /// The duration as written.
    public let description: String
    /// The duration's length.
    public let duration: Duration

    /// Parses Go duration syntax; returns `nil` for anything else, including negative durations.
    public init?(_ text: String) {
        guard let duration = APIDuration.parse(text) else { return nil }
        self.description = text
        self.duration = duration
    }

    /// A duration from a Swift `Duration`, written in the shortest Go form (`1m30s`, `250ms`).
    public init(_ duration: Duration) {
        self.duration = duration
        self.description = APIDuration.format(duration)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let parsed = APIDuration(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "invalid duration \"\(text)\": use a form like 250ms, 30s or 1m30s")
            )
        }
        self = parsed
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: APIDuration, rhs: APIDuration) -> Bool { lhs.duration < rhs.duration }
    public static func == (lhs: APIDuration, rhs: APIDuration) -> Bool { lhs.duration == rhs.duration }
    public func hash(into hasher: inout Hasher) { hasher.combine(duration) }

    /// The duration in seconds, as a floating-point number.
    public var seconds: Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private static let unitNanoseconds: [(unit: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    private static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        var nanoseconds = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix(while: { $0.isASCII && ($0.isNumber || $0 == ".") })
            guard !number.isEmpty, number.first != ".", number.last != ".", number.filter({ $0 == "." }).count <= 1,
                let value = Double(number)
            else { return nil }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix(while: { !($0.isASCII && ($0.isNumber || $0 == ".")) })
            guard let unit = unitNanoseconds.first(where: { $0.unit == unitText }) else { return nil }
            rest = rest.dropFirst(unitText.count)
            nanoseconds += value * unit.nanoseconds
        }
        guard nanoseconds < 9.2e18 else { return nil }
        return .nanoseconds(Int64(nanoseconds.rounded()))
    }

    private static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let totalNanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        if totalNanoseconds == 0 { return "0s" }
        if totalNanoseconds % 1_000_000_000 != 0 {
            if totalNanoseconds < 1_000 { return "\(totalNanoseconds)ns" }
            if totalNanoseconds % 1_000_000 == 0 && totalNanoseconds < 1_000_000_000 { return "\(totalNanoseconds / 1_000_000)ms" }
            if totalNanoseconds % 1_000 == 0 && totalNanoseconds < 1_000_000 { return "\(totalNanoseconds / 1_000)us" }
        }
        var remaining = totalNanoseconds
        var text = ""
        let hours = remaining / 3_600_000_000_000
        remaining %= 3_600_000_000_000
        let minutes = remaining / 60_000_000_000
        remaining %= 60_000_000_000
        if hours > 0 { text += "\(hours)h" }
        if minutes > 0 { text += "\(minutes)m" }
        if remaining > 0 {
            let wholeSeconds = remaining / 1_000_000_000
            let fraction = remaining % 1_000_000_000
            if fraction == 0 {
                text += "\(wholeSeconds)s"
            } else {
                var fractionText = String(fraction)
                fractionText = String(repeating: "0", count: 9 - fractionText.count) + fractionText
                while fractionText.hasSuffix("0") { fractionText.removeLast() }
                text += "\(wholeSeconds).\(fractionText)s"
            }
        }
        return text
    }
}
