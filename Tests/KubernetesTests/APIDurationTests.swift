import Kubernetes
import Testing

@Suite struct APIDurationTests {
    @Test(arguments: [
        ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("1m30s", .seconds(90)), ("1.5h", .seconds(5400)),
        ("100us", .microseconds(100)), ("100µs", .microseconds(100)), ("10ns", .nanoseconds(10)), ("0", .zero),
        ("2h45m", .seconds(9900)),
    ])
    func parsesGoSyntax(text: String, expected: Duration) throws {
        let parsed = try #require(APIDuration(text))
        #expect(parsed.duration == expected)
        #expect(parsed.description == text)
    }

    @Test(arguments: ["", "10", "-5s", "5 s", "1.s", ".5s", "5sec", "1h-5m", "s"])
    func rejectsAnythingElse(text: String) {
        #expect(APIDuration(text) == nil)
    }

    @Test func patternAgreesWithTheParser() {
        for text in ["250ms", "1m30s", "1.5h", "0", "100µs"] {
            #expect(SchemaValidator.matches(text, pattern: APIDuration.pattern), "\(text)")
        }
        for text in ["", "10", "-5s", "5sec"] {
            #expect(!SchemaValidator.matches(text, pattern: APIDuration.pattern), "\(text)")
        }
    }

    @Test(arguments: [
        (Duration.milliseconds(25), "25ms"), (.seconds(90), "1m30s"), (.seconds(86400), "24h"), (.seconds(300), "5m"),
        (.zero, "0s"), (.milliseconds(1500), "1.5s"), (.microseconds(5), "5us"),
    ])
    func formatsInShortestGoForm(duration: Duration, expected: String) throws {
        #expect(APIDuration(duration).description == expected)
        #expect(try #require(APIDuration(expected)).duration == duration)
    }

    @Test func decodingAnInvalidDurationNamesTheValue() throws {
        let error = #expect(throws: DecodingError.self) { try JSONValue.string("soon").decode(as: APIDuration.self) }
        #expect("\(String(describing: error))".contains("invalid duration \\\"soon\\\"") || "\(String(describing: error))".contains("invalid duration \"soon\""))
    }
}
