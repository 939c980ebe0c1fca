import Synchronization

/// A ``CircuitBreaker`` shared by the event loops of a gateway: the same breaker behind a `Mutex`.
///
/// Every method takes the lock for a few comparisons and never across an `await`. Random draws for the open
/// period's jitter happen under the lock, from the generator passed in.
public final class SharedCircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    private let breaker: Mutex<CircuitBreaker<Instant>>

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
        self.breaker.withLock { $0.acquire(now: now) }
    }

    /// See ``CircuitBreaker/record(_:duration:permit:now:using:)``.
    public func record(
        _ outcome: CallOutcome,
        duration: Duration,
        permit: CircuitBreakerPermit,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> CircuitBreakerTransition? {
        self.breaker.withLock { $0.record(outcome, duration: duration, permit: permit, now: now, using: &generator) }
    }

    /// See ``CircuitBreaker/force(_:now:)``.
    public func force(_ target: CircuitBreakerTarget, now: Instant) -> CircuitBreakerTransition? {
        self.breaker.withLock { $0.force(target, now: now) }
    }

    /// See ``CircuitBreaker/snapshot(now:)``.
    public func snapshot(now: Instant) -> CircuitBreakerSnapshot<Instant> {
        self.breaker.withLock { $0.snapshot(now: now) }
    }
}
