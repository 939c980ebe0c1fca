import Resilience
import Testing

@Suite struct RetryBudgetTests {
    @Test func defaultsAreTheRoutes() {
        let configuration = RetryBudgetConfiguration()
        #expect(configuration.percent == 20)
        #expect(configuration.minPerSecond == 3)
    }

    /// With nothing in flight only the floor admits: `minPerSecond` retries in each second.
    @Test func theFloorAdmitsMinPerSecondEachSecond() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 20, minPerSecond: 3),
            now: TestInstant.zero
        )
        #expect(
            (0..<5).map { _ in budget.tryAcquireRetry(now: .milliseconds(100)) } == [true, true, true, false, false]
        )
        #expect(budget.tryAcquireRetry(now: .milliseconds(999)) == false)
        // Finishing retries does not refill the floor within the second.
        budget.retryFinished()
        #expect(budget.tryAcquireRetry(now: .milliseconds(999)) == false)
        #expect((0..<4).map { _ in budget.tryAcquireRetry(now: .milliseconds(1000)) } == [true, true, true, false])
        #expect(budget.tryAcquireRetry(now: .seconds(7.5)) == true)
        #expect(budget.retriesAdmitted == 7)
        #expect(budget.retriesRefused == 5)
        #expect(budget.retriesInFlight == 6)
    }

    /// 10 requests in flight at 20 %: two retries in flight, and the ledger holds two retries' worth.
    @Test func theRatioBoundsRetriesInFlight() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 20, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<10 { budget.requestStarted() }
        #expect(budget.requestsInFlight == 10)
        #expect(budget.tryAcquireRetry(now: .zero) == true)
        #expect(budget.tryAcquireRetry(now: .zero) == true)
        #expect(budget.tryAcquireRetry(now: .zero) == false)  // 3 × 100 > 20 × 10
        #expect(budget.retriesInFlight == 2)

        // One retry ends: the concurrency bound would allow another, but the two retries earned are spent.
        budget.retryFinished()
        #expect(budget.tryAcquireRetry(now: .zero) == false)

        // Five more requests earn one more retry (5 × 20 = 100) and raise the bound to 3 in flight.
        for _ in 0..<5 { budget.requestStarted() }
        #expect(budget.tryAcquireRetry(now: .zero) == true)
        #expect(budget.tryAcquireRetry(now: .zero) == false)
        #expect(budget.retriesInFlight == 2)
    }

    /// The concurrency bound holds even with credit to spare: retries admitted by the floor count as in flight.
    @Test func theConcurrencyBoundHoldsWithCreditToSpare() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 50, minPerSecond: 3),
            now: TestInstant.zero
        )
        #expect((0..<3).map { _ in budget.tryAcquireRetry(now: .zero) } == [true, true, true])  // the floor
        for _ in 0..<4 { budget.requestStarted() }  // credit 200, bound 2 in flight, 3 in flight already
        #expect(budget.tryAcquireRetry(now: .zero) == false)
        budget.retryFinished()
        #expect(budget.tryAcquireRetry(now: .zero) == false)  // (2 + 1) × 100 > 50 × 4
        budget.retryFinished()
        #expect(budget.tryAcquireRetry(now: .zero) == true)  // (1 + 1) × 100 ≤ 200, and credit 200 → 100
        #expect(budget.retriesInFlight == 2)
    }

    /// Credit earned while healthy cannot be hoarded beyond what the current load would allow.
    @Test func creditIsCappedByTheRequestsInFlight() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 20, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<10_000 {
            budget.requestStarted()
            budget.requestFinished()
        }
        for _ in 0..<5 { budget.requestStarted() }  // cap 100: exactly one retry
        #expect(budget.tryAcquireRetry(now: .zero) == true)
        budget.retryFinished()
        #expect(budget.tryAcquireRetry(now: .zero) == false)

        // Requests finishing shrink the cap, and the credit with it: 200 earned, 100 left.
        var finishing = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 20, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<10 { finishing.requestStarted() }
        for _ in 0..<5 { finishing.requestFinished() }
        #expect(finishing.tryAcquireRetry(now: .zero) == true)
        finishing.retryFinished()
        #expect(finishing.tryAcquireRetry(now: .zero) == false)

        // Credit lost to the cap does not come back when requests start again.
        var shrinking = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 20, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<10 { shrinking.requestStarted() }  // credit 200
        for _ in 0..<5 { shrinking.requestFinished() }  // cap 100
        for _ in 0..<5 { shrinking.requestStarted() }  // credit 200 again, not 300
        #expect(shrinking.tryAcquireRetry(now: .zero) == true)
        #expect(shrinking.tryAcquireRetry(now: .zero) == true)
        shrinking.retryFinished()
        shrinking.retryFinished()
        #expect(shrinking.tryAcquireRetry(now: .zero) == false)
    }

    @Test func percentHundredAffordsOneRetryPerRequest() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 100, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<3 { budget.requestStarted() }
        #expect((0..<4).map { _ in budget.tryAcquireRetry(now: .zero) } == [true, true, true, false])
    }

    @Test func zeroPercentAndZeroFloorAdmitNothing() {
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 0, minPerSecond: 0),
            now: TestInstant.zero
        )
        for _ in 0..<1000 { budget.requestStarted() }
        #expect(budget.tryAcquireRetry(now: .zero) == false)
        #expect(budget.tryAcquireRetry(now: .seconds(100)) == false)
    }

    @Test func outOfRangeSettingsAreClamped() {
        let budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 250, minPerSecond: -1),
            now: TestInstant.zero
        )
        #expect(budget.configuration == RetryBudgetConfiguration(percent: 100, minPerSecond: 0))
    }

    @Test func countersNeverGoNegative() {
        var budget = RetryBudget(configuration: RetryBudgetConfiguration(), now: TestInstant.zero)
        budget.requestFinished()
        budget.retryFinished()
        #expect(budget.requestsInFlight == 0)
        #expect(budget.retriesInFlight == 0)
    }
}

