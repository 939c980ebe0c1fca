import Resilience
import Testing

/// A breaker on a test timeline with a pinned random source.
struct BreakerHarness {
    var breaker: CircuitBreaker<TestInstant>
    var random: FixedRandom
    var now = TestInstant.zero

    init(_ configuration: CircuitBreakerConfiguration, random: FixedRandom = FixedRandom(FixedRandom.lowest)) {
        self.breaker = CircuitBreaker(configuration: configuration, now: .zero)
        self.random = random
    }

    var state: CircuitBreakerState { self.breaker.state }

    mutating func acquire() -> CircuitBreakerAdmission { self.breaker.acquire(now: self.now) }

    mutating func record(
        _ outcome: CallOutcome,
        _ permit: CircuitBreakerPermit,
        duration: Duration = .milliseconds(10)
    ) -> CircuitBreakerTransition? {
        self.breaker.record(outcome, duration: duration, permit: permit, now: self.now, using: &self.random)
    }

    /// Acquires and records at once; the call must be allowed.
    @discardableResult
    mutating func call(
        _ outcome: CallOutcome,
        duration: Duration = .milliseconds(10),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> CircuitBreakerTransition? {
        guard let permit = self.acquire().permit else {
            Issue.record("the call was rejected in state \(self.state)", sourceLocation: sourceLocation)
            return nil
        }
        return self.record(outcome, permit, duration: duration)
    }

    @discardableResult
    mutating func calls(
        _ outcomes: [CallOutcome],
        duration: Duration = .milliseconds(10)
    ) -> [CircuitBreakerTransition?] {
        outcomes.map { self.call($0, duration: duration) }
    }

    func snapshot() -> CircuitBreakerSnapshot<TestInstant> { self.breaker.snapshot(now: self.now) }
}

extension CircuitBreakerTransition {
    static func opened(
        from: CircuitBreakerState,
        _ reason: Reason,
        for duration: Duration,
        streak: Int
    ) -> CircuitBreakerTransition {
        CircuitBreakerTransition(from: from, to: .open, reason: reason, openDuration: duration, tripStreak: streak)
    }
}

@Suite struct CircuitBreakerTests {
    /// count window 10, 5 calls minimum, 50 %, 3 probes, 30 s open.
    static let small = CircuitBreakerConfiguration(window: .count(10), minimumCalls: 5, halfOpenProbes: 3)

    @Test func defaultsAreTheRoutes() {
        let configuration = CircuitBreakerConfiguration()
        #expect(configuration.window == CircuitBreakerConfiguration.Window(kind: .count, size: 100))
        #expect(configuration.minimumCalls == 20)
        #expect(configuration.failureRatePercent == 50)
        #expect(configuration.slowCall == nil)
        #expect(configuration.consecutiveFailures == nil)
        #expect(configuration.openDuration == .seconds(30))
        #expect(configuration.maxOpenDuration == .seconds(300))
        #expect(configuration.halfOpenProbes == 3)
        #expect(configuration.failOn == [.connectFailure, .timeout, .reset])
        #expect(configuration.failOnStatuses == [502, 503, 504])
        #expect(configuration.scope == .shared)
        #expect(CircuitBreakerConfiguration.SlowCall(duration: .seconds(1)).ratePercent == 100)
    }

    /// The full cycle Closed → Open → HalfOpen → Closed with exact probe counts.
    @Test func theFullCycle() throws {
        var harness = BreakerHarness(Self.small)
        #expect(harness.state == .closed)

        // Four failures: 100 % but fewer than minimumCalls.
        #expect(harness.calls([.failure, .failure, .failure, .failure]) == [nil, nil, nil, nil])
        #expect(harness.state == .closed)
        // The fifth trips it.
        #expect(harness.call(.failure) == .opened(from: .closed, .failureRate, for: .seconds(30), streak: 1))
        #expect(harness.state == .open)
        #expect(harness.breaker.trips == 1)

        // Open: rejected with the time left, to the nanosecond.
        harness.now = .seconds(10)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(20)))
        harness.now = TestInstant(offset: .seconds(30) - .nanoseconds(1))
        #expect(harness.acquire() == .rejected(retryAfter: .nanoseconds(1)))

