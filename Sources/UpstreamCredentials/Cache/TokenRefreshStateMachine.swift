public import Foundation

/// The refresh policy of one cached token as a pure state machine: events in (a request, a step of the scheduler, a
/// fetch's result, an upstream 401), actions out. Time comes from the caller; randomness for jitter from an injected
/// generator. ``TokenCacheEntry`` executes the actions.
///
/// **Refresh ahead.** A token of lifetime `L = expiresAt − issuedAt` is refreshed at
///
/// ```
/// margin    = before                                   if configured and < L
///           = min(max(5 min, 0.2 × L), L / 2)          otherwise
/// refreshAt = max(issuedAt, expiresAt − margin × (1 + jitter × u)),   u ~ U[0, 1], jitter = 0.1
/// ```
///
/// | lifetime L | margin | refresh after (no jitter) | with jitter up to |
/// |---|---|---|---|
/// | 5 min (gateway JWT default) | 2 min 30 s | 2 min 30 s | 15 s earlier |
/// | 10 min | 5 min | 5 min | 30 s earlier |
/// | 1 h (STS, IAM, Entra 3599 s) | 12 min | 48 min | 1 min 12 s earlier |
/// | 12 h | 2 h 24 min | 9 h 36 min | 14 min 24 s earlier |
/// | 24 h | 4 h 48 min | 19 h 12 min | 28 min 48 s earlier |
///
/// **Serving.** A token is handed out while `now < expiresAt − minimumRemainingValidity` (5 s), also while a refresh
/// is under way; never after. Without one, a request waits for the fetch in flight (single flight: N waiters, one
/// fetch), or fails at once with the last error while the entry is backing off after a failed round.
///
/// **Failures.** A refresh round makes up to `maxAttempts` (3) attempts. A transient failure (unreachable, timeout,
/// 5xx, 429) is retried after `retryBackoff` (equal jitter, 250 ms doubling to 2 s); any other failure, or the last
/// attempt's, ends the round: waiters get the error and the next round starts after `failureBackoff` (equal jitter,
/// 1 s doubling to 60 s, by failed rounds in a row):
///
/// | failed rounds | wait before the next round |
/// |---|---|
/// | 1 | 0.5–1 s |
/// | 2 | 1–2 s |
/// | 3 | 2–4 s |
/// | 7+ | 30–60 s |
///
/// ```
///            request (no token) / refreshAt / next round due
///   ┌──────┐ ─────────────────────────────────────────────▶ ┌──────────┐  success ──▶ idle (token, refreshAt)
///   │ idle │                                                 │ fetching │  final failure ──▶ idle (lastError,
///   └──────┘ ◀──────────── retry due ───── waitingToRetry ◀──┘          │  backoff)
///                                           (transient, attempts left)
/// ```
public struct TokenRefreshStateMachine: Sendable {
    /// Where the entry is in its refresh cycle.
    public enum Phase: Sendable, Hashable {
        /// No fetch under way; the next round starts at ``TokenRefreshStateMachine/nextRoundAt``.
        case idle
        /// Attempt `attempt` (1-based) of a round is in flight.
        case fetching(attempt: Int)
        /// Attempt `attempt` starts at `at`.
        case waitingToRetry(attempt: Int, at: Date)
    }

    /// What to do with a request for the token.
    public enum RequestAction: Sendable, Hashable {
        /// Use this token.
        case serve(Token)
        /// Wait for the fetch that is under way or scheduled.
        case wait
        /// Wait, and wake the scheduler: a fetch became due now.
        case waitAndWakeScheduler
        /// Fail at once: the last round failed and the next has not started yet.
        case fail(CredentialError)
    }

    /// What the scheduler should do for this entry now.
    public enum Step: Sendable, Hashable {
        /// Start attempt `attempt`.
        case fetch(attempt: Int)
        /// Nothing now; ask again at this time.
        case sleep(until: Date)
        /// Nothing until an event (a fetch in flight finishes).
        case idle
    }

    /// What to do when a fetch finished.
    public enum CompletionAction: Sendable, Hashable {
        /// Resume every waiter with the token.
        case succeedWaiters(Token)
        /// Keep the waiters; the next attempt is at this time.
        case retry(at: Date)
        /// Resume every waiter with the error.
        case failWaiters(CredentialError)
    }

    public let configuration: TokenRefreshConfiguration
    /// The newest token, possibly expired.
    public private(set) var token: Token?
    /// When ``token`` is due for replacement.
    public private(set) var refreshAt: Date?
    /// When ``token`` was obtained.
    public private(set) var lastRefreshTime: Date?
    /// When the next round starts while ``phase`` is idle.
    public private(set) var nextRoundAt: Date?
    public private(set) var phase: Phase
    /// Failed attempts since the last success.
    public private(set) var consecutiveFailures: Int = 0
    /// Failed rounds since the last success; drives the failure backoff.
    public private(set) var consecutiveFailedRounds: Int = 0
    /// The last failure since the last success.
    public private(set) var lastError: CredentialError?

    /// A new entry: its first round is due at `now`, so the token is fetched before the first request needs it.
    public init(configuration: TokenRefreshConfiguration = TokenRefreshConfiguration(), now: Date) {
        self.configuration = configuration
        self.phase = .idle
        self.nextRoundAt = now
    }

