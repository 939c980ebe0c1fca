import Resilience
import Testing

@Suite struct SharedTests {
    /// Many tasks at once: the lock keeps the budget's counts exact.
    @Test func theSharedBudgetCountsExactlyUnderContention() async {
        let budget = SharedRetryBudget(
            configuration: RetryBudgetConfiguration(percent: 100, minPerSecond: 0),
            now: TestInstant.zero
        )
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var admitted = 0
                    for _ in 0..<1000 {
                        budget.requestStarted()
                        if budget.tryAcquireRetry(now: .zero) {
                            admitted += 1
                            budget.retryFinished()
                        }
                        budget.requestFinished()
                    }
                    return admitted
                }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted > 0)
        let (requests, retries, total) = budget.withLock {
            ($0.requestsInFlight, $0.retriesInFlight, $0.retriesAdmitted)
        }
        #expect(requests == 0 && retries == 0)
        #expect(total == Int64(admitted))
    }

    @Test func theSharedBudgetWorksWithTheRetryPolicy() {
        let budget = SharedRetryBudget(
            configuration: RetryBudgetConfiguration(percent: 0, minPerSecond: 1),
            now: TestInstant.zero
        )
        let policy = RetryPolicy()
        var random = FixedRandom(FixedRandom.highest)
        let request = RetryRequest(method: "GET", hasIdempotencyKey: false, bodyIsReplayable: true)
        let decisions = (0..<2).map { _ in
            budget.withLock {
                policy.decide(
                    after: .connectFailure,
                    attempt: 1,
                    request: request,
                    remaining: nil,
                    budget: &$0,
                    now: .zero,
                    using: &random
                )
            }
        }
        #expect(decisions == [.retry(after: .milliseconds(25)), .giveUp(.budgetExhausted)])
    }

    @Test func theSharedBreakerForwardsEveryEvent() throws {
        let breaker = SharedCircuitBreaker(
            configuration: CircuitBreakerConfiguration(window: .count(1), minimumCalls: 1, halfOpenProbes: 1),
            now: TestInstant.zero
        )
        var random = FixedRandom(FixedRandom.lowest)
        let permit = try #require(breaker.acquire(now: .zero).permit)
        let opened = breaker.record(.failure, duration: .zero, permit: permit, now: .zero, using: &random)
        #expect(opened?.to == .open)
        #expect(breaker.acquire(now: .seconds(10)) == .rejected(retryAfter: .seconds(20)))
        #expect(breaker.snapshot(now: .seconds(10)).state == .open)
        #expect(breaker.force(.closed, now: .seconds(11))?.to == .closed)
        #expect(breaker.snapshot(now: .seconds(11)).state == .closed)
    }
}
