/// What the retry policy decided after a failed attempt.
public enum RetryDecision: Sendable, Hashable {
    /// Wait this long, then make the next attempt. A retry has been taken from the budget; call
    /// ``RetryBudget/retryFinished()`` when that attempt ends or is abandoned.
    case retry(after: Duration)
    /// Make no further attempt: return the last response, or the error for the last failure.
    case giveUp(RetryGiveUpReason)
}

/// Why the retry policy gave up. For logs and metrics (`reason` label).
public enum RetryGiveUpReason: String, Sendable, Hashable, CaseIterable {
    /// Every configured attempt has been made.
    case attemptsExhausted
    /// The failure is not one the configuration retries (not in `retryOn`, or the status not in `statuses`).
    case notRetriable
    /// The request is not idempotent and the failure may have reached the upstream.
    case notIdempotent
    /// Some of the body was written and it cannot be sent again.
    case bodyNotReplayable
    /// The rest of the request deadline cannot hold the backoff wait plus an attempt.
    case deadline
    /// The response's `Retry-After` plus an attempt would go past the request deadline.
    case retryAfterBeyondDeadline
    /// The response's `Retry-After` is longer than the configured maximum.
    case retryAfterTooLong
    /// The upstream's retry budget is exhausted.
    case budgetExhausted
}
