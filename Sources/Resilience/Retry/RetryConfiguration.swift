/// When and how failed attempts are retried, as a Route's `retries` sets it.
///
/// A Route without `retries` gets this value with every default: two attempts, only failures that
/// provably never reached the upstream, only idempotent requests, under the default budget.
public struct RetryConfiguration: Sendable, Hashable {
    /// Transport failures that may be retried; Route: `retries.retryOn`.
    public struct Conditions: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8

        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The connection could not be established; the upstream never saw the request.
        public static let connectFailure = Conditions(rawValue: 1 << 0)
        /// An HTTP/2 upstream refused the stream; it never processed the request.
        public static let refusedStream = Conditions(rawValue: 1 << 1)
        /// The connection was reset before any of the request was written.
        public static let resetBeforeRequest = Conditions(rawValue: 1 << 2)
        /// The connection was reset at any point, before the request was written included; the upstream
        /// may have processed the request.
        public static let reset = Conditions(rawValue: 1 << 3)
        /// The attempt hit its timeout; the upstream may have processed the request.
        public static let timeout = Conditions(rawValue: 1 << 4)

        /// The failures that never reached the upstream: the Route's default.
        public static let neverReachedUpstream: Conditions = [.connectFailure, .refusedStream, .resetBeforeRequest]
    }

    /// Attempts in total, the first included; 1 disables retries. 1–10. Route: `retries.attempts`, default 2.
    public var attempts: Int
    /// Transport failures that are retried. Route: `retries.retryOn`, default connect-failure, refused-stream,
    /// reset-before-request.
    public var retryOn: Conditions
    /// Response statuses that are retried (408, 429, 500–599). Route: `retries.statuses`, default none.
    public var statuses: HTTPStatusSet
    /// Whether only idempotent requests (an idempotent method, or an `Idempotency-Key` header) are retried
    /// after failures that may have reached the upstream. Route: `retries.idempotentOnly`, default `true`.
    public var idempotentOnly: Bool
    /// The wait between attempts. Route: `retries.backoff`.
    public var backoff: BackoffConfiguration
    /// The upstream's retry budget. Route: `retries.budget`.
    public var budget: RetryBudgetConfiguration
    /// Whether a 429 or 503 response's `Retry-After` replaces the backoff, within the request deadline.
    /// Route: `retries.honorRetryAfter`, default `true`.
    public var honorRetryAfter: Bool
    /// The longest `Retry-After` honoured; a longer one ends the retries and the response is returned.
    /// Bounds the wait of a request without a deadline. Not a Route field; default 300 s (Envoy's
    /// `rate_limited_retry_back_off.max_interval`).
    public var maxRetryAfter: Duration
    /// The least time an attempt needs: a retry starts only if the rest of the request deadline holds the
    /// wait plus this. Not a Route field; default 10 ms.
    public var minimumAttemptTime: Duration

    /// A retry configuration with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - attempts: Attempts in total. Default 2.
    ///   - retryOn: Transport failures retried. Default ``Conditions/neverReachedUpstream``.
    ///   - statuses: Response statuses retried. Default none.
    ///   - idempotentOnly: Retry non-idempotent requests only when they never reached the upstream.
    ///     Default `true`.
    ///   - backoff: The wait between attempts. Default 25 ms base, 250 ms max, full jitter.
    ///   - budget: The retry budget. Default 20 %, 3 per second.
    ///   - honorRetryAfter: Honour `Retry-After` on 429 and 503. Default `true`.
    ///   - maxRetryAfter: The longest `Retry-After` honoured. Default 300 s.
    ///   - minimumAttemptTime: The least time an attempt needs. Default 10 ms.
    public init(
        attempts: Int = 2,
        retryOn: Conditions = .neverReachedUpstream,
        statuses: HTTPStatusSet = [],
        idempotentOnly: Bool = true,
        backoff: BackoffConfiguration = BackoffConfiguration(),
        budget: RetryBudgetConfiguration = RetryBudgetConfiguration(),
        honorRetryAfter: Bool = true,
        maxRetryAfter: Duration = .seconds(300),
        minimumAttemptTime: Duration = .milliseconds(10)
    ) {
        self.attempts = attempts
        self.retryOn = retryOn
        self.statuses = statuses
        self.idempotentOnly = idempotentOnly
        self.backoff = backoff
        self.budget = budget
        self.honorRetryAfter = honorRetryAfter
        self.maxRetryAfter = maxRetryAfter
        self.minimumAttemptTime = minimumAttemptTime
    }
}
