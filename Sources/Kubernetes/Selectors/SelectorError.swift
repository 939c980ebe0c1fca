/// A label or field selector that could not be parsed, or that names a field the resource does not
/// support. The API server answers either with `400 BadRequest` and ``message``.
///
/// Two errors are equal when their codes are; the message and source location are kept for diagnosis.
public struct SelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case invalidSelector
            case unsupportedField
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The selector's syntax, a label key or a label value is invalid.
        public static let invalidSelector = Code(.invalidSelector)
        /// A field selector names a field the resource cannot be selected by.
        public static let unsupportedField = Code(.unsupportedField)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// The message, worded as Kubernetes words it (`unable to parse requirement: ...`,
    /// `field label not supported: spec.host`).
    public let message: String
    /// Where the error was raised.
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The HTTP status the API server answers with: always 400.
    public var httpStatusCode: Int { 400 }

    public var description: String { message }

    public static func == (lhs: SelectorError, rhs: SelectorError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
