/// The parser of ``JSONPath`` expressions and templates.
struct JSONPathParser {
    typealias Path = JSONPath.Path
    typealias Step = JSONPath.Step

    private let text: String
    private let scalars: [Unicode.Scalar]
    private var index = 0

    init(_ text: String) {
        self.text = text
        self.scalars = Array(text.unicodeScalars)
    }

    private var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private func error(_ what: String, code: JSONPathError.Code = .invalidSyntax) -> JSONPathError {
        JSONPathError(code, "\(what) at offset \(index) of \(JSONValue.string(text))")
    }

    private func unexpected() -> JSONPathError {
        guard let peek else { return error("unexpected end") }
        return error("unexpected \(JSONValue.string(String(peek)))")
    }

    private mutating func skipWhitespace() {
        while let scalar = peek, scalar.properties.isWhitespace { index += 1 }
    }

    private mutating func expect(_ scalar: Unicode.Scalar) throws(JSONPathError) {
        skipWhitespace()
        guard peek == scalar else {
            throw peek == nil ? error("expected \(JSONValue.string(String(scalar))), found the end") : unexpected()
        }
        index += 1
    }

    /// A bare expression, or a template when the text has a `{`.
    mutating func parseTemplate() throws(JSONPathError) -> [JSONPath.Segment] {
        guard scalars.contains("{") else {
            let path = try parsePath(inFilter: false)
            skipWhitespace()
            guard peek == nil else { throw unexpected() }
            return [.path(path)]
        }
        var segments: [JSONPath.Segment] = []
        var literal = String.UnicodeScalarView()
        while let scalar = peek {
            index += 1
            guard scalar == "{" else {
                literal.append(scalar)
                continue
            }
            if !literal.isEmpty {
                segments.append(.text(String(literal)))
                literal = String.UnicodeScalarView()
            }
            segments.append(try parseAction())
        }
        if !literal.isEmpty { segments.append(.text(String(literal))) }
        return segments
    }

    /// The inside of `{...}`: a quoted string or a path.
    private mutating func parseAction() throws(JSONPathError) -> JSONPath.Segment {
        skipWhitespace()
        if peek == "\"" || peek == "'" {
            let string = try parseQuoted()
            try expect("}")
            return .text(string)
        }
        for keyword in ["range", "end"] where scalars[index...].starts(with: keyword.unicodeScalars) {
            throw error("\(JSONValue.string(keyword)) is not supported", code: .unsupported)
        }
        let path = try parsePath(inFilter: false)
        skipWhitespace()
        guard peek != nil else { throw error("unclosed action") }
        try expect("}")
        return .path(path)
    }

    private mutating func parsePath(inFilter: Bool) throws(JSONPathError) -> Path {
        skipWhitespace()
        var root = Path.Root.document
        if peek == "$" {
            index += 1
        } else if inFilter && peek == "@" {
            index += 1
            root = .current
        }
        var steps: [Step] = []
        while let scalar = peek {
            if scalar == "." {
                index += 1
                if peek == "." {
                    index += 1
                    steps.append(.descendants)
                    if peek == "[" { continue }
                    if peek == "*" {
                        index += 1
                        steps.append(.wildcard)
                        continue
                    }
                    let name = parseName()
                    guard !name.isEmpty else {
                        throw peek == nil ? error("expected a name after \"..\"") : unexpected()
                    }
                    steps.append(.members([name]))
                    continue
                }
                if peek == "*" {
                    index += 1
                    steps.append(.wildcard)
                    continue
                }
                let name = parseName()
                if !name.isEmpty { steps.append(.members([name])) }
            } else if scalar == "[" {
                index += 1
                steps.append(try parseBracket())
            } else {
                break
            }
        }
        return Path(root: root, steps: steps)
    }

    private static let nameTerminators: Set<Unicode.Scalar> = [
        ".", "[", "]", "{", "}", "(", ")", ",", "$", "@", "=", "!", "<", ">", "'", "\"",
    ]

    /// A member name up to a terminator; `\` takes the next character literally (`\.`).
    private mutating func parseName() -> String {
        var name = String.UnicodeScalarView()
        while let scalar = peek, !scalar.properties.isWhitespace, !JSONPathParser.nameTerminators.contains(scalar) {
            index += 1
            if scalar == "\\", let escaped = peek {
                index += 1
                name.append(escaped)
            } else {
                name.append(scalar)
            }
        }
        return String(name)
    }

