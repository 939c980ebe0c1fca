extension LabelSelector {
    /// Parses the string syntax of a label selector, as `labels.Parse` does.
    ///
    /// The empty string (or only whitespace) selects everything.
    ///
    /// - Parameter text: The selector, `app=web,tier in (front,back),!legacy`.
    /// - Throws: ``SelectorError`` with ``SelectorError/Code/invalidSelector`` and Kubernetes' message,
    ///   `unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt`.
    public init(parsing text: String) throws(SelectorError) {
        var parser = LabelSelectorParser(tokens: LabelSelectorLexer.tokens(of: text))
        self.init(try parser.parse())
    }
}

/// A token of the label selector syntax and its literal text.
struct LabelSelectorToken: Equatable {
    enum Kind: Equatable {
        case identifier, doesNotExist, equals, doubleEquals, notEquals, greaterThan, lessThan, `in`, notIn
        case openParenthesis, closeParenthesis, comma, end
    }

    var kind: Kind
    var literal: String
}

/// The lexer of `k8s.io/apimachinery/pkg/labels/selector.go`, byte by byte.
enum LabelSelectorLexer {
    private static let symbols: [String: LabelSelectorToken.Kind] = [
        "!": .doesNotExist, "=": .equals, "==": .doubleEquals, "!=": .notEquals, ">": .greaterThan, "<": .lessThan,
        "(": .openParenthesis, ")": .closeParenthesis, ",": .comma,
    ]

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }

    private static func isSpecial(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "="), UInt8(ascii: "!"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
            UInt8(ascii: ">"),
            UInt8(ascii: "<"):
            return true
        default:
            return false
        }
    }

    /// Every token of `text`, ending with `.end`.
    static func tokens(of text: String) -> [LabelSelectorToken] {
        let bytes = Array(text.utf8)
        var index = 0
        var tokens: [LabelSelectorToken] = []
        while true {
            while index < bytes.count && isWhitespace(bytes[index]) { index += 1 }
            guard index < bytes.count else {
                tokens.append(LabelSelectorToken(kind: .end, literal: ""))
                return tokens
            }
            if isSpecial(bytes[index]) {
                // The longest run of symbol characters that is still a token.
                var end = index + 1
                while end < bytes.count && isSpecial(bytes[end])
                    && symbols[String(decoding: bytes[index...end], as: UTF8.self)] != nil
                {
                    end += 1
                }
                let literal = String(decoding: bytes[index..<end], as: UTF8.self)
                tokens.append(LabelSelectorToken(kind: symbols[literal]!, literal: literal))
                index = end
            } else {
                let start = index
                while index < bytes.count && !isSpecial(bytes[index]) && !isWhitespace(bytes[index]) { index += 1 }
                let literal = String(decoding: bytes[start..<index], as: UTF8.self)
                switch literal {
                case "in": tokens.append(LabelSelectorToken(kind: .in, literal: literal))
                case "notin": tokens.append(LabelSelectorToken(kind: .notIn, literal: literal))
                default: tokens.append(LabelSelectorToken(kind: .identifier, literal: literal))
                }
            }
        }
    }
}

/// The recursive-descent parser of `labels.Parse`, with its error messages.
struct LabelSelectorParser {
    typealias Requirement = LabelSelector.Requirement

    /// Where `in` and `notin` are keywords (after a key) or plain values (everywhere else).
    private enum Context {
        case keyAndOperator, values
    }

    private let tokens: [LabelSelectorToken]
    private var position = 0

    init(tokens: [LabelSelectorToken]) {
        self.tokens = tokens
    }

    private func lookahead(_ context: Context) -> LabelSelectorToken {
        var token = tokens[position]
        if context == .values && (token.kind == .in || token.kind == .notIn) { token.kind = .identifier }
        return token
    }

    private mutating func consume(_ context: Context) -> LabelSelectorToken {
        let token = lookahead(context)
        if position < tokens.count - 1 { position += 1 }
        return token
    }

    private func error(_ message: String) -> SelectorError {
        SelectorError(.invalidSelector, message)
    }

