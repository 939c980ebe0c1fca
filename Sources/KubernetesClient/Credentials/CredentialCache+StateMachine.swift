/// The refresh logic of a cached credential (a token file's contents, an exec plugin's answer), as
/// a pure state machine: callers ask for the credential with the current time; at most one of them
/// fetches while the others wait for its result (single flight).
///
/// | state | `acquire(now)` | `succeeded` | `failed` | `invalidate(c)` |
/// |---|---|---|---|---|
/// | empty | → fetching, `.fetch` | – | – | – |
/// | fetching | `.wait` (the caller enqueues) | → cached, resume waiters | → empty, fail waiters | – |
/// | cached, `now < refreshAt` | `.use(c)` | – | – | if still `c`: → empty |
/// | cached, `now >= refreshAt` | → fetching, `.fetch` | – | – | – |
struct CredentialCacheStateMachine<Value: Equatable, Instant: InstantProtocol, Waiter> {
    enum State {
        case empty
        case fetching(waiters: [Waiter])
        case cached(Value, refreshAt: Instant?)
    }

    enum AcquireAction {
        /// Use this value.
        case use(Value)
        /// The caller fetches, then reports ``succeeded(_:refreshAt:)`` or ``failed()``.
        case fetch
        /// Another caller is fetching: enqueue with ``enqueue(_:)``.
        case wait
    }

    private(set) var state: State = .empty

    mutating func acquire(now: Instant) -> AcquireAction {
        switch state {
        case .empty:
            state = .fetching(waiters: [])
            return .fetch
        case .fetching:
            return .wait
        case .cached(let value, let refreshAt):
            if let refreshAt, now >= refreshAt {
                state = .fetching(waiters: [])
                return .fetch
            }
            return .use(value)
        }
    }

    /// Adds a waiter while a fetch is in flight; returns `false` when the fetch already finished (acquire again).
    mutating func enqueue(_ waiter: Waiter) -> Bool {
        guard case .fetching(var waiters) = state else { return false }
        waiters.append(waiter)
        state = .fetching(waiters: waiters)
        return true
    }

    /// Stores a fetched value; returns the waiters to resume with it.
    mutating func succeeded(_ value: Value, refreshAt: Instant?) -> [Waiter] {
        let waiters = currentWaiters
        state = .cached(value, refreshAt: refreshAt)
        return waiters
    }

    /// Forgets the fetch; returns the waiters to fail.
    mutating func failed() -> [Waiter] {
        let waiters = currentWaiters
        state = .empty
        return waiters
    }

    /// The server rejected `value` (401): fetch anew on the next acquire, unless a newer value is already cached.
    mutating func invalidate(_ value: Value) {
        if case .cached(let cached, _) = state, cached == value {
            state = .empty
        }
    }

    private var currentWaiters: [Waiter] {
        if case .fetching(let waiters) = state { return waiters }
        return []
    }
}