    private mutating func parseBracket() throws(JSONPathError) -> Step {
        skipWhitespace()
        switch peek {
        case "*":
            index += 1
            try expect("]")
            return .wildcard
        case "?":
            index += 1
            try expect("(")
            let filter = try parseFilter()
            try expect(")")
            try expect("]")
            return .filter(filter)
        case "\"", "'":
            var names: [String] = []
            while true {
                skipWhitespace()
                names.append(try parseQuoted())
                skipWhitespace()
                if peek == "," {
                    index += 1
                    continue
                }
                try expect("]")
                return .members(names)
            }
        default:
            let start = try parseInteger(optional: true)
            skipWhitespace()
            if peek == ":" {
                index += 1
                let end = try parseInteger(optional: true)
                skipWhitespace()
                var step: Int?
                if peek == ":" {
                    index += 1
                    step = try parseInteger(optional: true)
                }
                try expect("]")
                return .slice(start: start, end: end, step: step)
            }
            guard let first = start else { throw unexpected() }
            var indices = [first]
            while peek == "," {
                index += 1
                indices.append(try parseInteger(optional: false)!)
                skipWhitespace()
            }
            try expect("]")
            return .indices(indices)
        }
    }

    private mutating func parseInteger(optional: Bool) throws(JSONPathError) -> Int? {
        skipWhitespace()
        let start = index
        if peek == "-" { index += 1 }
        while let scalar = peek, ("0"..."9").contains(scalar) { index += 1 }
        let digits = String(String.UnicodeScalarView(scalars[start..<index]))
        if digits.isEmpty && optional { return nil }
        guard let value = Int(digits) else {
            index = start
            throw peek == nil ? error("expected an integer, found the end") : error("expected an integer")
        }
        return value
    }

    private mutating func parseFilter() throws(JSONPathError) -> JSONPath.Filter {
        let left = try parseOperand()
        skipWhitespace()
        if peek == ")" { return JSONPath.Filter(left: left, comparison: nil, right: nil) }
        let rest = scalars[index...]
        if rest.starts(with: "=~".unicodeScalars) {
            throw error("the regular expression operator \"=~\" is not supported", code: .unsupported)
        }
        let comparison: JSONPath.Comparison
        if let match = [JSONPath.Comparison.equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater]
            .first(where: { rest.starts(with: $0.rawValue.unicodeScalars) })
        {
            comparison = match
        } else {
            throw peek == nil ? error("unterminated filter") : error("expected a comparison operator")
        }
        index += comparison.rawValue.unicodeScalars.count
        let right = try parseOperand()
        return JSONPath.Filter(left: left, comparison: comparison, right: right)
    }

    private mutating func parseOperand() throws(JSONPathError) -> JSONPath.Operand {
        skipWhitespace()
        switch peek {
        case "@", "$":
            return .path(try parsePath(inFilter: true))
        case "\"", "'":
            return .literal(.string(try parseQuoted()))
        case let scalar? where scalar == "-" || ("0"..."9").contains(scalar):
            let start = index
            while let next = peek,
                next == "-" || next == "+" || next == "." || next == "e" || next == "E" || ("0"..."9").contains(next)
            {
                index += 1
            }
            let number = String(String.UnicodeScalarView(scalars[start..<index]))
            if let integer = Int64(number) { return .literal(.integer(integer)) }
            if let double = Double(number) { return .literal(.double(double)) }
            index = start
            throw error("invalid number \(JSONValue.string(number))")
        default:
            for (word, value) in [("true", JSONValue.bool(true)), ("false", .bool(false)), ("null", .null)]
            where scalars[index...].starts(with: word.unicodeScalars) {
                index += word.unicodeScalars.count
                return .literal(value)
            }
            throw peek == nil ? error("unterminated filter") : unexpected()
        }
    }

    /// A string in `"` or `'`, with backslash escapes (`\n`, `\t`, `\"`, `\u00e9`, ...).
    private mutating func parseQuoted() throws(JSONPathError) -> String {
        guard let quote = peek else { throw error("expected a quoted string") }
        let start = index
        index += 1
        var string = String.UnicodeScalarView()
        while let scalar = peek {
            index += 1
            if scalar == quote { return String(string) }
            guard scalar == "\\" else {
                string.append(scalar)
                continue
            }
            guard let escaped = peek else { break }
            index += 1
            switch escaped {
            case "n": string.append("\n")
            case "t": string.append("\t")
            case "r": string.append("\r")
            case "u":
                guard index + 4 <= scalars.count,
                    let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16),
                    let unicode = Unicode.Scalar(code)
                else { throw error("invalid \\u escape") }
                index += 4
                string.append(unicode)
            default: string.append(escaped)
            }
        }
        index = start
        throw error("unterminated string")
    }
}