    mutating func parse() throws(SelectorError) -> [Requirement] {
        var requirements: [Requirement] = []
        while true {
            let token = lookahead(.values)
            switch token.kind {
            case .identifier, .doesNotExist:
                do {
                    requirements.append(try parseRequirement())
                } catch {
                    throw self.error("unable to parse requirement: \(error.message)")
                }
                let next = consume(.values)
                switch next.kind {
                case .end:
                    return requirements
                case .comma:
                    let following = lookahead(.values)
                    if following.kind != .identifier && following.kind != .doesNotExist {
                        throw error("found '\(following.literal)', expected: identifier after ','")
                    }
                default:
                    throw error("found '\(next.literal)', expected: ',' or 'end of string'")
                }
            case .end:
                return requirements
            default:
                throw error("found '\(token.literal)', expected: !, identifier, or 'end of string'")
            }
        }
    }

    private mutating func parseRequirement() throws(SelectorError) -> Requirement {
        var token = consume(.values)
        var unaryOperator: Requirement.Operator?
        if token.kind == .doesNotExist {
            unaryOperator = .doesNotExist
            token = consume(.values)
        }
        guard token.kind == .identifier else {
            throw error("found '\(token.literal)', expected: identifier")
        }
        let key = token.literal
        let keyErrors = LabelValidation.qualifiedNameErrors(key)
        if !keyErrors.isEmpty {
            throw error("key: Invalid value: \(JSONValue.string(key)): \(keyErrors.joined(separator: "; "))")
        }
        let next = lookahead(.values).kind
        if unaryOperator == nil && (next == .end || next == .comma) { unaryOperator = .exists }
        if let unaryOperator {
            return try Requirement(key: key, operator: unaryOperator)
        }

        let operatorToken = consume(.keyAndOperator)
        let op: Requirement.Operator
        switch operatorToken.kind {
        case .in: op = .in
        case .notIn: op = .notIn
        case .equals: op = .equals
        case .doubleEquals: op = .doubleEquals
        case .notEquals: op = .notEquals
        case .greaterThan: op = .greaterThan
        case .lessThan: op = .lessThan
        default: throw error("found '\(operatorToken.literal)', expected: in, notin, =, ==, !=, gt, lt")
        }
        let values: [String]
        switch op {
        case .in, .notIn: values = try parseValues()
        default: values = try parseExactValue()
        }
        return try Requirement(key: key, operator: op, values: values)
    }

    /// `(a,b)`; empty entries (`(a,)`, `()`) stand for the empty value.
    private mutating func parseValues() throws(SelectorError) -> [String] {
        let open = consume(.values)
        guard open.kind == .openParenthesis else { throw error("found '\(open.literal)' expected: '('") }
        let first = lookahead(.values)
        switch first.kind {
        case .identifier, .comma:
            let values = try parseIdentifierList()
            let close = consume(.values)
            guard close.kind == .closeParenthesis else { throw error("found '\(first.literal)', expected: ')'") }
            return values
        case .closeParenthesis:
            _ = consume(.values)
            return [""]
        default:
            throw error("found '\(first.literal)', expected: ',', ')' or identifier")
        }
    }

    private mutating func parseIdentifierList() throws(SelectorError) -> [String] {
        var values: [String] = []
        while true {
            let token = consume(.values)
            switch token.kind {
            case .identifier:
                values.append(token.literal)
                let next = lookahead(.values)
                switch next.kind {
                case .comma: continue
                case .closeParenthesis: return values
                default: throw error("found '\(next.literal)', expected: ',' or ')'")
                }
            case .comma:
                if values.isEmpty { values.append("") }
                let next = lookahead(.values).kind
                if next == .closeParenthesis {
                    values.append("")
                    return values
                }
                if next == .comma {
                    _ = consume(.values)
                    values.append("")
                }
            default:
                throw error("found '\(token.literal)', expected: ',', or identifier")
            }
        }
    }

    /// The one value after `=`, `==`, `!=`, `>` or `<`; nothing before `,` or the end is the empty value.
    private mutating func parseExactValue() throws(SelectorError) -> [String] {
        let next = lookahead(.values).kind
        if next == .end || next == .comma { return [""] }
        let token = consume(.values)
        guard token.kind == .identifier else { throw error("found '\(token.literal)', expected: identifier") }
        return [token.literal]
    }
}
