import Foundation
import Kubernetes
import Testing

@Suite struct HumanDurationTests {
    /// Every threshold of `duration.HumanDuration`, just below and at it.
    @Test(arguments: [
        (-3.0, "<invalid>"), (-2.0, "<invalid>"), (-1.5, "0s"), (-1.0, "0s"), (-0.5, "0s"), (0.0, "0s"), (4.0, "4s"),
        (4.9, "4s"), (119.0, "119s"), (119.99, "119s"),
        (120.0, "2m"), (125.0, "2m5s"), (599.0, "9m59s"),
        (600.0, "10m"), (900.0, "15m"), (10_799.0, "179m"),
        (10_800.0, "3h"), (12_000.0, "3h20m"), (28_799.0, "7h59m"),
        (28_800.0, "8h"), (172_799.0, "47h"),
        (172_800.0, "2d"), (190_800.0, "2d5h"), (691_199.0, "7d23h"),
        (691_200.0, "8d"), (63_071_999.0, "729d"),
        (63_072_000.0, "2y"), (95_904_000.0, "3y15d"), (252_201_600.0, "7y364d"),
        (252_288_000.0, "8y"), (3_153_600_000.0, "100y"),
    ])
    func formatsEachRange(seconds: Double, expected: String) {
        #expect(HumanDuration.format(.seconds(seconds)) == expected)
    }

    @Test func formatsSecondsAsDoubles() {
        #expect(HumanDuration.format(seconds: 125.7) == "2m5s")
        #expect(HumanDuration.format(seconds: -1.5) == "0s")
        #expect(HumanDuration.format(seconds: .infinity) == "292471208677y")
        #expect(HumanDuration.format(seconds: 1e300) == "292471208677y")
        #expect(HumanDuration.format(seconds: -.infinity) == "<invalid>")
        #expect(HumanDuration.format(seconds: .nan) == "<invalid>")
    }

    @Test func truncatesSubsecondDurations() {
        #expect(HumanDuration.format(.milliseconds(1999)) == "1s")
        #expect(HumanDuration.format(.milliseconds(-1999)) == "0s")
        #expect(HumanDuration.format(.milliseconds(-2000)) == "<invalid>")
        #expect(HumanDuration.format(.nanoseconds(125_999_999_999)) == "2m5s")
    }

    @Test func agesOfTimestamps() throws {
        let created = try #require(RFC3339.date(from: "2025-01-01T00:00:00Z"))
        #expect(HumanDuration.age(ofTimestamp: "2025-01-01T00:00:00Z", now: created.addingTimeInterval(125)) == "2m5s")
        #expect(
            HumanDuration.age(ofTimestamp: "2025-01-01T00:00:00Z", now: created.addingTimeInterval(-10)) == "<invalid>"
        )
        #expect(HumanDuration.age(ofTimestamp: "2025-01-01T00:00:00Z", now: created.addingTimeInterval(-1)) == "0s")
        #expect(HumanDuration.age(ofTimestamp: "", now: created) == "<unknown>")
        #expect(HumanDuration.age(ofTimestamp: "null", now: created) == "<unknown>")
        #expect(HumanDuration.age(ofTimestamp: "yesterday", now: created) == "<invalid>")
        #expect(HumanDuration.age(of: created, now: created.addingTimeInterval(2 * 86_400 + 5 * 3600)) == "2d5h")
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0.0), ("2025-01-01T12:00:00Z", 1_735_732_800.0),
        ("2025-01-01T13:30:00+01:30", 1_735_732_800.0),
        ("2025-01-01T10:00:00-02:00", 1_735_732_800.0), ("2025-01-01T12:00:00.5Z", 1_735_732_800.5),
        ("2025-01-01T12:00:00.000000Z", 1_735_732_800.0), ("2024-02-29T00:00:00Z", 1_709_164_800.0),
        ("1969-12-31T23:59:59Z", -1.0),
    ])
    func parsesTimestamps(text: String, secondsSince1970: Double) throws {
        let date = try #require(RFC3339.date(from: text))
        #expect(abs(date.timeIntervalSince1970 - secondsSince1970) < 1e-6)
    }

    @Test(arguments: [
        "", "2025-01-01", "2025-01-01T12:00:00", "2025-01-01 12:00:00Z", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z",
        "2025-04-31T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T12:60:00Z", "2025-01-01T12:00:60Z",
        "2025-01-01T12:00:00.Z",
        "2025-01-01T12:00:00+0100", "2025-01-01T12:00:00Zjunk", "25-01-01T12:00:00Z",
    ])
    func rejectsOtherText(text: String) {
        #expect(RFC3339.date(from: text) == nil)
    }

    @Test func writesWholeSecondsInUTC() {
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_735_732_800.9)) == "2025-01-01T12:00:00Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 1_709_164_800)) == "2024-02-29T00:00:00Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59Z")
        #expect(RFC3339.string(from: Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }
}
