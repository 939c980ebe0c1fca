/// Parsing of the `Retry-After` response header (RFC 9110 §10.2.3) without Foundation.
///
/// ```
/// Retry-After = HTTP-date / delay-seconds
/// delay-seconds = 1*DIGIT
/// ```
///
/// An HTTP-date is accepted in all three forms a recipient must accept (RFC 9110 §5.6.7):
///
/// | form          | example                          |
/// |---------------|----------------------------------|
/// | IMF-fixdate   | `Sun, 06 Nov 1994 08:49:37 GMT`  |
/// | RFC 850       | `Sunday, 06-Nov-94 08:49:37 GMT` |
/// | asctime       | `Sun Nov  6 08:49:37 1994`       |
///
/// An RFC 850 two-digit year that would be more than 50 years after the current year is taken to be in
/// the previous century, as §5.6.7 requires. Day and month names are matched case-insensitively; the day
/// name must be a valid one but is not checked against the date. Leading and trailing spaces and tabs are
/// ignored.
public enum RetryAfter {
    /// The wait a `Retry-After` value asks for.
    ///
    /// - Parameters:
    ///   - value: The header's field value.
    ///   - nowSecondsSince1970: The current wall-clock time in seconds since 1970-01-01T00:00:00Z, used to
    ///     turn an HTTP-date into a wait and to place an RFC 850 two-digit year.
    /// - Returns: The wait; `.zero` for a date in the past; `nil` if the value is neither delay-seconds nor
    ///   an HTTP-date (the caller then falls back to its backoff).
    public static func parse(_ value: some StringProtocol, nowSecondsSince1970: Int64) -> Duration? {
        let bytes = Self.trimmed(value)
        guard !bytes.isEmpty else { return nil }
        if bytes.allSatisfy(\.isDigit) {
            var seconds: Int64 = 0
            for byte in bytes {
                let (times10, overflow1) = seconds.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(Int64(byte - .zero))
                if overflow1 || overflow2 { return .seconds(Int64.max) }
                seconds = sum
            }
            return .seconds(seconds)
        }
        guard let date = Self.parseHTTPDate(bytes, nowSecondsSince1970: nowSecondsSince1970) else { return nil }
        return .seconds(max(0, date - nowSecondsSince1970))
    }

    /// The instant an HTTP-date names.
    ///
    /// - Parameters:
    ///   - value: An HTTP-date in any of the three forms.
    ///   - nowSecondsSince1970: The current time, to place an RFC 850 two-digit year.
    /// - Returns: Seconds since 1970-01-01T00:00:00Z, or `nil` if `value` is not an HTTP-date.
    public static func secondsSince1970(httpDate value: some StringProtocol, nowSecondsSince1970: Int64) -> Int64? {
        Self.parseHTTPDate(Self.trimmed(value), nowSecondsSince1970: nowSecondsSince1970)
    }

    /// The value's bytes without leading and trailing spaces and tabs (optional whitespace, RFC 9110 §5.6.3).
    private static func trimmed(_ value: some StringProtocol) -> ArraySlice<UInt8> {
        var bytes = Array(value.utf8)[...]
        while let first = bytes.first, first == .space || first == .tab { bytes.removeFirst() }
        while let last = bytes.last, last == .space || last == .tab { bytes.removeLast() }
        return bytes
    }

    private static func parseHTTPDate(_ bytes: ArraySlice<UInt8>, nowSecondsSince1970: Int64) -> Int64? {
        var scanner = Scanner(bytes: bytes)
        guard let dayName = scanner.letters() else { return nil }
        if scanner.take(.comma) {
            // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") or RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT").
            guard scanner.take(.space), let day = scanner.digits(count: 2) else { return nil }
            if scanner.take(.space) {
                guard Self.shortDayNames.contains(dayName),
                    let month = scanner.month(), scanner.take(.space),
                    let year = scanner.digits(count: 4), scanner.take(.space),
                    let time = scanner.timeOfDay(), scanner.take(.space),
                    scanner.takeGMT(), scanner.isAtEnd
                else { return nil }
                return Self.seconds(year: year, month: month, day: day, time: time)
            }
            guard Self.longDayNames.contains(dayName),
                scanner.take(.hyphen), let month = scanner.month(), scanner.take(.hyphen),
                let shortYear = scanner.digits(count: 2), scanner.take(.space),
                let time = scanner.timeOfDay(), scanner.take(.space),
                scanner.takeGMT(), scanner.isAtEnd
            else { return nil }
            let currentYear = Self.year(ofSecondsSince1970: nowSecondsSince1970)
            var year = currentYear - currentYear % 100 + Int64(shortYear)
            if year > currentYear + 50 { year -= 100 }
            return Self.seconds(year: year, month: month, day: day, time: time)
        }
        // asctime ("Sun Nov  6 08:49:37 1994"): the day is two digits, or a space and one digit.
        guard Self.shortDayNames.contains(dayName), scanner.take(.space),
            let month = scanner.month(), scanner.take(.space)
        else { return nil }
        let day: Int
        if scanner.take(.space) {
            guard let digit = scanner.digits(count: 1) else { return nil }
            day = digit
        } else {
            guard let digits = scanner.digits(count: 2) else { return nil }
            day = digits
        }
        guard scanner.take(.space), let time = scanner.timeOfDay(), scanner.take(.space),
            let year = scanner.digits(count: 4), scanner.isAtEnd
        else { return nil }
        return Self.seconds(year: Int64(year), month: month, day: day, time: time)
    }

