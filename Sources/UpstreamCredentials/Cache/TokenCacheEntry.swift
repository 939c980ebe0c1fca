public import Foundation
import Logging
import Synchronization

/// One cached credential: its provider, its ``TokenRefreshStateMachine`` behind a `Mutex`, and the requests waiting
/// for a fetch.
///
/// The gateway keeps a reference per route and calls ``currentHeaderValue(now:)`` per request: one lock, a
/// comparison and a string retain, no `await`, no allocation. Only a cold entry (no valid token) sends a request
/// to ``token()``, which waits for the single fetch in flight.
public final class TokenCacheEntry: Sendable {
    private struct State {
        var machine: TokenRefreshStateMachine
        /// `header.prefix + token.value` for the machine's current token, built once per fetch.
        var headerValue: String?
        var waiters: [UInt64: CheckedContinuation<Token, any Error>] = [:]
        var removed = false
    }

    /// Obtains tokens for this entry.
    public let provider: any TokenProvider
    /// Where the token goes.
    public let header: CredentialHeader
    /// A name for logs (the cache key's description).
    public let name: String
    private let state: Mutex<State>
    private let nextWaiterID = Atomic<UInt64>(0)
    private let scheduler: TokenCacheScheduler
    private let logger: Logger

    init(
        name: String,
        provider: any TokenProvider,
        configuration: TokenRefreshConfiguration,
        header: CredentialHeader,
        scheduler: TokenCacheScheduler,
        logger: Logger
    ) {
        self.name = name
        self.provider = provider
        self.header = header
        self.scheduler = scheduler
        self.logger = logger
        self.state = Mutex(State(machine: TokenRefreshStateMachine(configuration: configuration, now: scheduler.clock.now())))
    }

    public var configuration: TokenRefreshConfiguration { state.withLock { $0.machine.configuration } }

    // MARK: The request path

    /// The token if one may be used at `now`; `nil` when the entry is cold (then call ``token()``).
    public func currentToken(now: Date) -> Token? {
        state.withLock { $0.machine.validToken(at: now) }
    }

    /// `header.prefix + token` if a token may be used at `now`, without building the string again.
    public func currentHeaderValue(now: Date) -> String? {
        state.withLock { state in
            state.machine.validToken(at: now) == nil ? nil : state.headerValue
        }
    }

