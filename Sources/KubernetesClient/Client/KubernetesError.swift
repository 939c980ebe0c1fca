/// A request the API server refused or answered in a way the client could not use, decoded from the
/// ``Status`` it sent.
///
/// Compare errors by ``code`` (`error.code == .notFound`); two errors are equal when their codes are.
/// ``message`` is the server's message and never carries a request body, so it holds no secret material.
public struct KubernetesError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a small extensible set (swift-service-lifecycle's `ServiceLifecycleError.Code` shape).
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        enum Base: String, Sendable, Hashable {
            case badRequest, unauthorized, forbidden, notFound, methodNotAllowed, conflict, alreadyExists, gone
            case unsupportedMediaType, invalid, tooManyRequests, timeout, serverError, unexpectedStatus
            case invalidResponse
        }

        let base: Base

        /// 400: the request was malformed (e.g. a strict-decoding error or a bad selector).
        public static let badRequest = Code(base: .badRequest)
        /// 401: no or a rejected credential.
        public static let unauthorized = Code(base: .unauthorized)
        /// 403: the credential may not do this.
        public static let forbidden = Code(base: .forbidden)
        /// 404: the object, namespace or resource does not exist.
        public static let notFound = Code(base: .notFound)
        /// 405: the resource does not support the verb.
        public static let methodNotAllowed = Code(base: .methodNotAllowed)
        /// 409 `Conflict`: a stale resourceVersion on update, or a failed delete precondition.
        public static let conflict = Code(base: .conflict)
        /// 409 `AlreadyExists`: a create for a name that is taken.
        public static let alreadyExists = Code(base: .alreadyExists)
        /// 410 `Gone`/`Expired`: a resourceVersion or continue token older than the server keeps; re-list.
        public static let gone = Code(base: .gone)
        /// 415: the body's content type is not accepted (e.g. strategic merge patch on a custom resource).
        public static let unsupportedMediaType = Code(base: .unsupportedMediaType)
        /// 422 `Invalid`: validation failed; ``KubernetesError/causes`` names every field.
        public static let invalid = Code(base: .invalid)
        /// 429: throttled; see ``KubernetesError/retryAfter``.
        public static let tooManyRequests = Code(base: .tooManyRequests)
        /// 408/504 or reason `Timeout`: the server gave up on the request.
        public static let timeout = Code(base: .timeout)
        /// 5xx: the server failed.
        public static let serverError = Code(base: .serverError)
        /// Any other non-success status code.
        public static let unexpectedStatus = Code(base: .unexpectedStatus)
        /// A success status whose body did not decode as the expected type.
        public static let invalidResponse = Code(base: .invalidResponse)

        public var description: String { base.rawValue }
    }

    public var code: Code
    /// The HTTP status code (or a watch ERROR event's `code`); 0 when there was none.
    public var statusCode: Int
    /// The server's message, e.g. `routes.portcullis.io "web" not found`.
    public var message: String
    /// The Status the server sent, when it sent one.
    public var status: Status?
    /// How long to wait before retrying, from `details.retryAfterSeconds` or a `Retry-After` header.
    public var retryAfter: Duration?
    /// Where the error was created.
    public var file: String
    public var line: Int

    public init(
        code: Code,
        statusCode: Int = 0,
        message: String,
        status: Status? = nil,
        retryAfter: Duration? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.statusCode = statusCode
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
        self.file = file
        self.line = line
    }

    /// The error a Status describes (from a failed response or a watch ERROR event).
    public init(
        status: Status,
        httpStatusCode: Int? = nil,
        retryAfter: Duration? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        let statusCode = httpStatusCode ?? status.code ?? 0
        let retry = retryAfter ?? status.details?.retryAfterSeconds.map { Duration.seconds($0) }
        self.init(
            code: Self.code(statusCode: status.code ?? statusCode, reason: status.reason),
            statusCode: statusCode,
            message: status.message ?? status.reason ?? "the server answered \(statusCode)",
            status: status,
            retryAfter: retry,
            file: file,
            line: line
        )
    }

    /// The machine-readable reason (`NotFound`, `Conflict`, `Invalid`, `Expired`, ...).
    public var reason: String? { status?.reason }

    /// The fields at fault for ``Code/invalid`` (and any other causes the server listed).
    public var causes: [StatusCause] { status?.details?.causes ?? [] }

    /// True for 410 Gone and reason `Expired`: the resourceVersion or continue token is too old.
    public var isExpired: Bool { code == .gone }

    public var description: String {
        var text = "\(code) (\(statusCode)): \(message)"
        if !causes.isEmpty, !causes.allSatisfy({ message.contains($0.description) }) {
            text += " [" + causes.map(\.description).joined(separator: ", ") + "]"
        }
        return text
    }

    public static func == (lhs: KubernetesError, rhs: KubernetesError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Maps a status code and reason to a ``Code``; the reason wins where it is more precise (409).
    static func code(statusCode: Int, reason: String?) -> Code {
        switch reason {
        case "AlreadyExists": return .alreadyExists
        case "Conflict": return .conflict
        case "NotFound": return .notFound
        case "Invalid": return .invalid
        case "Expired", "Gone": return .gone
        case "Unauthorized": return .unauthorized
        case "Forbidden": return .forbidden
        case "TooManyRequests": return .tooManyRequests
        case "Timeout": return .timeout
        case "UnsupportedMediaType": return .unsupportedMediaType
        case "MethodNotAllowed": return .methodNotAllowed
        case "BadRequest": return .badRequest
        default: break
        }
        switch statusCode {
        case 400: return .badRequest
        case 401: return .unauthorized
        case 403: return .forbidden
        case 404: return .notFound
        case 405: return .methodNotAllowed
        case 408, 504: return .timeout
        case 409: return .conflict
        case 410: return .gone
        case 415: return .unsupportedMediaType
        case 422: return .invalid
        case 429: return .tooManyRequests
        case 500...599: return .serverError
        default: return .unexpectedStatus
        }
    }
}
