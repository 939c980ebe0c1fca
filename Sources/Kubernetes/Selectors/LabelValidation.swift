/// The syntax checks Kubernetes applies to label keys and values
/// (`k8s.io/apimachinery/pkg/util/validation`), with its messages.
///
/// | Check                  | Rule                                                                             |
/// |------------------------|----------------------------------------------------------------------------------|
/// | label key              | a qualified name: `[prefix/]name`                                                |
/// | prefix                 | a DNS-1123 subdomain: ≤ 253 characters of `[a-z0-9]([-a-z0-9]*[a-z0-9])?` labels joined by `.` |
/// | name                   | ≤ 63 characters of `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`                   |
/// | label value            | empty, or ≤ 63 characters of the name pattern                                    |
///
/// Each function returns the problems found, empty for a valid string; lengths count UTF-8 bytes, as Go does.
public enum LabelValidation {
    static let qualifiedNamePattern = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
    static let labelValuePattern = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
    static let dns1123SubdomainPattern = #"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"#
    static let qualifiedNameMessage =
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"

    /// The problems with a label (or annotation) key, `app.kubernetes.io/name`.
    public static func qualifiedNameErrors(_ value: String) -> [String] {
        var errors: [String] = []
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        let name: Substring
        switch parts.count {
        case 1:
            name = parts[0]
        case 2:
            name = parts[1]
            if parts[0].isEmpty {
                errors.append("prefix part must be non-empty")
            } else {
                errors += dns1123SubdomainErrors(String(parts[0])).map { "prefix part " + $0 }
            }
        default:
            return [
                "a qualified name "
                    + regexError(
                        qualifiedNameMessage,
                        qualifiedNamePattern,
                        examples: ["MyName", "my.name", "123-abc"]
                    )
                    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        }
        if name.isEmpty {
            errors.append("name part must be non-empty")
        } else if name.utf8.count > 63 {
            errors.append("name part must be no more than 63 characters")
        }
        if !isQualifiedNamePart(name.utf8) {
            errors.append(
                "name part "
                    + regexError(
                        qualifiedNameMessage,
                        qualifiedNamePattern,
                        examples: ["MyName", "my.name", "123-abc"]
                    )
            )
        }
        return errors
    }

    /// The problems with a label value.
    public static func labelValueErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 63 {
            errors.append("must be no more than 63 characters")
        }
        if !value.isEmpty && !isQualifiedNamePart(value.utf8) {
            errors.append(
                regexError(
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
                    labelValuePattern,
                    examples: ["MyValue", "my_value", "12345"]
                )
            )
        }
        return errors
    }

    /// The problems with a DNS-1123 subdomain (a label key prefix, most object names).
    public static func dns1123SubdomainErrors(_ value: String) -> [String] {
        var errors: [String] = []
        if value.utf8.count > 253 {
            errors.append("must be no more than 253 characters")
        }
        let labels = value.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if !labels.allSatisfy({ isDNS1123Label($0) }) {
            errors.append(
                regexError(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
                    dns1123SubdomainPattern,
                    examples: ["example.com"]
                )
            )
        }
        return errors
    }

    /// Go's `validation.RegexError`, quirks included (`'MyName',  or 'my.name'`).
    static func regexError(_ message: String, _ pattern: String, examples: [String]) -> String {
        var text = message + " (e.g. "
        for (index, example) in examples.enumerated() {
            if index > 0 { text += " or " }
            text += "'" + example + "', "
        }
        return text + "regex used for validation is '" + pattern + "')"
    }

    private static func isAlphanumeric(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return false
        }
    }

    private static func isQualifiedNamePart<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bool {
        guard let first = bytes.first, isAlphanumeric(first), let last = bytes.last, isAlphanumeric(last) else {
            return false
        }
        return bytes.allSatisfy {
            isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
        }
    }

    private static func isDNS1123Label<Bytes: BidirectionalCollection<UInt8>>(_ bytes: Bytes) -> Bool {
        func isLowerAlphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard let first = bytes.first, isLowerAlphanumeric(first), let last = bytes.last, isLowerAlphanumeric(last)
        else { return false }
        return bytes.allSatisfy { isLowerAlphanumeric($0) || $0 == UInt8(ascii: "-") }
    }
}
