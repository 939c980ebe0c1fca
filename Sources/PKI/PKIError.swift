/// An error thrown by the PKI module: a ``code`` to match on, a message for people, and where it was thrown.
///
/// Equality and hashing consider the ``code`` only (as swift-certificates' `CertificateError` does), so a test
/// can compare with `PKIError(.invalidPEM)`. Messages never contain key material.
public struct PKIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added: match the ones you handle and have a default.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidPEM
            case unsupportedKey
            case keyMismatch
            case notACertificateAuthority
            case invalidRequest
            case invalidClaims
            case invalidIssuer
            case invalidConfiguration
            case duplicateKey
            case rotationInProgress
            case unknownKey
            case invalidState
        }

        private let backing: Backing

        private init(_ backing: Backing) { self.backing = backing }

        /// The PEM text could not be parsed, or holds the wrong kind of object.
        public static let invalidPEM = Code(.invalidPEM)
        /// The key's type or size is not one this module works with.
        public static let unsupportedKey = Code(.unsupportedKey)
        /// A private key does not belong to the certificate or public key it came with.
        public static let keyMismatch = Code(.keyMismatch)
        /// The certificate given as a CA is not allowed to sign certificates.
        public static let notACertificateAuthority = Code(.notACertificateAuthority)
        /// A certificate request is malformed (a bad name, address, URI or duration).
        public static let invalidRequest = Code(.invalidRequest)
        /// JWT claims are malformed or try to set a reserved claim.
        public static let invalidClaims = Code(.invalidClaims)
        /// An OIDC issuer URL is not an absolute https URL without query or fragment.
        public static let invalidIssuer = Code(.invalidIssuer)
        /// A configuration value is out of range.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A key with the same `kid` is already in the key ring.
        public static let duplicateKey = Code(.duplicateKey)
        /// A key of the same algorithm is already waiting to take over.
        public static let rotationInProgress = Code(.rotationInProgress)
        /// No key with that `kid` is in the key ring.
        public static let unknownKey = Code(.unknownKey)
        /// Stored state (a key ring, a Secret's data) is inconsistent.
        public static let invalidState = Code(.invalidState)

        public var description: String { backing.rawValue }
    }

    public var code: Code
    /// What happened, for people; never contains key material.
    public var message: String
    public var file: String
    public var line: UInt

    public init(_ code: Code, _ message: String = "", file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "PKIError.\(code): \(message) (\(file):\(line))" }

    public static func == (lhs: PKIError, rhs: PKIError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
