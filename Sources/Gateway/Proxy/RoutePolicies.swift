import NIOCore
import Resilience
import Synchronization

/// The state a route's policies keep across requests and event loops: its circuit breaker, its
/// bulkhead and its retry budget. It survives config swaps while the route's policy settings stay
/// the same, so a new config does not close an open breaker or refill a spent budget.
final class RoutePolicies: Sendable {
    let breaker: SharedCircuitBreaker<ContinuousClock.Instant>?
    let breakerConfiguration: CircuitBreakerConfiguration?
    let bulkhead: SharedBulkhead
    let retryPolicy: RetryPolicy
    /// Shared by all of the route's requests, so a full outage cannot multiply the load on its upstream.
    let retryBudget: SharedRetryBudget<ContinuousClock.Instant>
    /// The route's request metrics (kept even when a new config changes the settings).
    let metrics: RouteMetrics
    /// The settings these were made from, to tell whether a new config can keep them.
    let settings: Settings

    struct Settings: Hashable {
        var circuitBreaker: CircuitBreakerConfiguration?
        var bulkhead: BulkheadConfiguration
        var retry: RetryConfiguration
    }

    init(_ settings: Settings, metrics: RouteMetrics) {
        self.settings = settings
        self.metrics = metrics
        breakerConfiguration = settings.circuitBreaker
        breaker = settings.circuitBreaker.map { SharedCircuitBreaker(configuration: $0, now: .now) }
        bulkhead = SharedBulkhead(settings.bulkhead)
        retryPolicy = RetryPolicy(configuration: settings.retry)
        retryBudget = SharedRetryBudget(configuration: settings.retry.budget, now: .now)
    }

    /// Records how an attempt went, once the gateway knows.
    func record(_ outcome: AttemptOutcome, duration: Duration, permit: CircuitBreakerPermit?) {
        guard let breaker, let breakerConfiguration, let permit else { return }
        var random = SystemRandomNumberGenerator()
        metrics.breaker(breaker.record(breakerConfiguration.classify(outcome), duration: duration, permit: permit, now: .now, using: &random))
    }

    /// Hands back a permit whose call says nothing about the upstream (the client left, or no
    /// credential could be had), so a half-open breaker admits another probe in its place.
    func abandon(_ permit: CircuitBreakerPermit?) {
        guard let breaker, let permit else { return }
        var random = SystemRandomNumberGenerator()
        _ = breaker.record(.ignored, duration: .zero, permit: permit, now: .now, using: &random)
    }
}

/// A bulkhead shared by the event loops: at most `maxRequests` in flight, `maxPending` waiting in
/// FIFO order, the rest refused at once. A waiter is woken on its own loop.
final class SharedBulkhead: Sendable {
    private struct State {
        var bulkhead: Bulkhead
        var waiters: [Bulkhead.Ticket: EventLoopPromise<Void>] = [:]
    }

    private let state: Mutex<State>

    init(_ configuration: BulkheadConfiguration) {
        state = Mutex(State(bulkhead: Bulkhead(configuration: configuration)))
    }

    /// Admission: now, after waiting (the future succeeds when a slot frees), or refused (`nil`).
    func enter(on loop: any EventLoop) -> (admitted: EventLoopFuture<Void>, ticket: Bulkhead.Ticket?)? {
        state.withLock { state -> (EventLoopFuture<Void>, Bulkhead.Ticket?)? in
            switch state.bulkhead.tryEnter() {
            case .admitted:
                return (loop.makeSucceededVoidFuture(), nil)
            case .queued(let ticket):
                let promise = loop.makePromise(of: Void.self)
                state.waiters[ticket] = promise
                return (promise.futureResult, ticket)
            case .rejected:
                return nil
            }
        }
    }

    /// A request that was admitted is done; the next waiter, if any, is admitted.
    func leave() {
        let next = state.withLock { state -> EventLoopPromise<Void>? in
            guard let ticket = state.bulkhead.leave() else { return nil }
            return state.waiters.removeValue(forKey: ticket)
        }
        next?.succeed()
    }

    /// A waiter gave up (the client left or the deadline passed) before being admitted.
    func cancel(_ ticket: Bulkhead.Ticket) {
        let waiter = state.withLock { state -> EventLoopPromise<Void>? in
            guard state.bulkhead.cancel(ticket) else { return nil }
            return state.waiters.removeValue(forKey: ticket)
        }
        waiter?.fail(ChannelError.ioOnClosedChannel)
    }
}
