/// A JSON Pointer (RFC 6901): a path of reference tokens, written `/spec/ports/0/port`.
///
/// In the written form `~1` stands for `/` and `~0` for `~` inside a token; the empty string points
/// at the whole document. As an array index a token must be `0` or a decimal number without a
/// leading zero; JSON Patch also allows `-`, the position after the last element.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The unescaped reference tokens, outermost first.
    public let tokens: [String]

    /// The pointer to the whole document.
    public static let root = JSONPointer(tokens: [])

    /// A pointer made of unescaped tokens.
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses the written form.
    ///
    /// - Parameter text: `""` or a string starting with `/`.
    /// - Throws: ``PatchError`` (``PatchError/Code/malformedPatch``) for text that does not start
    ///   with `/` or has a `~` not followed by `0` or `1`.
    public init(_ text: String) throws(PatchError) {
        if text.isEmpty {
            self.tokens = []
            return
        }
        guard text.hasPrefix("/") else {
            throw PatchError(
                .malformedPatch,
                "invalid JSON pointer \(JSONValue.string(text)): must be empty or start with \"/\""
            )
        }
        var tokens: [String] = []
        for rawToken in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = rawToken.makeIterator()
            while let character = iterator.next() {
                guard character == "~" else {
                    token.append(character)
                    continue
                }
                switch iterator.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default:
                    throw PatchError(
                        .malformedPatch,
                        "invalid JSON pointer \(JSONValue.string(text)): \"~\" must be followed by \"0\" or \"1\""
                    )
                }
            }
            tokens.append(token)
        }
        self.tokens = tokens
    }

    /// The written form, with `~` and `/` inside tokens escaped.
    public var description: String {
        tokens.map { "/" + $0.replacing("~", with: "~0").replacing("/", with: "~1") }.joined()
    }

    /// Whether this pointer is `other` or one of its ancestors.
    public func isPrefix(of other: JSONPointer) -> Bool {
        tokens.count <= other.tokens.count && zip(tokens, other.tokens).allSatisfy { $0 == $1 }
    }

    /// The array index a token denotes, for an array of `count` elements: `nil` unless the token is
    /// `0` or a decimal number without a leading zero.
    static func arrayIndex(_ token: String) -> Int? {
        guard let first = token.utf8.first,
            token.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        if first == UInt8(ascii: "0") && token.utf8.count > 1 { return nil }
        return Int(token)
    }
}

extension JSONValue {
    /// The value a JSON pointer points at, or `nil` when there is none.
    public subscript(pointer pointer: JSONPointer) -> JSONValue? {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let members):
                guard let member = members[token] else { return nil }
                current = member
            case .array(let elements):
                guard let index = JSONPointer.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }
}