        // The first call after the open period moves it to half-open and is the first probe.
        harness.now = .seconds(30)
        let first = harness.acquire()
        let halfOpen = CircuitBreakerTransition(
            from: .open,
            to: .halfOpen,
            reason: .openPeriodElapsed,
            openDuration: nil,
            tripStreak: 1
        )
        guard case .allowed(let probe1, halfOpen) = first else {
            Issue.record("expected the first probe, got \(first)")
            return
        }
        #expect(probe1.isProbe)
        #expect(harness.state == .halfOpen)

        // Exactly three probes; the fourth call is rejected while they are in flight.
        let probe2 = try #require(harness.acquire().permit)
        let probe3 = try #require(harness.acquire().permit)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(1)))

        #expect(harness.record(.success, probe1) == nil)
        #expect(harness.record(.success, probe2) == nil)
        #expect(harness.state == .halfOpen)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(1)))  // all three slots are used

        harness.now = .seconds(31)
        let closed = harness.record(.success, probe3)
        #expect(
            closed
                == CircuitBreakerTransition(
                    from: .halfOpen,
                    to: .closed,
                    reason: .probesSucceeded,
                    openDuration: nil,
                    tripStreak: 0
                )
        )
        #expect(harness.state == .closed)

        // Closing empties the window and ends the streak.
        let snapshot = harness.snapshot()
        #expect(snapshot.state == .closed && snapshot.since == .seconds(31))
        #expect(snapshot.calls == 0 && snapshot.failures == 0 && snapshot.failureRatePercent == 0)
        #expect(snapshot.trips == 1 && snapshot.tripStreak == 0)
        let next = try #require(harness.acquire().permit)
        #expect(!next.isProbe)
    }

    @Test(arguments: [1, 2, 5])
    func halfOpenAdmitsExactlyTheConfiguredProbes(probes: Int) {
        var configuration = CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, halfOpenProbes: probes)
        configuration.openDuration = .seconds(1)
        var harness = BreakerHarness(configuration)
        harness.call(.failure)
        harness.now = .seconds(1)
        var permits: [CircuitBreakerPermit] = []
        while let permit = harness.acquire().permit { permits.append(permit) }
        #expect(permits.count == probes)
        for (index, permit) in permits.enumerated() {
            let transition = harness.record(.success, permit)
            #expect((transition?.to == .closed) == (index == probes - 1))
        }
        #expect(harness.state == .closed)
    }

    /// A failed probe reopens it with the period doubled, jittered and capped.
    @Test func aFailedProbeReopensWithALongerPeriod() throws {
        var configuration = Self.small
        configuration.maxOpenDuration = .seconds(100)
        configuration.openJitterPercent = 10
        // Draws: lowest, highest, middle, in turn.
        var harness = BreakerHarness(
            configuration,
            random: FixedRandom(FixedRandom.lowest, FixedRandom.highest, FixedRandom.middle)
        )
        for _ in 0..<5 { harness.call(.failure) }
        #expect(harness.random.draws == 0)  // the first trip is exactly openDuration

        // Trip 2: 60 s, jitter drawn lowest: exactly 60 s.
        harness.now = .seconds(30)
        let probe = try #require(harness.acquire().permit)
        #expect(harness.record(.failure, probe) == .opened(from: .halfOpen, .probeFailed, for: .seconds(60), streak: 2))
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(60)))

        // Trip 3: 120 s capped at 100 s, jitter drawn highest: 100 s − 10 s.
        harness.now = .seconds(90)
        let probe2 = try #require(harness.acquire().permit)
        #expect(
            harness.record(.failure, probe2) == .opened(from: .halfOpen, .probeFailed, for: .seconds(90), streak: 3)
        )

        // Trip 4: 100 s, jitter drawn middle: 100 s − ⌊(10 s + 1 ns) / 2⌋ = 95 s.
        harness.now = .seconds(180)
        let probe3 = try #require(harness.acquire().permit)
        #expect(
            harness.record(.failure, probe3) == .opened(from: .halfOpen, .probeFailed, for: .seconds(95), streak: 4)
        )
        #expect(harness.random.draws == 3)
        #expect(harness.breaker.trips == 4)

        // Closing ends the streak: the next trip is the first again.
        harness.now = .seconds(275)
        for _ in 0..<3 {
            let permit = try #require(harness.acquire().permit)
            _ = harness.record(.success, permit)
        }
        #expect(harness.state == .closed)
        for _ in 0..<4 { harness.call(.failure) }
        #expect(harness.call(.failure) == .opened(from: .closed, .failureRate, for: .seconds(30), streak: 1))
        #expect(harness.random.draws == 3)
    }

    /// The doc comment's table: 30 s, 60 s, 120 s, 240 s, then 300 s.
    @Test func nominalOpenPeriods() {
        let configuration = CircuitBreakerConfiguration()
        #expect(
            (1...7).map(configuration.nominalOpenDuration) == [30, 60, 120, 240, 300, 300, 300].map { .seconds($0) }
        )
        #expect(configuration.nominalOpenDuration(tripStreak: 0) == .seconds(30))
        #expect(configuration.nominalOpenDuration(tripStreak: .max) == .seconds(300))
    }

    /// Repeated trips with the defaults stay within [period − 10 %, period], never above the cap.
    @Test func jitteredOpenPeriodsStayInRange() throws {
        var configuration = CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, halfOpenProbes: 1)
        configuration.openJitterPercent = 10
        var breaker = CircuitBreaker<TestInstant>(configuration: configuration, now: .zero)
        var random = SplitMix64(seed: 1)
        var now = TestInstant.zero
        let permit = try #require(breaker.acquire(now: now).permit)
        var transition = try #require(
            breaker.record(.failure, duration: .zero, permit: permit, now: now, using: &random)
        )
        for streak in 2...12 {
            now = now.advanced(by: try #require(transition.openDuration))
            let probe = try #require(breaker.acquire(now: now).permit)
            transition = try #require(
                breaker.record(.failure, duration: .zero, permit: probe, now: now, using: &random)
            )
            let nominal = configuration.nominalOpenDuration(tripStreak: streak)
            let period = try #require(transition.openDuration)
            #expect(transition.tripStreak == streak)
            #expect(period <= nominal && period >= nominal - nominal / 10, "streak \(streak): \(period)")
        }
    }

    @Test func minimumCallsGateTheRate() {
        var configuration = CircuitBreakerConfiguration(window: .count(100), minimumCalls: 20)
        configuration.failureRatePercent = 50
        var harness = BreakerHarness(configuration)
        for _ in 0..<19 { #expect(harness.call(.failure) == nil) }
        #expect(harness.snapshot().failureRatePercent == 100)
        #expect(harness.call(.failure)?.reason == .failureRate)
    }

    /// failures × 100 ≥ rate × calls, exactly: 49 of 100 stays closed, 50 of 100 trips.
    @Test func theRateThresholdIsInclusiveAndExact() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(100), minimumCalls: 100))
        for _ in 0..<51 { harness.call(.success) }
        for _ in 0..<49 { #expect(harness.call(.failure) == nil) }
        #expect(harness.snapshot().calls == 100)
        #expect(harness.snapshot().failureRatePercent == 49)
        // The 101st call evicts the oldest success: 50 failures of 100.
        #expect(harness.call(.failure) == .opened(from: .closed, .failureRate, for: .seconds(30), streak: 1))
    }

    @Test func theCountWindowEvictsTheOldest() {
        var configuration = CircuitBreakerConfiguration(window: .count(4), minimumCalls: 4)
        configuration.failureRatePercent = 75
        var harness = BreakerHarness(configuration)
        #expect(harness.calls([.failure, .failure, .success, .success]) == [nil, nil, nil, nil])
        #expect(harness.snapshot().failures == 2)
        harness.call(.success)  // evicts a failure: [F S S S]
        #expect(harness.snapshot().failures == 1 && harness.snapshot().calls == 4)
        harness.call(.success)  // [S S S S]
        #expect(harness.snapshot().failures == 0)
        #expect(harness.calls([.failure, .failure]) == [nil, nil])  // [S S F F]: 50 %
        #expect(harness.call(.failure)?.reason == .failureRate)  // [S F F F]: 75 %
    }

    /// A time window counts the calls of the last `size` seconds, in one-second buckets.
    @Test func theTimeWindowExpiresOldBuckets() {
        var configuration = CircuitBreakerConfiguration(window: .time(seconds: 10), minimumCalls: 4)
        configuration.failureRatePercent = 50
        var harness = BreakerHarness(configuration)
        harness.now = .seconds(0.2)
        #expect(harness.calls([.failure, .failure, .failure]) == [nil, nil, nil])
        harness.now = .seconds(9.99)
        #expect(harness.snapshot().calls == 3)
        // Second 10's window is seconds 1–10: second 0's bucket has expired.
        harness.now = .seconds(10)
        #expect(harness.snapshot().calls == 0)
        #expect(harness.call(.failure) == nil)
        #expect(harness.snapshot().calls == 1 && harness.snapshot().failures == 1)

        // Calls spread over the window all count: seconds 10, 13, 16, 19.
        harness.now = .seconds(13)
        harness.call(.success)
        harness.now = .seconds(16)
        harness.call(.success)
        #expect(harness.snapshot().calls == 3 && harness.snapshot().failureRatePercent == 33)
        harness.now = .seconds(19.9)
        #expect(harness.call(.failure)?.reason == .failureRate)  // 2 of 4
    }

    @Test func theTimeWindowEvictsOnlyTheSecondsThatLeft() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .time(seconds: 3), minimumCalls: 100))
        for second in 0..<3 {
            harness.now = .seconds(Double(second))
            for _ in 0...second { harness.call(.failure) }  // 1, 2, 3 calls in seconds 0, 1, 2
        }
        #expect(harness.snapshot().calls == 6)
        harness.now = .seconds(3)
        #expect(harness.snapshot().calls == 5)
        harness.now = .seconds(4)
        #expect(harness.snapshot().calls == 3)
        harness.now = .seconds(5)
        #expect(harness.snapshot().calls == 0)
        // The snapshot does not change the window: an earlier look still sees what was there.
        harness.now = .seconds(3)
        #expect(harness.snapshot().calls == 5)
        // Recording after a gap longer than the window starts from nothing.
        harness.now = .seconds(1000)
        harness.call(.success)
        #expect(harness.snapshot().calls == 1 && harness.snapshot().failures == 0)
        // A clock read out of order records into the current second.
        harness.now = .seconds(999)
        harness.call(.failure)
        harness.now = .seconds(1000)
        #expect(harness.snapshot().calls == 2)
    }

    /// Recording moves the window: each new second evicts exactly the second that left it.
    @Test func recordingMovesTheTimeWindow() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .time(seconds: 3), minimumCalls: 100))
        for second in 0..<3 {
            harness.now = .seconds(Double(second))
            for _ in 0...second { harness.call(.failure) }  // 1, 2, 3 calls in seconds 0, 1, 2
        }
        harness.now = .seconds(3.5)
        harness.call(.success)  // window: seconds 1–3
        #expect(harness.snapshot().calls == 6 && harness.snapshot().failures == 5)
        harness.now = .seconds(5)
        harness.call(.success)  // window: seconds 3–5
        #expect(harness.snapshot().calls == 2 && harness.snapshot().failures == 0)
        harness.now = .seconds(6)  // seconds 4–6
        #expect(harness.snapshot().calls == 1)
        harness.now = .seconds(7)  // seconds 5–7
        #expect(harness.snapshot().calls == 1)
        harness.now = .seconds(8)  // seconds 6–8
        #expect(harness.snapshot().calls == 0)
        harness.now = .seconds(100)
        #expect(harness.snapshot().calls == 0 && harness.snapshot().failures == 0)
    }

    /// Closing empties a time window's buckets too, so old calls are never subtracted twice.
    @Test func closingEmptiesATimeWindow() throws {
        var configuration = CircuitBreakerConfiguration(window: .time(seconds: 10), minimumCalls: 2, halfOpenProbes: 1)
        configuration.openDuration = .seconds(1)
        var harness = BreakerHarness(configuration)
        harness.call(.failure)
        #expect(harness.call(.failure)?.to == .open)
        harness.now = .seconds(1)
        #expect(harness.call(.success)?.to == .closed)
        harness.call(.success)
        harness.now = .seconds(10.5)  // seconds 1–10: the success at second 1 is still in
        #expect(harness.snapshot().calls == 1 && harness.snapshot().failures == 0)
        harness.call(.success)
        #expect(harness.snapshot().calls == 2 && harness.snapshot().failures == 0)
        harness.now = .seconds(11)
        #expect(harness.snapshot().calls == 1)
    }

    @Test func slowCallsTripOnTheirOwnRate() {
        let configuration = CircuitBreakerConfiguration(
            window: .count(10),
            minimumCalls: 4,
            slowCall: .init(duration: .seconds(1), ratePercent: 50)
        )
        var harness = BreakerHarness(configuration)
        #expect(harness.call(.success, duration: .milliseconds(100)) == nil)
        #expect(harness.call(.success, duration: .seconds(1)) == nil)  // exactly the threshold: not slow
        #expect(harness.call(.success, duration: .milliseconds(1001)) == nil)
        #expect(harness.snapshot().slowCalls == 1)
        #expect(
            harness.call(.success, duration: .seconds(5))
                == .opened(from: .closed, .slowCallRate, for: .seconds(30), streak: 1)
        )
        #expect(harness.snapshot().slowCallRatePercent == 50)
        #expect(harness.snapshot().failures == 0)
    }

    @Test func aSlowFailureCountsAsBoth() {
        let configuration = CircuitBreakerConfiguration(
            window: .count(10),
            minimumCalls: 10,
            slowCall: .init(duration: .seconds(1))
        )
        var harness = BreakerHarness(configuration)
        harness.call(.failure, duration: .seconds(2))
        #expect(harness.snapshot().failures == 1 && harness.snapshot().slowCalls == 1)
    }

    @Test func withoutASlowCallThresholdNothingIsSlow() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(10), minimumCalls: 1))
        harness.call(.success, duration: .seconds(3600))
        #expect(harness.snapshot().slowCalls == 0 && harness.state == .closed)
    }

    @Test func aSlowProbeReopens() throws {
        var configuration = CircuitBreakerConfiguration(
            window: .count(1),
            minimumCalls: 1,
            slowCall: .init(duration: .seconds(1))
        )
        configuration.halfOpenProbes = 2
        var harness = BreakerHarness(configuration)
        harness.call(.failure)
        harness.now = .seconds(30)
        let probe = try #require(harness.acquire().permit)
        let transition = harness.record(.success, probe, duration: .seconds(2))
        #expect(transition?.reason == .probeSlow && transition?.to == .open && transition?.tripStreak == 2)
    }

    /// consecutiveFailures trips regardless of the rate; successes reset the run, ignored calls do not.
    @Test func consecutiveFailures() {
        let configuration = CircuitBreakerConfiguration(window: .count(100), minimumCalls: 100, consecutiveFailures: 3)
        var harness = BreakerHarness(configuration)
        #expect(
            harness.calls([.failure, .failure, .success, .failure, .failure, .ignored]) == [
                nil, nil, nil, nil, nil, nil,
            ]
        )
        #expect(harness.call(.failure) == .opened(from: .closed, .consecutiveFailures, for: .seconds(30), streak: 1))
        #expect(harness.snapshot().calls == 6)  // the ignored call is not in the window
    }

    @Test func consecutiveFailuresRestartAfterClosing() {
        var configuration = CircuitBreakerConfiguration(window: .count(100), minimumCalls: 100, consecutiveFailures: 2)
        configuration.halfOpenProbes = 1
        var harness = BreakerHarness(configuration)
        harness.calls([.failure, .failure])
        harness.now = .seconds(30)
        harness.call(.success)  // the probe closes it
        #expect(harness.state == .closed)
        #expect(harness.call(.failure) == nil)
        #expect(harness.call(.failure)?.reason == .consecutiveFailures)
    }

    @Test func ignoredOutcomesAreNotRecorded() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(10), minimumCalls: 1))
        for _ in 0..<100 { #expect(harness.call(.ignored) == nil) }
        #expect(harness.snapshot().calls == 0)
        #expect(harness.state == .closed)
        #expect(harness.call(.failure)?.reason == .failureRate)
    }

    /// An ignored probe frees its slot for another probe and does not count as a success.
    @Test func anIgnoredProbeFreesItsSlot() throws {
        var configuration = CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1)
        configuration.halfOpenProbes = 1
        var harness = BreakerHarness(configuration)
        harness.call(.failure)
        harness.now = .seconds(30)
        let probe = try #require(harness.acquire().permit)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(1)))
        #expect(harness.record(.ignored, probe) == nil)
        #expect(harness.state == .halfOpen)
        let second = try #require(harness.acquire().permit)
        #expect(second.isProbe)
        #expect(harness.record(.success, second)?.to == .closed)
    }

    /// A call admitted before a state change is not recorded after it.
    @Test func stalePermitsAreNotRecorded() throws {
        var configuration = CircuitBreakerConfiguration(window: .count(10), minimumCalls: 2)
        configuration.halfOpenProbes = 1
        var harness = BreakerHarness(configuration)
        let early = try #require(harness.acquire().permit)
        harness.calls([.failure, .failure])
        #expect(harness.state == .open)
        #expect(harness.record(.failure, early) == nil)
        #expect(harness.snapshot().calls == 2)

        // Half-open: a closed-era permit is not a probe and decides nothing.
        harness.now = .seconds(30)
        let probe = try #require(harness.acquire().permit)
        #expect(harness.record(.success, early) == nil)
        #expect(harness.record(.failure, early) == nil)
        #expect(harness.state == .halfOpen)
        #expect(harness.record(.success, probe)?.to == .closed)
        // Nor does a probe's permit count once the breaker has closed.
        #expect(harness.record(.failure, probe) == nil)
        #expect(harness.snapshot().calls == 0)
    }

    @Test func snapshotReportsTheWindowAndTrips() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(10), minimumCalls: 10))
        harness.now = .seconds(2)
        harness.calls([.failure, .success, .success])
        let snapshot = harness.snapshot()
        #expect(snapshot.state == .closed && snapshot.since == .zero && snapshot.openUntil == nil)
        #expect(snapshot.calls == 3 && snapshot.failures == 1 && snapshot.failureRatePercent == 33)
        #expect(snapshot.trips == 0 && snapshot.tripStreak == 0)

        var opened = BreakerHarness(CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1))
        opened.now = .seconds(5)
        opened.call(.failure)
        let open = opened.snapshot()
        #expect(open.state == .open && open.since == .seconds(5) && open.openUntil == .seconds(35))
        #expect(open.trips == 1 && open.tripStreak == 1 && open.failureRatePercent == 100)
    }

    @Test func outOfRangeSettingsAreClamped() {
        let breaker = CircuitBreaker<TestInstant>(
            configuration: CircuitBreakerConfiguration(
                window: .count(0),
                minimumCalls: 0,
                failureRatePercent: 500,
                slowCall: .init(duration: .seconds(1), ratePercent: 0),
                consecutiveFailures: 0,
                openDuration: .seconds(60),
                maxOpenDuration: .seconds(10),
                openJitterPercent: -5,
                halfOpenProbes: 0
            ),
            now: .zero
        )
        let configuration = breaker.configuration
        #expect(configuration.window.size == 1 && configuration.minimumCalls == 1)
        #expect(configuration.failureRatePercent == 100 && configuration.slowCall?.ratePercent == 1)
        #expect(configuration.consecutiveFailures == 1 && configuration.halfOpenProbes == 1)
        #expect(configuration.maxOpenDuration == .seconds(60) && configuration.openJitterPercent == 0)
    }
}