/// The property from issue #5: during a full outage, the attempts that reach the upstream stay at most
/// `(1 + percent/100) × requests + minPerSecond × seconds`, however many attempts each request may make.
@Suite struct RetryBudgetOutageTests {
    struct Outcome {
        var requests = 0
        var attempts = 0
        var seconds = 0
    }

    /// A discrete-event simulation: `rate` requests per second for `seconds` seconds, every attempt failing
    /// after `attemptDuration` with `failure`, retried by the policy (5 attempts, no deadline) under the budget.
    static func simulate(
        rate: Int,
        seconds: Int,
        attemptDuration: Duration,
        failure: AttemptOutcome,
        budget configuration: RetryBudgetConfiguration
    ) -> Outcome {
        let policy = RetryPolicy(
            configuration: RetryConfiguration(attempts: 5, retryOn: [.connectFailure, .timeout], budget: configuration)
        )
        var budget = RetryBudget(configuration: configuration, now: TestInstant.zero)
        var random = SplitMix64(seed: 7)
        let request = RetryRequest(method: "GET", hasIdempotencyKey: false, bodyIsReplayable: true)

        struct Event {
            var at: TestInstant
            var request: Int
            var attempt: Int
            var isRetry: Bool
        }
        var events: [Event] = []
        // Kept sorted by time, later events first, so the next event is `removeLast()`; ties in arrival order.
        func schedule(_ event: Event) {
            var low = 0
            var high = events.count
            while low < high {
                let middle = (low + high) / 2
                if events[middle].at > event.at { low = middle + 1 } else { high = middle }
            }
            events.insert(event, at: low)
        }

        var outcome = Outcome(seconds: seconds)
        let interval = Duration.seconds(1) / rate
        for index in 0..<(rate * seconds) {
            schedule(
                Event(at: TestInstant.zero.advanced(by: interval * index), request: index, attempt: 0, isRetry: false)
            )
        }
        // An event with attempt 0 starts a request; attempt n ≥ 1 is the end of attempt n.
        while !events.isEmpty {
            let event = events.removeLast()
            if event.attempt == 0 {
                budget.requestStarted()
                outcome.requests += 1
                outcome.attempts += 1
                schedule(
                    Event(
                        at: event.at.advanced(by: attemptDuration),
                        request: event.request,
                        attempt: 1,
                        isRetry: false
                    )
                )
                continue
            }
            if event.isRetry { budget.retryFinished() }
            let decision = policy.decide(
                after: failure,
                attempt: event.attempt,
                request: request,
                remaining: nil,
                budget: &budget,
                now: event.at,
                using: &random
            )
            switch decision {
            case .retry(let wait):
                outcome.attempts += 1
                let end = event.at.advanced(by: wait + attemptDuration)
                schedule(Event(at: end, request: event.request, attempt: event.attempt + 1, isRetry: true))
            case .giveUp:
                budget.requestFinished()
            }
        }
        #expect(budget.requestsInFlight == 0)
        #expect(budget.retriesInFlight == 0)
        return outcome
    }

