/// What the retry policy needs to know about the request being retried.
public struct RetryRequest: Sendable, Hashable {
    /// Whether repeating the request cannot repeat its effect: its method is idempotent (RFC 9110 §9.2.2),
    /// or it carries an `Idempotency-Key` header.
    public var isIdempotent: Bool
    /// Whether the gateway can send the request body again: there is none, or it was buffered whole.
    ///
    /// A body that was streamed to the upstream is gone once written. It does not matter for failures in
    /// which nothing was written (a connect failure, a reset before the request): the body was never read
    /// from the client, so the retry sends it as the first attempt would have.
    public var bodyIsReplayable: Bool

    /// A request described directly.
    ///
    /// - Parameters:
    ///   - isIdempotent: Whether repeating the request cannot repeat its effect.
    ///   - bodyIsReplayable: Whether the body can be sent again.
    public init(isIdempotent: Bool, bodyIsReplayable: Bool) {
        self.isIdempotent = isIdempotent
        self.bodyIsReplayable = bodyIsReplayable
    }

    /// A request described by its method and headers.
    ///
    /// - Parameters:
    ///   - method: The request method, as sent (methods are case-sensitive).
    ///   - hasIdempotencyKey: Whether the request has an `Idempotency-Key` header.
    ///   - bodyIsReplayable: Whether the body can be sent again.
    public init(method: String, hasIdempotencyKey: Bool, bodyIsReplayable: Bool) {
        self.isIdempotent = hasIdempotencyKey || Self.isIdempotent(method: method)
        self.bodyIsReplayable = bodyIsReplayable
    }

    /// Whether `method` is idempotent: `GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE` or `TRACE`
    /// (RFC 9110 §9.2.2). Methods are case-sensitive, so `get` is not `GET`.
    ///
    /// - Parameter method: The request method.
    /// - Returns: `true` for the six idempotent methods.
    public static func isIdempotent(method: String) -> Bool {
        switch method {
        case "GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE": true
        default: false
        }
    }
}