@Suite struct CircuitBreakerForceTests {
    /// A peer's transition, applied with force(), opens this breaker for the same period.
    @Test func aPeersTransitionOpensThisBreaker() throws {
        var configuration = CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1)
        configuration.halfOpenProbes = 1
        var peer = BreakerHarness(configuration)
        let trip = peer.call(.failure)
        let tripped = try #require(trip)

        var local = BreakerHarness(configuration)
        local.now = .seconds(100)
        let early = try #require(local.acquire().permit)
        let forced = local.breaker.force(tripped.target, now: local.now)
        #expect(forced == .opened(from: .closed, .forced, for: .seconds(30), streak: 1))
        #expect(local.state == .open && local.breaker.trips == 1)
        #expect(local.acquire() == .rejected(retryAfter: .seconds(30)))
        #expect(local.record(.failure, early) == nil)  // admitted before the change: stale

        // It then half-opens on its own clock.
        local.now = .seconds(130)
        #expect(local.acquire().permit?.isProbe == true)
    }

    @Test func forcingOpenCarriesTheTripStreak() throws {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, halfOpenProbes: 1))
        #expect(
            harness.breaker.force(.open(for: .seconds(45), tripStreak: 2), now: .zero)
                == .opened(from: .closed, .forced, for: .seconds(45), streak: 2)
        )
        harness.now = .seconds(44)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(1)))
        harness.now = .seconds(45)
        let probe = try #require(harness.acquire().permit)
        // The local probe fails: trip 3 in a row, 120 s (jitter drawn lowest).
        #expect(
            harness.record(.failure, probe) == .opened(from: .halfOpen, .probeFailed, for: .seconds(120), streak: 3)
        )
    }

    @Test func forcingOpenWhenOpenOnlyExtends() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1))
        harness.call(.failure)  // open until 30 s
        harness.now = .seconds(5)
        #expect(harness.breaker.force(.open(for: .seconds(10), tripStreak: 1), now: harness.now) == nil)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(25)))
        #expect(harness.breaker.force(.open(for: .seconds(60), tripStreak: 3), now: harness.now) == nil)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(60)))
        #expect(harness.breaker.tripStreak == 3)
        #expect(harness.breaker.trips == 1)
    }

    /// A peer's transition holds the breaker open no longer than its own `maxOpenDuration` (a day asked for,
    /// five minutes given), whether it was closed or already open.
    @Test func noForcedOpenPeriodOutlastsMaxOpenDuration() {
        var closed = BreakerHarness(CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, maxOpenDuration: .seconds(300)))
        #expect(
            closed.breaker.force(.open(for: .seconds(86_400), tripStreak: 10_000), now: .zero)
                == .opened(from: .closed, .forced, for: .seconds(300), streak: 10_000)
        )
        #expect(closed.acquire() == .rejected(retryAfter: .seconds(300)))
        closed.now = .seconds(300)
        #expect(closed.acquire().permit?.isProbe == true, "it probes after its own maxOpenDuration")

        var open = BreakerHarness(CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, maxOpenDuration: .seconds(300)))
        open.call(.failure)  // open until 30 s
        open.now = .seconds(10)
        #expect(open.breaker.force(.open(for: .seconds(86_400), tripStreak: 1), now: open.now) == nil)
        #expect(open.acquire() == .rejected(retryAfter: .seconds(300)))
        #expect(open.breaker.force(.open(for: .seconds(-5), tripStreak: 1), now: open.now) == nil, "a negative period changes nothing")
        #expect(open.acquire() == .rejected(retryAfter: .seconds(300)))
    }

    @Test func forcingClosedResetsTheWindowAndStreak() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(window: .count(10), minimumCalls: 3))
        #expect(harness.breaker.force(.closed, now: .zero) == nil)
        harness.calls([.failure, .success, .failure])
        #expect(harness.state == .open)
        harness.now = .seconds(1)
        let closed = harness.breaker.force(.closed, now: harness.now)
        #expect(
            closed
                == CircuitBreakerTransition(from: .open, to: .closed, reason: .forced, openDuration: nil, tripStreak: 0)
        )
        #expect(harness.snapshot().calls == 0 && harness.snapshot().tripStreak == 0 && harness.snapshot().trips == 1)
        #expect(harness.acquire().permit?.isProbe == false)
    }

    @Test func forcingHalfOpenAdmitsProbes() {
        var harness = BreakerHarness(CircuitBreakerConfiguration(halfOpenProbes: 2))
        let transition = harness.breaker.force(.halfOpen, now: .zero)
        #expect(
            transition
                == CircuitBreakerTransition(
                    from: .closed,
                    to: .halfOpen,
                    reason: .forced,
                    openDuration: nil,
                    tripStreak: 0
                )
        )
        #expect(harness.breaker.force(.halfOpen, now: .zero) == nil)
        #expect(harness.acquire().permit?.isProbe == true)
        #expect(harness.acquire().permit?.isProbe == true)
        #expect(harness.acquire() == .rejected(retryAfter: .seconds(1)))
    }

    @Test func transitionTargets() {
        let open = CircuitBreakerTransition.opened(from: .halfOpen, .probeFailed, for: .seconds(60), streak: 2)
        #expect(open.target == .open(for: .seconds(60), tripStreak: 2))
        #expect(
            CircuitBreakerTransition(
                from: .halfOpen,
                to: .closed,
                reason: .probesSucceeded,
                openDuration: nil,
                tripStreak: 0
            ).target == .closed
        )
        #expect(
            CircuitBreakerTransition(
                from: .open,
                to: .halfOpen,
                reason: .openPeriodElapsed,
                openDuration: nil,
                tripStreak: 1
            ).target == .halfOpen
        )
    }
}

