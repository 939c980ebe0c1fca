/// A kubeconfig, the in-cluster environment or an exec credential plugin could not give a usable
/// configuration. The message names the file and the field (never a credential's value).
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable, Hashable {
            case unreadableFile, invalidFormat, missingField, invalidField, unknownContext, unknownCluster, unknownUser
            case notInCluster, unsupported, execFailed, execInvalidOutput
        }

        let base: Base

        /// A file named by the configuration does not exist or cannot be read.
        public static let unreadableFile = Code(base: .unreadableFile)
        /// The file is not YAML/JSON of the expected shape.
        public static let invalidFormat = Code(base: .invalidFormat)
        /// A required field is absent.
        public static let missingField = Code(base: .missingField)
        /// A field has a value that cannot be used (bad base64, a URL without a scheme, conflicting fields).
        public static let invalidField = Code(base: .invalidField)
        /// The context named (or `current-context`) does not exist.
        public static let unknownContext = Code(base: .unknownContext)
        /// The context's cluster does not exist.
        public static let unknownCluster = Code(base: .unknownCluster)
        /// The context's user does not exist.
        public static let unknownUser = Code(base: .unknownUser)
        /// `KUBERNETES_SERVICE_HOST`/`PORT` are not set: not running in a pod.
        public static let notInCluster = Code(base: .notInCluster)
        /// A feature this client does not implement (auth-provider plugins, basic auth).
        public static let unsupported = Code(base: .unsupported)
        /// The exec plugin could not be started, timed out or exited non-zero.
        public static let execFailed = Code(base: .execFailed)
        /// The exec plugin's output is not a usable ExecCredential.
        public static let execInvalidOutput = Code(base: .execInvalidOutput)

        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    public var file: String
    public var line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: ConfigurationError, rhs: ConfigurationError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
