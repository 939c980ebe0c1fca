/// A JSONPath expression or template that could not be parsed.
///
/// Two errors are equal when their codes are; the message and source location are kept for diagnosis.
public struct JSONPathError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidSyntax
            case unsupported
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The text is not a JSONPath expression.
        public static let invalidSyntax = Code(.invalidSyntax)
        /// A construct of kubectl's JSONPath this implementation does not support (`range`, `=~`).
        public static let unsupported = Code(.unsupported)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What is wrong and where: `unterminated filter at offset 12 of ".a[?(@.b"`.
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: JSONPathError, rhs: JSONPathError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
