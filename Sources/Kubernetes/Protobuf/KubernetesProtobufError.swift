/// A request body in `application/vnd.kubernetes.protobuf` that could not be decoded.
///
/// Decoding never traps: every length, tag and varint is checked against the bytes that remain.
/// Two errors are equal when their codes are; the message and source location are kept for diagnosis.
public struct KubernetesProtobufError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case missingMagic
            case truncated
            case malformed
            case unsupported
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The body does not start with `k8s\0`.
        public static let missingMagic = Code(.missingMagic)
        /// The body ends inside a varint, a length-delimited field or a fixed-size field.
        public static let truncated = Code(.truncated)
        /// The bytes are not valid protobuf, or a field has an unexpected wire type or invalid UTF-8.
        public static let malformed = Code(.malformed)
        /// A well-formed body of a kind (or content encoding) this decoder does not handle.
        public static let unsupported = Code(.unsupported)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// What is wrong and where (byte offsets count from the start of the body).
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    /// The HTTP status for the API server: 415 Unsupported Media Type for an unsupported kind, 400 otherwise.
    public var httpStatusCode: Int { code == .unsupported ? 415 : 400 }

    public var description: String { message }

    public static func == (lhs: KubernetesProtobufError, rhs: KubernetesProtobufError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
