/// `meta/v1 Status`: what the API server answers instead of an object when a request fails (and for
/// some successful deletes), and what a watch's ERROR event carries.
public struct Status: Sendable, Hashable, Codable {
    public var kind: String?
    public var apiVersion: String?
    /// `Success` or `Failure`.
    public var status: String?
    /// A human-readable description, e.g. `routes.portcullis.io "web" not found`.
    public var message: String?
    /// A machine-readable reason in CamelCase, e.g. `NotFound`, `Conflict`, `Invalid`, `Expired`.
    public var reason: String?
    public var details: StatusDetails?
    /// The HTTP status code, repeated in the body.
    public var code: Int?

    public init(
        status: String? = "Failure",
        message: String? = nil,
        reason: String? = nil,
        details: StatusDetails? = nil,
        code: Int? = nil
    ) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }
}

/// `details` of a ``Status``: which object the failure is about and, for `Invalid`, every field at fault.
public struct StatusDetails: Sendable, Hashable, Codable {
    public var name: String?
    public var group: String?
    /// The resource (plural) for NotFound, AlreadyExists and Conflict; the Kind for Invalid.
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    /// How long the client should wait before retrying (429 and some 5xx answers).
    public var retryAfterSeconds: Int?

    public init(
        name: String? = nil,
        group: String? = nil,
        kind: String? = nil,
        uid: String? = nil,
        causes: [StatusCause]? = nil,
        retryAfterSeconds: Int? = nil
    ) {
        self.name = name
        self.group = group
        self.kind = kind
        self.uid = uid
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// One cause of a failure, shaped like the API server's `field.Error` as it reports it:
/// `{"reason":"FieldValueInvalid","message":"Invalid value: 11: must be <= 10","field":"spec.retries.attempts"}`.
public struct StatusCause: Sendable, Hashable, Codable, CustomStringConvertible {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ... (see `Kubernetes.FieldError.Kind`).
    public var reason: String?
    /// The message without the field path, e.g. `Invalid value: 11: ...`.
    public var message: String?
    /// The field path, e.g. `spec.retries.attempts`.
    public var field: String?

    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }

    /// `<field>: <message>`, the line kubectl prints for each cause.
    public var description: String {
        switch (field, message) {
        case (let field?, let message?): return "\(field): \(message)"
        case (nil, let message?): return message
        case (let field?, nil): return "\(field): \(reason ?? "invalid")"
        case (nil, nil): return reason ?? "invalid"
        }
    }
}