@Suite struct CircuitBreakerClassificationTests {
    @Test(arguments: [
        (AttemptOutcome.connectFailure, CallOutcome.failure),
        (.timeout, .failure),
        (.reset, .failure),
        (.resetBeforeRequest, .failure),
        (.refusedStream, .ignored),
        (.response(status: 502), .failure),
        (.response(status: 503, retryAfter: .seconds(1)), .failure),
        (.response(status: 504), .failure),
        (.response(status: 500), .success),
        (.response(status: 501), .success),
        (.response(status: 200), .success),
        (.response(status: 204), .success),
        (.response(status: 301), .success),
        (.response(status: 400), .ignored),
        (.response(status: 404), .ignored),
        (.response(status: 429), .ignored),
        (.response(status: 499), .ignored),
    ])
    func defaults(outcome: AttemptOutcome, expected: CallOutcome) {
        #expect(CircuitBreakerConfiguration().classify(outcome) == expected)
    }

    @Test func failOnSelectsTheTransportFailures() {
        let outcomes: [AttemptOutcome] = [.connectFailure, .timeout, .reset, .resetBeforeRequest, .refusedStream]
        let none = CircuitBreakerConfiguration(failOn: [])
        #expect(outcomes.map(none.classify) == [.ignored, .ignored, .ignored, .ignored, .ignored])
        let timeoutOnly = CircuitBreakerConfiguration(failOn: .timeout)
        #expect(outcomes.map(timeoutOnly.classify) == [.ignored, .failure, .ignored, .ignored, .ignored])
        let resetOnly = CircuitBreakerConfiguration(failOn: .reset)
        #expect(outcomes.map(resetOnly.classify) == [.ignored, .ignored, .failure, .failure, .ignored])
    }

    @Test func aClientErrorIsNeverAFailure() {
        let configuration = CircuitBreakerConfiguration(failOnStatuses: [404, 429, 500])
        #expect(configuration.classify(.response(status: 404)) == .ignored)
        #expect(configuration.classify(.response(status: 429)) == .ignored)
        #expect(configuration.classify(.response(status: 500)) == .failure)
        #expect(configuration.classify(.response(status: 502)) == .success)
    }
}