    // MARK: Questions

    /// The token if it may be handed out at `now`: `now < expiresAt − minimumRemainingValidity`.
    public func validToken(at now: Date) -> Token? {
        guard let token, now < token.expiresAt.adding(.zero - configuration.minimumRemainingValidity) else {
            return nil
        }
        return token
    }

    /// The status at `now`.
    public func status(at now: Date) -> CredentialStatusSnapshot {
        let next: Date? =
            switch phase {
            case .idle: nextRoundAt
            case .fetching: now
            case .waitingToRetry(_, let at): at
            }
        return CredentialStatusSnapshot(
            ready: validToken(at: now) != nil,
            expiresAt: token?.expiresAt,
            lastRefreshTime: lastRefreshTime,
            nextRefreshTime: next,
            consecutiveFailures: consecutiveFailures,
            lastError: lastError
        )
    }

    /// When a token should be replaced; see the type's documentation for the formula.
    ///
    /// - Parameters:
    ///   - token: The token.
    ///   - configuration: The policy.
    ///   - jitter: `u` in `[0, 1]`: 0 refreshes exactly at `expiresAt − margin`, 1 a `jitter` share of the margin
    ///     earlier.
    public static func refreshTime(
        for token: Token,
        configuration: TokenRefreshConfiguration,
        jitter u: Double
    ) -> Date {
        let margin = configuration.refreshMargin(forLifetime: token.lifetime)
        let jittered = margin.scaled(by: 1 + configuration.jitter * min(max(u, 0), 1))
        return max(token.issuedAt, token.expiresAt.adding(.zero - jittered))
    }

    // MARK: Events

    /// A request wants the token at `now`.
    public mutating func request(now: Date) -> RequestAction {
        if let token = validToken(at: now) { return .serve(token) }
        switch phase {
        case .fetching, .waitingToRetry:
            return .wait
        case .idle:
            if let lastError, let next = nextRoundAt, now < next { return .fail(lastError) }
            nextRoundAt = min(nextRoundAt ?? now, now)
            return .waitAndWakeScheduler
        }
    }

    /// The scheduler asks what is due at `now`; a due fetch moves the entry to ``Phase/fetching(attempt:)``.
    public mutating func nextStep(now: Date) -> Step {
        switch phase {
        case .fetching:
            return .idle
        case .waitingToRetry(let attempt, let at):
            guard now >= at else { return .sleep(until: at) }
            phase = .fetching(attempt: attempt)
            return .fetch(attempt: attempt)
        case .idle:
            guard let next = nextRoundAt else { return .idle }
            guard now >= next else { return .sleep(until: next) }
            phase = .fetching(attempt: 1)
            return .fetch(attempt: 1)
        }
    }

    /// The fetch in flight returned `token` at `now`.
    ///
    /// A token that would not be served at `now` (it expires within `minimumRemainingValidity`) counts as a
    /// ``CredentialError/Reason/malformedResponse`` failure.
    public mutating func fetchSucceeded(
        _ token: Token,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> CompletionAction {
        guard now < token.expiresAt.adding(.zero - configuration.minimumRemainingValidity) else {
            let lifetime = Int(token.expiresAt.timeIntervalSince(now).rounded(.down))
            return fetchFailed(
                CredentialError(.malformedResponse, "the token service issued a token that expires in \(lifetime)s"),
                now: now,
                using: &generator
            )
        }
        self.token = token
        lastRefreshTime = now
        consecutiveFailures = 0
        consecutiveFailedRounds = 0
        lastError = nil
        phase = .idle
        let refreshAt = Self.refreshTime(
            for: token,
            configuration: configuration,
            jitter: generator.nextUnitInterval()
        )
        self.refreshAt = refreshAt
        nextRoundAt = refreshAt
        return .succeedWaiters(token)
    }

    /// The fetch in flight failed with `error` at `now`.
    public mutating func fetchFailed(
        _ error: CredentialError,
        now: Date,
        using generator: inout some RandomNumberGenerator
    ) -> CompletionAction {
        let attempt: Int
        if case .fetching(let current) = phase { attempt = current } else { attempt = configuration.maxAttempts }
        consecutiveFailures += 1
        lastError = error
        if error.isTransient && attempt < configuration.maxAttempts {
            let at = now.adding(configuration.retryBackoff.wait(beforeRetry: attempt, using: &generator))
            phase = .waitingToRetry(attempt: attempt + 1, at: at)
            return .retry(at: at)
        }
        consecutiveFailedRounds += 1
        phase = .idle
        nextRoundAt = now.adding(configuration.failureBackoff.wait(beforeRetry: consecutiveFailedRounds, using: &generator))
        return .failWaiters(error)
    }

    /// The upstream rejected a token (HTTP 401): drop it if it is still the current one (`value`, or whichever is
    /// current when `nil`), and fetch a new one now unless the entry is backing off after failures.
    ///
    /// - Returns: Whether the scheduler must be woken.
    public mutating func invalidate(value: String? = nil, now: Date) -> Bool {
        guard let current = token, value == nil || current.value == value else { return false }
        token = nil
        refreshAt = nil
        guard case .idle = phase, lastError == nil else { return false }
        nextRoundAt = now
        return true
    }
}
