import Synchronization

/// A ``CircuitBreaker`` shared by the event loops of a gateway: the same breaker behind a `Mutex`.
///
/// Every method takes the lock for a few comparisons and never across an `await`. Random draws for the open
/// period's jitter happen under the lock, from the generator passed in.
///
/// ``state`` is also kept in an atomic, stored under the lock only when the state changes, so the control
/// plane can read it (for a replica's report of its breakers) without taking the lock requests take.
public final class SharedCircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    private let breaker: Mutex<CircuitBreaker<Instant>>
    /// ``CircuitBreakerState`` as 0 (closed), 1 (open), 2 (half-open).
    private let currentState = Atomic<UInt8>(0)

    /// A closed breaker.
    ///
    /// - Parameters:
    ///   - configuration: The settings.
    ///   - now: The current instant.
    public init(configuration: CircuitBreakerConfiguration = CircuitBreakerConfiguration(), now: Instant) {
        self.breaker = Mutex(CircuitBreaker(configuration: configuration, now: now))
    }

    /// See ``CircuitBreaker/acquire(now:)``.
    public func acquire(now: Instant) -> CircuitBreakerAdmission {
        self.breaker.withLock { breaker in
            let admission = breaker.acquire(now: now)
            if case .allowed(_, let transition?) = admission { self.mirror(transition) }
            return admission
        }
    }

    /// See ``CircuitBreaker/record(_:duration:permit:now:using:)``.
    public func record(
        _ outcome: CallOutcome,
        duration: Duration,
        permit: CircuitBreakerPermit,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> CircuitBreakerTransition? {
        self.breaker.withLock { breaker in
            let transition = breaker.record(outcome, duration: duration, permit: permit, now: now, using: &generator)
            if let transition { self.mirror(transition) }
            return transition
        }
    }

    /// See ``CircuitBreaker/force(_:now:)``.
    public func force(_ target: CircuitBreakerTarget, now: Instant) -> CircuitBreakerTransition? {
        self.breaker.withLock { breaker in
            let transition = breaker.force(target, now: now)
            if let transition { self.mirror(transition) }
            return transition
        }
    }

    /// See ``CircuitBreaker/snapshot(now:)``.
    public func snapshot(now: Instant) -> CircuitBreakerSnapshot<Instant> {
        self.breaker.withLock { $0.snapshot(now: now) }
    }

    /// The current state, read without the lock: the state after the last transition.
    public var state: CircuitBreakerState {
        switch self.currentState.load(ordering: .relaxed) {
        case 1: .open
        case 2: .halfOpen
        default: .closed
        }
    }

    /// Called under the lock, so the atomic follows the transitions in their order.
    private func mirror(_ transition: CircuitBreakerTransition) {
        let value: UInt8
        switch transition.to {
        case .closed: value = 0
        case .open: value = 1
        case .halfOpen: value = 2
        }
        self.currentState.store(value, ordering: .relaxed)
    }
}
