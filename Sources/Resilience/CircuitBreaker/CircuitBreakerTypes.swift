/// The state of a circuit breaker.
public enum CircuitBreakerState: String, Sendable, Hashable, CaseIterable {
    /// Calls pass and are recorded in the window.
    case closed = "Closed"
    /// Calls fail fast without reaching the upstream.
    case open = "Open"
    /// A few probe calls pass; they decide between closed and open.
    case halfOpen = "HalfOpen"
}

/// Leave to make one call, given by ``CircuitBreaker/acquire(now:)``.
///
/// Every permit must be handed back exactly once, to ``CircuitBreaker/record(_:duration:permit:now:using:)``,
/// with ``CallOutcome/ignored`` if the call was cancelled: a half-open breaker waits for its probes.
/// A permit remembers the breaker state it was issued in; the result of a call admitted before the breaker
/// changed state is not recorded in the new state.
public struct CircuitBreakerPermit: Sendable, Hashable {
    /// The state change counter when the permit was issued.
    let generation: UInt64
    /// Whether the call is a half-open probe.
    public let isProbe: Bool
}

/// Whether a call may go to the upstream.
public enum CircuitBreakerAdmission: Sendable, Hashable {
    /// Make the call. `transition` is set when this call moved the breaker from open to half-open.
    case allowed(CircuitBreakerPermit, transition: CircuitBreakerTransition?)
    /// Fail fast (503 or the Route's fallback) and tell the client to come back after `retryAfter`.
    case rejected(retryAfter: Duration)

    /// The permit, if the call is allowed.
    public var permit: CircuitBreakerPermit? {
        if case .allowed(let permit, _) = self { permit } else { nil }
    }
}

/// A change of a circuit breaker's state, returned so the caller can log it, count it, and send it to peer
/// replicas when the breaker's scope is shared.
public struct CircuitBreakerTransition: Sendable, Hashable {
    /// Why the breaker changed state.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// The failure rate reached `failureRatePercent` after `minimumCalls`.
        case failureRate
        /// The slow-call rate reached `slowCall.ratePercent` after `minimumCalls`.
        case slowCallRate
        /// `consecutiveFailures` failures in a row.
        case consecutiveFailures
        /// A half-open probe failed.
        case probeFailed
        /// A half-open probe succeeded, but slower than `slowCall.duration`.
        case probeSlow
        /// The open period elapsed and a call arrived.
        case openPeriodElapsed
        /// All half-open probes succeeded.
        case probesSucceeded
        /// ``CircuitBreaker/force(_:now:)``: a peer's transition, or an operator.
        case forced
    }

    /// The state before.
    public let from: CircuitBreakerState
    /// The state after.
    public let to: CircuitBreakerState
    /// Why.
    public let reason: Reason
    /// How long the breaker stays open, when ``to`` is ``CircuitBreakerState/open``.
    public let openDuration: Duration?
    /// Trips in a row without closing in between, this one included; 0 once closed.
    public let tripStreak: Int

    /// A transition, e.g. one received from a peer replica.
    ///
    /// - Parameters:
    ///   - from: The state before.
    ///   - to: The state after.
    ///   - reason: Why.
    ///   - openDuration: How long the breaker stays open, when `to` is open.
    ///   - tripStreak: Trips in a row.
    public init(
        from: CircuitBreakerState,
        to: CircuitBreakerState,
        reason: Reason,
        openDuration: Duration?,
        tripStreak: Int
    ) {
        self.from = from
        self.to = to
        self.reason = reason
        self.openDuration = openDuration
        self.tripStreak = tripStreak
    }

    /// What a peer replica applies with ``CircuitBreaker/force(_:now:)`` to follow this transition.
    public var target: CircuitBreakerTarget {
        switch self.to {
        case .closed: .closed
        case .open: .open(for: self.openDuration ?? .zero, tripStreak: self.tripStreak)
        case .halfOpen: .halfOpen
        }
    }
}

/// A state to force a circuit breaker into, with what it needs to be in it.
///
/// Instants are not shared between replicas (each has its own monotonic clock), so an open period travels
/// as a duration: a peer that receives it a little late stays open a little longer.
public enum CircuitBreakerTarget: Sendable, Hashable {
    /// Close: empty the window and end the trip streak.
    case closed
    /// Open for this long; `tripStreak` is the sender's, so the next trip here grows from it.
    case open(for: Duration, tripStreak: Int)
    /// Half-open: admit `halfOpenProbes` probes.
    case halfOpen
}

/// A circuit breaker's state for status and metrics.
public struct CircuitBreakerSnapshot<Instant: InstantProtocol>: Sendable, Hashable where Instant.Duration == Duration {
    /// The current state.
    public let state: CircuitBreakerState
    /// When the breaker entered it.
    public let since: Instant
    /// When an open breaker admits its first probe; `nil` unless open.
    public let openUntil: Instant?
    /// Calls in the current window.
    public let calls: Int
    /// Failed calls in the current window.
    public let failures: Int
    /// Slow calls in the current window.
    public let slowCalls: Int
    /// `⌊failures × 100 / calls⌋`, 0 for an empty window: the status field `failureRate`.
    public let failureRatePercent: Int
    /// `⌊slowCalls × 100 / calls⌋`, 0 for an empty window.
    public let slowCallRatePercent: Int
    /// Times the breaker has opened (forced opens included): the status field `trips`.
    public let trips: Int64
    /// Trips in a row without closing in between.
    public let tripStreak: Int
}
