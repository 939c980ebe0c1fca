/// Decides, after a failed attempt, whether to retry and how long to wait first.
///
/// The checks run in this order; the first that fails gives up with its reason:
///
/// 1. **Attempts** — `attempt < attempts` (``RetryGiveUpReason/attemptsExhausted``).
/// 2. **Condition** — a transport failure must be in `retryOn` (`reset` also covers a reset before the
///    request); a response's status must be in `statuses` (``RetryGiveUpReason/notRetriable``).
/// 3. **Idempotency** — with `idempotentOnly`, a request that is not idempotent (method not GET, HEAD,
///    OPTIONS, PUT, DELETE or TRACE, and no `Idempotency-Key`) is retried only after a failure that provably
///    never reached the upstream: connect failure, refused stream, reset before the request
///    (``RetryGiveUpReason/notIdempotent``).
/// 4. **Body** — unless nothing was written (connect failure, reset before the request), the body must be
///    replayable (``RetryGiveUpReason/bodyNotReplayable``).
/// 5. **Wait** — a 429 or 503 with `Retry-After`, when `honorRetryAfter` is set, waits exactly that long,
///    if it is at most `maxRetryAfter` (``RetryGiveUpReason/retryAfterTooLong``) and the deadline holds it
///    plus `minimumAttemptTime` (``RetryGiveUpReason/retryAfterBeyondDeadline``): the response is returned
///    rather than retried too late. Otherwise the wait is the jittered backoff for retry number `attempt`,
///    and the deadline must hold it plus `minimumAttemptTime` (``RetryGiveUpReason/deadline``).
/// 6. **Budget** — the upstream's ``RetryBudget`` must admit the retry
///    (``RetryGiveUpReason/budgetExhausted``). It is consulted last, so a retry that would be refused for
///    another reason takes nothing from it.
public struct RetryPolicy: Sendable, Hashable {
    /// The Route's retry settings.
    public let configuration: RetryConfiguration
    /// The backoff built from ``RetryConfiguration/backoff``.
    public let backoff: Backoff

    /// A policy with the given configuration.
    ///
    /// - Parameter configuration: The retry settings; the default is the Route's default policy.
    public init(configuration: RetryConfiguration = RetryConfiguration()) {
        self.configuration = configuration
        self.backoff = Backoff(configuration: configuration.backoff)
    }

    /// Whether a response with this status would use its `Retry-After` header, so that the caller parses
    /// the header only when it matters.
    ///
    /// - Parameter status: The response status.
    /// - Returns: `true` for a 429 or 503 that is retried, when `honorRetryAfter` is set.
    public func wantsRetryAfter(status: Int) -> Bool {
        self.configuration.honorRetryAfter && (status == 429 || status == 503)
            && self.configuration.statuses.contains(status)
    }

    /// Whether the configuration retries this outcome at all, before attempts, idempotency, body,
    /// deadline and budget are considered.
    ///
    /// - Parameter outcome: How the attempt ended.
    /// - Returns: `true` if the outcome's condition is in `retryOn`, or its status in `statuses`.
    public func isRetriable(_ outcome: AttemptOutcome) -> Bool {
        let on = self.configuration.retryOn
        switch outcome {
        case .connectFailure: return on.contains(.connectFailure)
        case .refusedStream: return on.contains(.refusedStream)
        case .resetBeforeRequest: return on.contains(.resetBeforeRequest) || on.contains(.reset)
        case .reset: return on.contains(.reset)
        case .timeout: return on.contains(.timeout)
        case .response(let status, _): return self.configuration.statuses.contains(status)
        }
    }

    /// Decides whether to retry after a failed attempt.
    ///
    /// - Parameters:
    ///   - outcome: How the attempt ended.
    ///   - attempt: The number of the attempt that just ended, 1 for the first; the retry would be retry
    ///     number `attempt` and attempt number `attempt + 1`.
    ///   - request: Whether the request is idempotent and its body replayable.
    ///   - remaining: What is left of the request deadline (``Deadline/remaining(now:)``); `nil` for none.
    ///   - budget: The upstream's retry budget; a retry is taken from it when the decision is to retry.
    ///   - now: The current instant, for the budget.
    ///   - generator: The random source for the backoff jitter.
    /// - Returns: ``RetryDecision/retry(after:)`` with the wait, or ``RetryDecision/giveUp(_:)`` with the reason.
    public func decide<Instant>(
        after outcome: AttemptOutcome,
        attempt: Int,
        request: RetryRequest,
        remaining: Duration?,
        budget: inout RetryBudget<Instant>,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> RetryDecision {
        let configuration = self.configuration
        guard attempt < configuration.attempts else { return .giveUp(.attemptsExhausted) }
        guard self.isRetriable(outcome) else { return .giveUp(.notRetriable) }
        if configuration.idempotentOnly && !request.isIdempotent && !outcome.neverReachedUpstream {
            return .giveUp(.notIdempotent)
        }
        if !request.bodyIsReplayable && !Self.nothingWritten(outcome) {
            return .giveUp(.bodyNotReplayable)
        }

        let wait: Duration
        if case .response(let status, let retryAfter?) = outcome, self.wantsRetryAfter(status: status) {
            guard retryAfter <= configuration.maxRetryAfter else { return .giveUp(.retryAfterTooLong) }
            if let remaining, retryAfter + configuration.minimumAttemptTime > remaining {
                return .giveUp(.retryAfterBeyondDeadline)
            }
            wait = retryAfter
        } else {
            wait = self.backoff.wait(beforeRetry: attempt, using: &generator)
            if let remaining, wait + configuration.minimumAttemptTime > remaining {
                return .giveUp(.deadline)
            }
        }

        guard budget.tryAcquireRetry(now: now) else { return .giveUp(.budgetExhausted) }
        return .retry(after: wait)
    }

    /// Whether no byte of the request reached the connection, so no body was consumed.
    private static func nothingWritten(_ outcome: AttemptOutcome) -> Bool {
        switch outcome {
        case .connectFailure, .resetBeforeRequest: true
        case .refusedStream, .reset, .timeout, .response: false
        }
    }
}
