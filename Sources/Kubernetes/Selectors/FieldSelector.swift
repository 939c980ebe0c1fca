/// A field selector: equality requirements on an object's fields that must all hold
/// (`k8s.io/apimachinery/pkg/fields`).
///
/// It comes as the `fieldSelector` query parameter: `metadata.name=web,involvedObject.kind!=Pod`.
/// `=` and `==` both require equality, `!=` inequality; requirements are separated by `,`. In a
/// value, `\,`, `\=` and `\\` stand for `,`, `=` and `\`. Whitespace is kept as written, as
/// Kubernetes keeps it.
///
/// Which fields a resource can be selected by is the server's business: see ``SelectableFields``
/// and ``validate(against:)``. A field that an object does not have compares as the empty string.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    /// One requirement on one field.
    public struct Requirement: Sendable, Hashable, CustomStringConvertible {
        /// The field label, `metadata.name`.
        public let field: String
        /// Whether the field must equal the value (`=`, `==`) or differ from it (`!=`).
        public let isEqual: Bool
        /// The unescaped value.
        public let value: String

        public init(field: String, isEqual: Bool, value: String) {
            self.field = field
            self.isEqual = isEqual
            self.value = value
        }

        /// Whether a field with value `fieldValue` satisfies the requirement.
        public func matches(_ fieldValue: String) -> Bool {
            isEqual ? fieldValue == value : fieldValue != value
        }

        /// `field=value` or `field!=value`, the value escaped.
        public var description: String {
            field + (isEqual ? "=" : "!=") + FieldSelector.escape(value)
        }
    }

    /// The requirements, in the order of their text sorted; all must hold.
    public let requirements: [Requirement]

    /// The selector that matches every object.
    public static let everything = FieldSelector(requirements: [])

    public init(requirements: [Requirement]) {
        self.requirements = requirements
    }

    /// Parses a field selector, as `fields.ParseSelector` does. The empty string selects everything.
    ///
    /// - Parameter text: `metadata.name=web,metadata.namespace!=kube-system`.
    /// - Throws: ``SelectorError`` with ``SelectorError/Code/invalidSelector``:
    ///   `invalid selector: 'a'; can't understand 'a'`, or an escaping error.
    public init(parsing text: String) throws(SelectorError) {
        var requirements: [Requirement] = []
        for term in FieldSelector.splitTerms(text).sorted() where !term.isEmpty {
            guard let (field, op, rawValue) = FieldSelector.splitTerm(term) else {
                throw SelectorError(.invalidSelector, "invalid selector: '\(text)'; can't understand '\(term)'")
            }
            requirements.append(
                Requirement(field: field, isEqual: op != "!=", value: try FieldSelector.unescape(rawValue))
            )
        }
        self.requirements = requirements
    }

    /// Whether this selector matches every object.
    public var isEverything: Bool { requirements.isEmpty }

    /// The field labels the selector uses, sorted, without duplicates.
    public var fields: [String] { Array(Set(requirements.map(\.field))).sorted() }

    /// The value a field must equal, when a requirement says so (`metadata.name=web` → `web`), for
    /// a lookup by key instead of a scan.
    public func requiredValue(of field: String) -> String? {
        requirements.first { $0.field == field && $0.isEqual }?.value
    }

    /// Checks that every field the selector uses is one the resource can be selected by.
    ///
    /// - Throws: ``SelectorError`` with ``SelectorError/Code/unsupportedField``: `field label not supported: spec.host`.
    public func validate(against supported: SelectableFields) throws(SelectorError) {
        for requirement in requirements where !supported.contains(requirement.field) {
            throw SelectorError(.unsupportedField, "field label not supported: \(requirement.field)")
        }
    }

    /// Whether every requirement holds.
    ///
    /// - Parameter fieldValue: The value of a field label for the object; `nil` (no such field) counts as `""`.
    public func matches(_ fieldValue: (String) -> String?) -> Bool {
        requirements.allSatisfy { $0.matches(fieldValue($0.field) ?? "") }
    }

    /// Whether every requirement holds for an object, its field values read through `fields`.
    public func matches(object: JSONValue, fields: SelectableFields) -> Bool {
        matches { fields.value(of: $0, in: object) }
    }

    /// The selector in its string syntax.
    public var description: String {
        requirements.map(\.description).joined(separator: ",")
    }

    /// `fields.EscapeValue`: `\` → `\\`, `,` → `\,`, `=` → `\=`.
    public static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            if character == "\\" || character == "," || character == "=" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }

    /// `fields.UnescapeValue`.
    static func unescape(_ value: String) throws(SelectorError) -> String {
        var result = ""
        var escaping = false
        for character in value {
            if escaping {
                guard character == "\\" || character == "," || character == "=" else {
                    throw SelectorError(
                        .invalidSelector,
                        "invalid field selector: invalid escape sequence: \\\(character)"
                    )
                }
                result.append(character)
                escaping = false
                continue
            }
            switch character {
            case "\\": escaping = true
            case ",", "=":
                throw SelectorError(
                    .invalidSelector,
                    "invalid field selector: unescaped character in value: \(character)"
                )
            default: result.append(character)
            }
        }
        if escaping {
            throw SelectorError(.invalidSelector, "invalid field selector: invalid escape sequence: \\")
        }
        return result
    }

    /// Splits on the commas that are not escaped.
    private static func splitTerms(_ text: String) -> [String] {
        if text.isEmpty { return [] }
        var terms: [String] = []
        var current = ""
        var escaping = false
        for character in text {
            if escaping {
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == "," {
                terms.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        terms.append(current)
        return terms
    }

    /// Splits a term at its first operator, trying `!=`, `==` and `=` at each position.
    private static func splitTerm(_ term: String) -> (String, String, String)? {
        var index = term.startIndex
        while index < term.endIndex {
            let rest = term[index...]
            for op in ["!=", "==", "="] where rest.hasPrefix(op) {
                return (String(term[..<index]), op, String(rest.dropFirst(op.count)))
            }
            index = term.index(after: index)
        }
        return nil
    }
}
