/// Why a credential could not be obtained: a machine-readable ``reason`` (the `CredentialReady` condition's reason
/// in UpstreamAuth status), a message for people, and where it was thrown.
///
/// The gateway answers a request whose credential fails with 503 `upstream-auth-failed`, whatever the reason.
///
/// Messages are built from the token service's error text (`error_description`, the Google envelope's `message`,
/// the AADSTS text) and from names in the configuration (URLs, tenant, client ID, service account). They never
/// contain token material or secrets: every provider passes the tokens, assertions and secrets of the exchange to
/// ``init(_:_:httpStatus:isTransient:traceID:correlationID:redacting:file:line:)``, which removes them and anything
/// shaped like a JWT, should a service echo them back.
///
/// Equality and hashing consider the ``reason`` only, as `PKIError` does with its code.
public struct CredentialError: Error, Sendable, Hashable {
    /// A machine-readable reason, PascalCase as Kubernetes condition reasons are. New reasons may be added; the
    /// Entra ID ones are open-ended (`AADSTS700016`, …): match the ones you handle and have a default.
    public struct Reason: Sendable, Hashable, CustomStringConvertible {
        /// The reason as status shows it, e.g. `InvalidGrant` or `AADSTS70021`.
        public let rawValue: String

        init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        /// RFC 6749 `invalid_request`: a missing or malformed parameter (STS: a pool given instead of a provider).
        public static let invalidRequest = Reason("InvalidRequest")
        /// RFC 8693 `invalid_target`: the STS audience names a disabled, deleted or unknown pool or provider.
        public static let invalidTarget = Reason("InvalidTarget")
        /// RFC 6749 `invalid_grant`: the subject token was rejected (issuer unreachable, audience, expiry).
        public static let invalidGrant = Reason("InvalidGrant")
        /// RFC 6749 `invalid_client`: client authentication failed (secret, assertion).
        public static let invalidClient = Reason("InvalidClient")
        /// RFC 6749 `unauthorized_client`: the client may not use this grant (STS: attribute condition).
        public static let unauthorizedClient = Reason("UnauthorizedClient")
        /// RFC 6749 `unsupported_grant_type`.
        public static let unsupportedGrantType = Reason("UnsupportedGrantType")
        /// RFC 6749 `invalid_scope`.
        public static let invalidScope = Reason("InvalidScope")
        /// Google `PERMISSION_DENIED` (403): the federated principal lacks a role on the service account.
        public static let permissionDenied = Reason("PermissionDenied")
        /// Google `UNAUTHENTICATED` (401): the bearer token was missing or not accepted.
        public static let unauthenticated = Reason("Unauthenticated")
        /// Google `INVALID_ARGUMENT` (400): a bad scope, lifetime or audience.
        public static let invalidArgument = Reason("InvalidArgument")
        /// Google `NOT_FOUND` (404).
        public static let notFound = Reason("NotFound")
        /// HTTP 429 or Google `RESOURCE_EXHAUSTED`. Transient.
        public static let rateLimited = Reason("RateLimited")
        /// HTTP 5xx, `server_error`, `temporarily_unavailable`. Transient.
        public static let serverError = Reason("ServerError")
        /// Any other error the token service named; the message has its code.
        public static let tokenServiceError = Reason("TokenServiceError")
        /// The token service could not be reached (DNS, refused, reset, TLS). Transient.
        public static let unreachable = Reason("Unreachable")
        /// The token service did not answer in time. Transient.
        public static let timeout = Reason("Timeout")
        /// The token service answered with something that is not the documented shape.
        public static let malformedResponse = Reason("MalformedResponse")
        /// The token endpoint answered with a redirect (3xx). Token requests never follow one: it would carry the
        /// assertion or client secret to the host it names. Configure the endpoint's final URL.
        public static let redirected = Reason("Redirected")
        /// The configuration cannot work (a malformed provider name, an extra parameter the gateway sets itself).
        public static let invalidConfiguration = Reason("InvalidConfiguration")
        /// The gateway has no signing key for the algorithm, or no issuer, so it cannot mint an assertion.
        public static let signingKeyUnavailable = Reason("SigningKeyUnavailable")
        /// The projected service account token file could not be read.
        public static let subjectTokenUnavailable = Reason("SubjectTokenUnavailable")
        /// The token cache was shut down, or the entry removed, while the request waited.
        public static let shutdown = Reason("Shutdown")
        /// A failure the provider did not classify; the message names only the error's type.
        public static let internalError = Reason("InternalError")

        /// An Entra ID error, by its AADSTS code: `AADSTS700016`, `AADSTS70021`, …
        public static func aadsts(_ code: Int) -> Reason { Reason("AADSTS\(code)") }

        /// The AADSTS code, if this is an Entra ID reason.
        public var aadstsCode: Int? {
            rawValue.hasPrefix("AADSTS") ? Int(rawValue.dropFirst(6)) : nil
        }
    }

    /// The reason, for status and for code that decides what to do.
    public var reason: Reason
    /// What happened, for people. Never token material or secrets.
    public var message: String
    /// The token service's HTTP status, when it answered.
    public var httpStatus: Int?
    /// Whether trying again soon may succeed: unreachable, timeouts, 5xx, 429. The token cache retries these within a
    /// refresh; other errors wait for the next refresh round.
    public var isTransient: Bool
    /// Entra ID's `trace_id`, for a support request.
    public var traceID: String?
    /// Entra ID's `correlation_id`.
    public var correlationID: String?
    public var file: String
    public var line: UInt

    /// Makes an error, removing `redacting` values and anything shaped like a JWT from the message.
    ///
    /// - Parameters:
    ///   - reason: The machine-readable reason.
    ///   - message: The human message.
    ///   - httpStatus: The token service's HTTP status, if it answered.
    ///   - isTransient: Whether a retry may succeed; defaults to the reason's usual answer.
    ///   - traceID: Entra ID's trace ID.
    ///   - correlationID: Entra ID's correlation ID.
    ///   - redacting: Secrets and tokens of the exchange that must not appear in the message.
    public init(
        _ reason: Reason,
        _ message: String = "",
        httpStatus: Int? = nil,
        isTransient: Bool? = nil,
        traceID: String? = nil,
        correlationID: String? = nil,
        redacting: [String] = [],
        file: String = #fileID,
        line: UInt = #line
    ) {
        self.reason = reason
        self.message = Redaction.redact(message, removing: redacting)
        self.httpStatus = httpStatus
        self.isTransient = isTransient ?? Self.transientReasons.contains(reason)
        self.traceID = traceID
        self.correlationID = correlationID
        self.file = file
        self.line = line
    }

    static let transientReasons: Set<Reason> = [.unreachable, .timeout, .serverError, .rateLimited]

    public static func == (lhs: CredentialError, rhs: CredentialError) -> Bool { lhs.reason == rhs.reason }

    public func hash(into hasher: inout Hasher) { hasher.combine(reason) }
}

extension CredentialError: CustomStringConvertible, CustomDebugStringConvertible {
    /// `<reason>: <message>`, the form UpstreamAuth status shows as `lastError`.
    public var description: String {
        message.isEmpty ? reason.rawValue : "\(reason.rawValue): \(message)"
    }

    public var debugDescription: String {
        var text = "CredentialError.\(description)"
        if let httpStatus { text += " (HTTP \(httpStatus))" }
        if let traceID { text += " [trace \(traceID)]" }
        if let correlationID { text += " [correlation \(correlationID)]" }
        return text + " (\(file):\(line))"
    }
}
