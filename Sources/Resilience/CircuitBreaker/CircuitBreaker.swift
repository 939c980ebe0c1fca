/// A circuit breaker for one upstream with Resilience4j's semantics, as a pure state machine.
///
/// ```
///            failure rate ≥ failureRatePercent   (window holds ≥ minimumCalls)
///            slow-call rate ≥ slowCall.ratePercent (window holds ≥ minimumCalls)
///            consecutiveFailures failures in a row
///   Closed ───────────────────────────────────────────────▶ Open ◀──────────────┐
///     ▲                                                      │                   │
///     │ halfOpenProbes probes succeeded                      │ open period over, │ a probe failed
///     │ (window emptied, trip streak ended)                  │ next acquire      │ (or was slow)
///     │                                                      ▼                   │
///     └────────────────────────────────────────────────── HalfOpen ──────────────┘
/// ```
///
/// - **Closed**: every call is allowed. Its result (success or failure, slow or not) goes into the sliding
///   window. After each record the breaker trips if `consecutiveFailures` is set and reached, or if the
///   window holds at least `minimumCalls` calls and `failures × 100 ≥ failureRatePercent × calls`, or
///   `slowCalls × 100 ≥ slowCall.ratePercent × calls`. Integer arithmetic: no rounding.
/// - **Open**: every call is rejected with the time left. The open period of trip `n` in a row
///   (`n = 1` after closed) is
///
///   ```
///   d(n)      = min(maxOpenDuration, openDuration × 2^(n−1))
///   period(1) = openDuration
///   period(n) = d(n) − U[0, d(n) × openJitterPercent / 100]      for n ≥ 2
///   ```
///
///   so a repeated trip never exceeds `maxOpenDuration`, and replicas that tripped together do not probe
///   together. With the defaults (30 s, 300 s, 10 %): 30 s, 54–60 s, 108–120 s, 216–240 s, 270–300 s, …
/// - **HalfOpen**: the first `acquire` after the open period moves the breaker here and is the first probe.
///   Exactly `halfOpenProbes` probes are admitted; further calls are rejected (retry after
///   ``halfOpenRetryAfter``) while they are in flight. An ignored probe frees its slot for another. When
///   `halfOpenProbes` probes have succeeded (and none was slower than `slowCall.duration`) the breaker
///   closes: the window is emptied and the trip streak ends. The first failed or slow probe opens it
///   again with the next, longer period.
///
/// The breaker never reads a clock or a random source of its own: each event carries `now`, and the one
/// event that may trip it takes the random source for the jitter. Every state change is returned as a
/// ``CircuitBreakerTransition``; with the shared scope the caller sends it to the peer replicas, which apply
/// its ``CircuitBreakerTransition/target`` with ``force(_:now:)`` (and do not send forced transitions on).
///
/// One breaker per upstream. Recording allocates nothing; the window's storage is allocated at creation.
public struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// What a half-open breaker tells rejected callers: its probes are usually done within a second.
    public static var halfOpenRetryAfter: Duration { .seconds(1) }

    /// The settings, normalised to the Route's bounds.
    public let configuration: CircuitBreakerConfiguration
    /// The current state.
    public private(set) var state: CircuitBreakerState = .closed
    /// When the breaker entered ``state``.
    public private(set) var since: Instant
    /// Times the breaker has opened.
    public private(set) var trips: Int64 = 0
    /// Trips in a row without closing in between; 0 while closed.
    public private(set) var tripStreak = 0

    /// Incremented on every state change; permits of an earlier generation are stale.
    private var generation: UInt64 = 0
    private var window: OutcomeWindow
    /// The instant the time window's seconds are counted from.
    private let origin: Instant
    private var consecutiveFailures = 0
    private var openUntil: Instant
    /// Probes admitted and not ignored in the current half-open period.
    private var probesAdmitted = 0
    private var probesSucceeded = 0

    /// A closed breaker with an empty window.
    ///
    /// - Parameters:
    ///   - configuration: The settings. Values outside the Route's bounds are clamped to them (sizes and
    ///     counts to at least 1, percentages to 1–100, `maxOpenDuration` to at least `openDuration`): the
    ///     controller validates Routes, and the data plane must not crash on a value it missed.
    ///   - now: The current instant.
    public init(configuration: CircuitBreakerConfiguration = CircuitBreakerConfiguration(), now: Instant) {
        var configuration = configuration
        configuration.window.size = max(1, configuration.window.size)
        configuration.minimumCalls = max(1, configuration.minimumCalls)
        configuration.failureRatePercent = min(100, max(1, configuration.failureRatePercent))
        if var slowCall = configuration.slowCall {
            slowCall.ratePercent = min(100, max(1, slowCall.ratePercent))
            configuration.slowCall = slowCall
        }
        configuration.consecutiveFailures = configuration.consecutiveFailures.map { max(1, $0) }
        configuration.openDuration = max(.zero, configuration.openDuration)
        configuration.maxOpenDuration = max(configuration.openDuration, configuration.maxOpenDuration)
        configuration.openJitterPercent = min(100, max(0, configuration.openJitterPercent))
        configuration.halfOpenProbes = max(1, configuration.halfOpenProbes)
        self.configuration = configuration
        self.window = OutcomeWindow(configuration.window)
        self.origin = now
        self.since = now
        self.openUntil = now
    }

    /// Asks to make a call.
    ///
    /// - Parameter now: The current instant.
    /// - Returns: ``CircuitBreakerAdmission/allowed(_:transition:)`` with a permit to hand back to
    ///   ``record(_:duration:permit:now:using:)`` (and the open → half-open transition, if this call caused
    ///   it), or ``CircuitBreakerAdmission/rejected(retryAfter:)``.
    public mutating func acquire(now: Instant) -> CircuitBreakerAdmission {
        switch self.state {
        case .closed:
            return .allowed(CircuitBreakerPermit(generation: self.generation, isProbe: false), transition: nil)
        case .open:
            guard now >= self.openUntil else { return .rejected(retryAfter: now.duration(to: self.openUntil)) }
            let transition = self.enterHalfOpen(reason: .openPeriodElapsed, now: now)
            return .allowed(self.admitProbe(), transition: transition)
        case .halfOpen:
            guard self.probesAdmitted < self.configuration.halfOpenProbes else {
                return .rejected(retryAfter: Self.halfOpenRetryAfter)
            }
            return .allowed(self.admitProbe(), transition: nil)
        }
    }

    /// Records the result of a call made with `permit`.
    ///
    /// - Parameters:
    ///   - outcome: Success, failure or ignored (``CircuitBreakerConfiguration/classify(_:)`` maps how an
    ///     attempt ended to it).
    ///   - duration: How long the call took, compared with `slowCall.duration`.
    ///   - permit: The permit from ``acquire(now:)``. A permit issued before the last state change is stale:
    ///     its result is not recorded.
    ///   - now: The current instant.
    ///   - generator: The random source for the jitter of the open period, drawn from only on a repeated trip.
    /// - Returns: The transition this result caused, if any.
    public mutating func record(
        _ outcome: CallOutcome,
        duration: Duration,
        permit: CircuitBreakerPermit,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> CircuitBreakerTransition? {
        guard permit.generation == self.generation else { return nil }
        let slow = self.configuration.slowCall.map { duration > $0.duration } ?? false
        switch self.state {
        case .closed:
            return self.recordClosed(outcome, slow: slow, now: now, using: &generator)
        case .open:
            // An open breaker issues no permits, so a permit of this generation cannot exist.
            return nil
        case .halfOpen:
            switch outcome {
            case .ignored:
                self.probesAdmitted -= 1
                return nil
            case .failure:
                return self.trip(reason: .probeFailed, now: now, using: &generator)
            case .success:
                if slow { return self.trip(reason: .probeSlow, now: now, using: &generator) }
                self.probesSucceeded += 1
                guard self.probesSucceeded >= self.configuration.halfOpenProbes else { return nil }
                return self.close(reason: .probesSucceeded, now: now)
            }
        }
    }

    /// Puts the breaker into a state: a transition from a peer replica, or an operator's command.
    ///
    /// - Forcing the current state changes nothing, except that forcing an open breaker open extends its
    ///   open period to `now + duration` if that is later, and raises the trip streak to the given one.
    /// - Forcing open counts as a trip; the trip streak becomes the larger of the local and given streaks.
    /// - No forced open period is longer than this breaker's own `maxOpenDuration`: a peer (or anyone who
    ///   can force it) holds it open at most as long as its own trips could.
    /// - Forcing closed empties the window and ends the trip streak, as closing does.
    ///
    /// - Parameters:
    ///   - target: The state, with the open period if open.
    ///   - now: The current instant.
    /// - Returns: The transition, with reason ``CircuitBreakerTransition/Reason/forced``, or `nil` if the
    ///   state did not change. Do not send forced transitions on to peers.
    public mutating func force(_ target: CircuitBreakerTarget, now: Instant) -> CircuitBreakerTransition? {
        switch target {
        case .closed:
            guard self.state != .closed else { return nil }
            return self.close(reason: .forced, now: now)
        case .halfOpen:
            guard self.state != .halfOpen else { return nil }
            return self.enterHalfOpen(reason: .forced, now: now)
        case .open(let requested, let streak):
            let duration = min(max(.zero, requested), self.configuration.maxOpenDuration)
            let until = now.advanced(by: duration)
            if self.state == .open {
                self.openUntil = max(self.openUntil, until)
                self.tripStreak = max(self.tripStreak, streak)
                return nil
            }
            let from = self.state
            self.tripStreak = max(self.tripStreak, streak, 1)
            self.enterOpen(until: until, now: now)
            return CircuitBreakerTransition(
                from: from,
                to: .open,
                reason: .forced,
                openDuration: duration,
                tripStreak: self.tripStreak
            )
        }
    }

    /// The breaker's state, window totals and trip counts.
    ///
    /// - Parameter now: The current instant; a time window reports only the calls of its last `size` seconds.
    /// - Returns: A snapshot for status and metrics.
    public func snapshot(now: Instant) -> CircuitBreakerSnapshot<Instant> {
        let totals = self.window.totals(at: now.secondsSince(self.origin))
        return CircuitBreakerSnapshot(
            state: self.state,
            since: self.since,
            openUntil: self.state == .open ? self.openUntil : nil,
            calls: totals.calls,
            failures: totals.failures,
            slowCalls: totals.slowCalls,
            failureRatePercent: totals.calls == 0 ? 0 : totals.failures * 100 / totals.calls,
            slowCallRatePercent: totals.calls == 0 ? 0 : totals.slowCalls * 100 / totals.calls,
            trips: self.trips,
            tripStreak: self.tripStreak
        )
    }

    // MARK: - Transitions

    private mutating func recordClosed(
        _ outcome: CallOutcome,
        slow: Bool,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> CircuitBreakerTransition? {
        let failure: Bool
        switch outcome {
        case .ignored: return nil
        case .failure: failure = true
        case .success: failure = false
        }
        self.window.record(failure: failure, slow: slow, second: now.secondsSince(self.origin))
        self.consecutiveFailures = failure ? self.consecutiveFailures + 1 : 0

        if let limit = self.configuration.consecutiveFailures, self.consecutiveFailures >= limit {
            return self.trip(reason: .consecutiveFailures, now: now, using: &generator)
        }
        let calls = self.window.calls
        guard calls >= self.configuration.minimumCalls else { return nil }
        if self.window.failures * 100 >= self.configuration.failureRatePercent * calls {
            return self.trip(reason: .failureRate, now: now, using: &generator)
        }
        if let slowCall = self.configuration.slowCall, self.window.slowCalls * 100 >= slowCall.ratePercent * calls {
            return self.trip(reason: .slowCallRate, now: now, using: &generator)
        }
        return nil
    }

    private mutating func trip(
        reason: CircuitBreakerTransition.Reason,
        now: Instant,
        using generator: inout some RandomNumberGenerator
    ) -> CircuitBreakerTransition {
        let from = self.state
        self.tripStreak += 1
        let period = self.configuration.openPeriod(tripStreak: self.tripStreak, using: &generator)
        self.enterOpen(until: now.advanced(by: period), now: now)
        return CircuitBreakerTransition(
            from: from,
            to: .open,
            reason: reason,
            openDuration: period,
            tripStreak: self.tripStreak
        )
    }

    private mutating func enterOpen(until: Instant, now: Instant) {
        self.state = .open
        self.since = now
        self.openUntil = until
        self.trips += 1
        self.generation &+= 1
        self.probesAdmitted = 0
        self.probesSucceeded = 0
    }

    private mutating func enterHalfOpen(
        reason: CircuitBreakerTransition.Reason,
        now: Instant
    ) -> CircuitBreakerTransition {
        let from = self.state
        self.state = .halfOpen
        self.since = now
        self.generation &+= 1
        self.probesAdmitted = 0
        self.probesSucceeded = 0
        return CircuitBreakerTransition(
            from: from,
            to: .halfOpen,
            reason: reason,
            openDuration: nil,
            tripStreak: self.tripStreak
        )
    }

    private mutating func close(reason: CircuitBreakerTransition.Reason, now: Instant) -> CircuitBreakerTransition {
        let from = self.state
        self.state = .closed
        self.since = now
        self.generation &+= 1
        self.window.reset()
        self.consecutiveFailures = 0
        self.tripStreak = 0
        self.probesAdmitted = 0
        self.probesSucceeded = 0
        return CircuitBreakerTransition(from: from, to: .closed, reason: reason, openDuration: nil, tripStreak: 0)
    }

    private mutating func admitProbe() -> CircuitBreakerPermit {
        self.probesAdmitted += 1
        return CircuitBreakerPermit(generation: self.generation, isProbe: true)
    }
}

extension CircuitBreakerConfiguration {
    /// The open period of trip `tripStreak` in a row, before jitter: `min(maxOpenDuration, openDuration ×
    /// 2^(tripStreak−1))`. With the defaults: 30 s, 60 s, 120 s, 240 s, then 300 s.
    ///
    /// - Parameter tripStreak: Trips in a row, 1 for the first; values below 1 are treated as 1.
    /// - Returns: The nominal open period.
    public func nominalOpenDuration(tripStreak: Int) -> Duration {
        self.openDuration.doubled(max(1, tripStreak) - 1, cappedAt: max(self.openDuration, self.maxOpenDuration))
    }

    /// The open period of trip `tripStreak` in a row: exactly `openDuration` for the first, the nominal
    /// period less up to `openJitterPercent` % of it for later ones.
    func openPeriod(tripStreak: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let nominal = self.nominalOpenDuration(tripStreak: tripStreak)
        guard tripStreak > 1, self.openJitterPercent > 0 else { return nominal }
        let spread = nominal * self.openJitterPercent / 100
        return nominal - .random(upTo: spread, using: &generator)
    }
}
