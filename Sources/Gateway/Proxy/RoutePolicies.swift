import NIOCore
import Resilience
import Synchronization

/// The state a route's policies keep across requests and event loops: its circuit breaker, its
/// bulkhead and its retry budget. It survives config swaps while the route's policy settings stay
/// the same, so a new config does not close an open breaker or refill a spent budget.
final class RoutePolicies: Sendable {
    let route: RouteKey
    let breaker: SharedCircuitBreaker<ContinuousClock.Instant>?
    let breakerConfiguration: CircuitBreakerConfiguration?
    /// ``CircuitBreakerConfiguration/settingsFingerprint``, which a peer's transition must match.
    let breakerSettings: String?
    /// Where this breaker's transitions go to peers; `nil` unless its scope is shared.
    private let outbox: BreakerTransitionOutbox?
    /// The peer replica whose transition put the breaker in its current state; `nil` when this replica's own
    /// calls did.
    private let changedBy = Mutex<String?>(nil)
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

    init(route: RouteKey, _ settings: Settings, metrics: RouteMetrics, outbox: BreakerTransitionOutbox) {
        self.route = route
        self.settings = settings
        self.metrics = metrics
        breakerConfiguration = settings.circuitBreaker
        breakerSettings = settings.circuitBreaker?.settingsFingerprint
        self.outbox = settings.circuitBreaker?.scope == .shared ? outbox : nil
        breaker = settings.circuitBreaker.map { SharedCircuitBreaker(configuration: $0, now: .now) }
        bulkhead = SharedBulkhead(settings.bulkhead)
        retryPolicy = RetryPolicy(configuration: settings.retry)
        retryBudget = SharedRetryBudget(configuration: settings.retry.budget, now: .now)
    }

    /// Records how an attempt went, once the gateway knows.
    func record(_ outcome: AttemptOutcome, duration: Duration, permit: CircuitBreakerPermit?) {
        guard let breaker, let breakerConfiguration, let permit else { return }
        var random = SystemRandomNumberGenerator()
        breakerChanged(breaker.record(breakerConfiguration.classify(outcome), duration: duration, permit: permit, now: .now, using: &random))
    }

    /// Counts a transition of this replica's own breaker and, with the shared scope, hands it to the peers.
    func breakerChanged(_ transition: CircuitBreakerTransition?) {
        guard let transition else { return }
        metrics.breaker(transition)
        changedBy.withLock { $0 = nil }
        if let outbox, let breakerSettings { outbox.publish(transition, route: route, settings: breakerSettings) }
    }

    /// Follows a peer replica's transition. It is counted but never sent on, so peers do not echo.
    ///
    /// - Returns: The transition, or `nil` if the breaker was already there.
    func follow(_ target: CircuitBreakerTarget, from peer: String) -> CircuitBreakerTransition? {
        guard let breaker, let transition = breaker.force(target, now: .now) else { return nil }
        metrics.breaker(transition)
        changedBy.withLock { $0 = peer }
        return transition
    }

    /// The peer replica whose transition put the breaker in its current state; `nil` when this replica's own
    /// calls did, or it never changed.
    var breakerChangedBy: String? { changedBy.withLock { $0 } }

    /// What peers should hear about this breaker now, as `sender`: Open with what is left of its open period
    /// when it is a shared breaker that this replica's own calls opened, else `nil`. A breaker that follows a
    /// peer is never reported, so peers do not echo each other.
    func ownOpenState(sender: String, now: ContinuousClock.Instant = .now) -> BreakerTransitionMessage? {
        guard outbox != nil, let breaker, let breakerSettings, breaker.state == .open, breakerChangedBy == nil else { return nil }
        let snapshot = breaker.snapshot(now: now)
        guard snapshot.state == .open, let until = snapshot.openUntil, until > now else { return nil }
        return BreakerTransitionMessage(openFor: now.duration(to: until), tripStreak: snapshot.tripStreak, route: route, settings: breakerSettings, sender: sender)
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
