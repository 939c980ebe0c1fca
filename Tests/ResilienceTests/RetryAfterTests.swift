import Resilience
import Testing

@Suite struct RetryAfterTests {
    /// 1994-11-06T08:49:37Z, the RFC's example date.
    static let example: Int64 = 784_111_777
    /// 2025-01-01T00:00:00Z.
    static let newYear2025: Int64 = 1_735_689_600

    @Test(arguments: [
        ("120", Duration.seconds(120)), ("0", .zero), ("  5\t", .seconds(5)), ("007", .seconds(7)),
        ("86400", .seconds(86400)),
    ])
    func delaySeconds(value: String, expected: Duration) {
        #expect(RetryAfter.parse(value, nowSecondsSince1970: Self.newYear2025) == expected)
    }

    @Test func anOverlongDelayIsClampedNotTrapped() {
        #expect(RetryAfter.parse("99999999999999999999999999", nowSecondsSince1970: 0) == .seconds(Int64.max))
    }

    @Test(arguments: [
        "", "   ", "-5", "+5", "1.5", "12a", "5 s", "1e3", "Sun, 06 Nov 1994", "soon",
        "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 06 Nov 1994 08:49:37 GMT junk", "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT", "Sun,06 Nov 1994 08:49:37 GMT", "Funday, 06-Nov-94 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT", "Sun, 06-Nov-94 08:49:37 GMT", "Sun, 06 Now 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:61 GMT",
        "Thu, 31 Feb 2024 00:00:00 GMT", "Wed, 29 Feb 2023 00:00:00 GMT", "Mon, 29 Feb 2100 00:00:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT", "Sun Nov 6 08:49:37 1994", "Sun Nov  6 08:49:37 94",
    ])
    func rejectsWhatIsNeitherForm(value: String) {
        #expect(RetryAfter.parse(value, nowSecondsSince1970: Self.example) == nil)
    }

    @Test(arguments: [
        "Sun, 06 Nov 1994 08:49:37 GMT",  // IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  // RFC 850
        "Sun Nov  6 08:49:37 1994",  // asctime
        "sun, 06 NOV 1994 08:49:37 GMT",  // names in any case
        " Sun, 06 Nov 1994 08:49:37 GMT\t",
    ])
    func allThreeDateFormsNameTheSameInstant(value: String) {
        let now = Self.example - 30
        #expect(RetryAfter.secondsSince1970(httpDate: value, nowSecondsSince1970: now) == Self.example)
        #expect(RetryAfter.parse(value, nowSecondsSince1970: now) == .seconds(30))
    }

    @Test func aDateInThePastMeansNow() {
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", nowSecondsSince1970: Self.example + 1) == .zero)
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", nowSecondsSince1970: Self.newYear2025) == .zero)
    }

    @Test(arguments: [
        ("Thu, 01 Jan 1970 00:00:00 GMT", Int64(0)),
        ("Wed, 01 Mar 2000 00:00:00 GMT", 951_868_800),
        ("Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800),
        ("Tue, 19 Jan 2038 03:14:08 GMT", 2_147_483_648),
        ("Mon, 01 Mar 2100 00:00:00 GMT", 4_107_542_400),
        ("Wed Nov 16 08:49:37 1994", 784_975_777),
        ("Sun, 06 Nov 1994 23:59:60 GMT", 784_166_400),  // a leap second is accepted
    ])
    func calendarArithmetic(value: String, expected: Int64) {
        #expect(RetryAfter.secondsSince1970(httpDate: value, nowSecondsSince1970: Self.newYear2025) == expected)
    }

    /// RFC 9110 §5.6.7: a two-digit year more than 50 years ahead is in the previous century.
    @Test(arguments: [
        ("Sunday, 06-Nov-94 08:49:37 GMT", Int64(784_111_777)),  // 2094 is > 2075: 1994
        ("Tuesday, 01-Jan-75 00:00:00 GMT", 3_313_526_400),  // 2075 is exactly 50 years ahead: 2075
        ("Thursday, 01-Jan-76 00:00:00 GMT", 189_302_400),  // 2076 is > 2075: 1976
        ("Thursday, 01-Jan-26 00:00:00 GMT", 1_767_225_600),  // next year
    ])
    func rfc850TwoDigitYears(value: String, expected: Int64) {
        #expect(RetryAfter.secondsSince1970(httpDate: value, nowSecondsSince1970: Self.newYear2025) == expected)
    }

    @Test func worksOnSubstrings() {
        let header = "Retry-After: 17"
        let value = header.split(separator: ":", maxSplits: 1)[1]
        #expect(RetryAfter.parse(value, nowSecondsSince1970: 0) == .seconds(17))
    }
}
