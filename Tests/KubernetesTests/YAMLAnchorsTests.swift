import Kubernetes
import Testing

/// YAML anchors and aliases are refused at the parser's events, before a document is composed, so a small document
/// cannot expand into a large one.
@Suite struct YAMLAnchorsTests {
    /// "Billion laughs": nine levels of ten aliases each, 10⁹ strings once expanded, in under 1 KiB.
    static let billionLaughs = {
        var lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            let previous = "*a\(level - 1)"
            lines.append("a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    // Without the refusal, composing and converting this document does not finish within the limit (it builds 10⁹
    // values); with it, the first anchor ends the parse.
    @Test(.timeLimit(.minutes(1))) func billionLaughsIsRefusedBeforeItExpands() {
        #expect(Self.billionLaughs.utf8.count < 1024)
        let error = #expect(throws: YAMLError.self) { try JSONValue.documents(yaml: Self.billionLaughs) }
        #expect(error?.description == "YAML anchors and aliases are not accepted: line 1 has an anchor (&a0); write the values out in full")
    }

    @Test func anAliasAloneIsRefusedWithItsLine() {
        // An alias to an anchor in a previous document (libyaml scopes anchors to a document): no anchor event first.
        let error = #expect(throws: YAMLError.self) { try JSONValue.documents(yaml: "a: 1\n---\nb: [x,\n  *nowhere]\n") }
        #expect(error?.description == "YAML anchors and aliases are not accepted: line 4 has an alias (*nowhere); write the values out in full")
    }

    @Test func everyKindOfAnchorIsRefused() {
        for yaml in ["a: &s scalar\n", "a: &q [1]\n", "a: &m {b: 1}\n", "- &x 1\n"] {
            #expect(throws: YAMLError.self, "\(yaml)") { try JSONValue(yaml: yaml) }
        }
    }

    @Test func ampersandsAndAsterisksInsideValuesAreText() throws {
        let value = try JSONValue(yaml: "a: 'x &y *z'\nb: \"*\"\nc: p&q\nd: |\n  &anchor *alias\n")
        #expect(value == ["a": "x &y *z", "b": "*", "c": "p&q", "d": "&anchor *alias\n"])
    }
}