    static func bound(_ outcome: Outcome, _ configuration: RetryBudgetConfiguration, lastSecond: Int) -> Int {
        // Seconds in which the floor may have admitted: every second from 0 to the last event's.
        outcome.requests + outcome.requests * configuration.percent / 100 + configuration.minPerSecond
            * (lastSecond + 1)
    }

    @Test(arguments: [
        (Duration.zero, AttemptOutcome.connectFailure),  // instant failures: a concurrency cap alone never binds
        (.milliseconds(300), .connectFailure),
        (.seconds(2), .timeout),  // slow failures: many requests and retries in flight
    ])
    func attemptsStayWithinTheBudget(attemptDuration: Duration, failure: AttemptOutcome) {
        let configuration = RetryBudgetConfiguration()
        let seconds = 30
        let outcome = Self.simulate(
            rate: 50,
            seconds: seconds,
            attemptDuration: attemptDuration,
            failure: failure,
            budget: configuration
        )
        // The last request starts just before 30 s; its attempts and backoffs end within 5 × (2 s + 250 ms).
        let lastSecond = seconds + 12
        let bound = Self.bound(outcome, configuration, lastSecond: lastSecond)
        #expect(outcome.requests == 1500)
        #expect(outcome.attempts <= bound, "\(outcome.attempts) attempts > bound \(bound)")
        // The budget lets some retries through, and without it every request would make 5 attempts.
        #expect(outcome.attempts > outcome.requests)
        #expect(outcome.requests * 5 > bound)
    }

    /// The same simulation with an unlimited budget makes every attempt: the bound above is the budget's doing.
    @Test func withoutABudgetEveryAttemptIsMade() {
        let outcome = Self.simulate(
            rate: 50,
            seconds: 30,
            attemptDuration: .zero,
            failure: .connectFailure,
            budget: RetryBudgetConfiguration(percent: 100, minPerSecond: 10_000)
        )
        #expect(outcome.attempts == outcome.requests * 5)
    }

    /// Only the floor, with percent 0: exactly the floor's retries, second by second.
    @Test func onlyTheFloorWithZeroPercent() {
        let configuration = RetryBudgetConfiguration(percent: 0, minPerSecond: 3)
        let outcome = Self.simulate(
            rate: 10,
            seconds: 10,
            attemptDuration: .zero,
            failure: .connectFailure,
            budget: configuration
        )
        // Ten seconds of arrivals plus the backoff tail into second 10: the floor admits 3 in each second
        // in which a retry was asked for.
        #expect(outcome.attempts >= outcome.requests + 3 * 10)
        #expect(outcome.attempts <= outcome.requests + 3 * 11)
    }
}
