/// A patch that could not be decoded or applied: a JSON patch, a JSON merge patch or a strategic
/// merge patch.
///
/// The ``code`` tells the API server which answer to give (``httpStatusCode``): a patch document that
/// is not a valid patch of its type is a `400 BadRequest`; a valid patch that does not apply to the
/// object (a missing path, a failed `test`) is a `422 Unprocessable Entity`, as kube-apiserver answers;
/// a strategic merge patch of a kind without patch strategies is a `415 Unsupported Media Type`.
/// Two errors are equal when their codes are; the message and source location are kept for diagnosis.
public struct PatchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case malformedPatch
            case notApplicable
            case testFailed
            case unsupportedMediaType
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The document is not a valid patch of its type (HTTP 400).
        public static let malformedPatch = Code(.malformedPatch)
        /// The patch is valid but does not apply to this object (HTTP 422).
        public static let notApplicable = Code(.notApplicable)
        /// A JSON patch `test` operation found a different value (HTTP 422).
        public static let testFailed = Code(.testFailed)
        /// The patch type is not supported for this kind, as strategic merge patch is not for
        /// custom resources (HTTP 415).
        public static let unsupportedMediaType = Code(.unsupportedMediaType)

        public var description: String { base.rawValue }
    }

    /// The kind of failure.
    public let code: Code
    /// A message naming the operation and path, worded for a Status `message`.
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

    /// The HTTP status kube-apiserver answers with: 400 for a malformed patch, 415 for a patch type
    /// the kind does not support, 422 otherwise.
    public var httpStatusCode: Int {
        switch code {
        case .malformedPatch: return 400
        case .unsupportedMediaType: return 415
        default: return 422
        }
    }

    public var description: String { message }

    public static func == (lhs: PatchError, rhs: PatchError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