    /// A valid token: the cached one, or the result of the fetch in flight (starting one if none is), shared by every
    /// caller that arrives meanwhile.
    ///
    /// - Returns: A token valid for at least `minimumRemainingValidity`.
    /// - Throws: The fetch's ``CredentialError``; the last error at once while the entry backs off after a failed
    ///   round; ``CredentialError/Reason/shutdown`` once the cache stopped or the entry was removed;
    ///   `CancellationError` when the caller's task is cancelled (the fetch goes on for the others).
    public func token() async throws -> Token {
        let now = scheduler.clock.now()
        if let token = currentToken(now: now) { return token }
        let id = nextWaiterID.add(1, ordering: .relaxed).newValue
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Token, any Error>) in
                enum Decision {
                    case resume(Result<Token, any Error>)
                    case wait(wake: Bool)
                }
                let decision: Decision = state.withLock { state in
                    if state.removed || scheduler.runState == .finished {
                        return .resume(.failure(CredentialError(.shutdown, "the token cache for \(name) has stopped")))
                    }
                    switch state.machine.request(now: now) {
                    case .serve(let token):
                        return .resume(.success(token))
                    case .fail(let error):
                        return .resume(.failure(error))
                    case .wait, .waitAndWakeScheduler:
                        if Task.isCancelled { return .resume(.failure(CancellationError())) }
                        state.waiters[id] = continuation
                        return .wait(wake: true)
                    }
                }
                switch decision {
                case .resume(let result): continuation.resume(with: result)
                case .wait(let wake): if wake { scheduler.wake() }
                }
            }
        } onCancel: {
            let continuation = state.withLock { $0.waiters.removeValue(forKey: id) }
            continuation?.resume(throwing: CancellationError())
        }
    }

    /// ``header`` `.value(for:)` of ``token()``.
    public func headerValue() async throws -> String {
        header.value(for: try await token().value)
    }

    /// The upstream answered 401: drop the cached token (only if it is still `value`, when given, so a burst of
    /// 401s for the old token does not discard the new one) and fetch a new one.
    public func invalidate(token value: String? = nil) {
        let now = scheduler.clock.now()
        let wake = state.withLock { state in
            let wake = state.machine.invalidate(value: value, now: now)
            if state.machine.token == nil { state.headerValue = nil }
            return wake
        }
        if wake { scheduler.wake() }
        logger.debug("credential invalidated", metadata: ["credentials.entry": "\(name)"])
    }

    /// The status for UpstreamAuth.
    public func status() -> CredentialStatusSnapshot {
        let now = scheduler.clock.now()
        return state.withLock { $0.machine.status(at: now) }
    }

    // MARK: The scheduler's side

    func nextStep(now: Date) -> TokenRefreshStateMachine.Step {
        state.withLock { state in state.removed ? .idle : state.machine.nextStep(now: now) }
    }

    /// Runs attempt `attempt`: the provider's fetch under the fetch timeout, then the state machine's verdict.
    func performFetch(attempt: Int) async {
        let clock = scheduler.clock
        let start = clock.now()
        let timeout = configuration.fetchTimeout
        let provider = self.provider
        let outcome: Result<Token, CredentialError>
        do {
            let token = try await withDeadline(start.adding(timeout), timeout: timeout, clock: clock) {
                try await provider.fetch(now: start)
            }
            // The cache stopped while the provider answered: its waiters get the shutdown, not a token.
            try Task.checkCancellation()
            // The value goes into a request header as it is: a CR or LF in it would let a token service add
            // headers of its own (RFC 6749 A.12 allows printable ASCII and space only).
            guard Token.isValidValue(token.value) else {
                throw CredentialError(.malformedResponse, "the token service's token for \(name) has characters outside printable ASCII, which a header cannot carry")
            }
            outcome = .success(token)
        } catch let error as CredentialError {
            outcome = .failure(error)
        } catch is CancellationError {
            outcome = .failure(CredentialError(.shutdown, "the fetch for \(name) was cancelled"))
        } catch {
            outcome = .failure(CredentialError(.internalError, "the provider failed with \(type(of: error))"))
        }

        let now = clock.now()
        var generator = SystemRandomNumberGenerator()
        let (action, waiters): (TokenRefreshStateMachine.CompletionAction, [CheckedContinuation<Token, any Error>]) =
            state.withLock { state in
                let action: TokenRefreshStateMachine.CompletionAction
                switch outcome {
                case .success(let token):
                    action = state.machine.fetchSucceeded(token, now: now, using: &generator)
                case .failure(let error):
                    action = state.machine.fetchFailed(error, now: now, using: &generator)
                }
                switch action {
                case .succeedWaiters(let token):
                    state.headerValue = header.value(for: token.value)
                    fallthrough
                case .failWaiters:
                    let waiters = Array(state.waiters.values)
                    state.waiters.removeAll()
                    return (action, waiters)
                case .retry:
                    return (action, [])
                }
            }

        switch action {
        case .succeedWaiters(let token):
            for waiter in waiters { waiter.resume(returning: token) }
            logger.debug(
                "credential refreshed",
                metadata: [
                    "credentials.entry": "\(name)", "credentials.attempt": "\(attempt)",
                    "credentials.expires_at": "\(token.expiresAt.timeIntervalSince1970)",
                ]
            )
        case .failWaiters(let error):
            for waiter in waiters { waiter.resume(throwing: error) }
            logger.warning(
                "credential refresh failed",
                metadata: ["credentials.entry": "\(name)", "credentials.attempt": "\(attempt)", "credentials.error": "\(error)"]
            )
        case .retry(let at):
            logger.info(
                "credential fetch failed; retrying",
                metadata: [
                    "credentials.entry": "\(name)", "credentials.attempt": "\(attempt)",
                    "credentials.retry_in": "\(at.timeIntervalSince(now))s",
                    "credentials.error": "\(outcome.failureDescription)",
                ]
            )
        }
        scheduler.wake()
    }

    /// Fails every waiter and refuses new ones.
    func shutdown(removed: Bool) {
        let waiters: [CheckedContinuation<Token, any Error>] = state.withLock { state in
            if removed { state.removed = true }
            let waiters = Array(state.waiters.values)
            state.waiters.removeAll()
            return waiters
        }
        let error = CredentialError(.shutdown, "the token cache for \(name) has stopped")
        for waiter in waiters { waiter.resume(throwing: error) }
    }
}

extension Result where Failure == CredentialError {
    fileprivate var failureDescription: String {
        if case .failure(let error) = self { return error.description }
        return ""
    }
}