    private static func seconds(year: some BinaryInteger, month: Int, day: Int, time: Int64) -> Int64? {
        let year = Int64(year)
        guard day >= 1 && day <= Self.daysInMonth(year: year, month: month) else { return nil }
        return Self.daysSince1970(year: year, month: Int64(month), day: Int64(day)) * 86_400 + time
    }

    private static let shortDayNames: [[UInt8]] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"].map {
        Array($0.utf8)
    }
    private static let longDayNames: [[UInt8]] =
        ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"].map { Array($0.utf8) }
    fileprivate static let monthNames: [[UInt8]] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"].map { Array($0.utf8) }

    private static func isLeap(_ year: Int64) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private static func daysInMonth(year: Int64, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant, `days_from_civil`).
    static func daysSince1970(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian year of an instant (H. Hinnant, `civil_from_days`).
    static func year(ofSecondsSince1970 seconds: Int64) -> Int64 {
        let days = (seconds >= 0 ? seconds : seconds - 86_399) / 86_400 + 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let dayOfEra = days - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }
}

/// A cursor over the bytes of an HTTP-date.
private struct Scanner {
    var bytes: ArraySlice<UInt8>

    var isAtEnd: Bool { self.bytes.isEmpty }

    mutating func take(_ byte: UInt8) -> Bool {
        guard self.bytes.first == byte else { return false }
        self.bytes.removeFirst()
        return true
    }

    /// A run of ASCII letters, lowercased.
    mutating func letters() -> [UInt8]? {
        var result: [UInt8] = []
        while let byte = self.bytes.first, byte.isLetter {
            result.append(byte | 0x20)
            self.bytes.removeFirst()
        }
        return result.isEmpty ? nil : result
    }

    mutating func digits(count: Int) -> Int? {
        guard self.bytes.count >= count else { return nil }
        var value = 0
        for _ in 0..<count {
            guard let byte = self.bytes.first, byte.isDigit else { return nil }
            value = value * 10 + Int(byte - .zero)
            self.bytes.removeFirst()
        }
        return value
    }

    /// A three-letter month name; returns 1–12.
    mutating func month() -> Int? {
        guard self.bytes.count >= 3 else { return nil }
        let name = self.bytes.prefix(3).map { $0 | 0x20 }
        guard let index = RetryAfter.monthNames.firstIndex(of: name) else { return nil }
        self.bytes.removeFirst(3)
        return index + 1
    }

    /// `hh:mm:ss` as seconds since midnight; a leap second (`:60`) is accepted.
    mutating func timeOfDay() -> Int64? {
        guard let hour = self.digits(count: 2), hour < 24, self.take(.colon),
            let minute = self.digits(count: 2), minute < 60, self.take(.colon),
            let second = self.digits(count: 2), second <= 60
        else { return nil }
        return Int64(hour * 3600 + minute * 60 + second)
    }

    mutating func takeGMT() -> Bool {
        guard self.bytes.count >= 3, self.bytes.prefix(3).elementsEqual("GMT".utf8) else { return false }
        self.bytes.removeFirst(3)
        return true
    }
}

extension UInt8 {
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let hyphen = UInt8(ascii: "-")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let zero = UInt8(ascii: "0")

    fileprivate var isDigit: Bool { self >= UInt8(ascii: "0") && self <= UInt8(ascii: "9") }
    fileprivate var isLetter: Bool { (self | 0x20) >= UInt8(ascii: "a") && (self | 0x20) <= UInt8(ascii: "z") }
}
