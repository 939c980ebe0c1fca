import Resilience
import Testing

@Suite struct DeadlineTests {
    @Test func defaultsAreTheRoutes() {
        let timeouts = TimeoutConfiguration()
        #expect(timeouts.request == .seconds(15))
        #expect(timeouts.perTry == nil)
        #expect(timeouts.connect == .seconds(2))
        #expect(timeouts.idle == .seconds(60))
        let deadline = timeouts.deadline(startingAt: TestInstant.zero)
        #expect(deadline.instant == .seconds(15))
    }

    @Test func aZeroRequestTimeoutMeansNoLimit() {
        let deadline = TimeoutConfiguration(request: .zero).deadline(startingAt: TestInstant.seconds(3))
        #expect(deadline.isUnlimited)
        #expect(deadline == .unlimited)
        #expect(deadline.remaining(now: .seconds(1_000_000)) == nil)
        #expect(!deadline.hasPassed(now: .seconds(1_000_000)))
        #expect(deadline.attemptTimeout(perTry: nil, now: .seconds(5)) == nil)
        #expect(deadline.attemptTimeout(perTry: .seconds(3), now: .seconds(5)) == .seconds(3))
    }

    /// request 10 s, perTry 3 s: an attempt gets min(3 s, what is left).
    @Test(arguments: [
        (0.0, Duration.seconds(10), Duration.seconds(3)),
        (7.0, .seconds(3), .seconds(3)),
        (8.5, .milliseconds(1500), .milliseconds(1500)),
        (10.0, .zero, .zero),
        (12.0, .zero, .zero),
    ])
    func remainingAndAttemptTimeout(at seconds: Double, remaining: Duration, attempt: Duration) {
        let deadline = Deadline(start: TestInstant.zero, timeout: .seconds(10))
        #expect(deadline.remaining(now: .seconds(seconds)) == remaining)
        #expect(deadline.attemptTimeout(perTry: .seconds(3), now: .seconds(seconds)) == attempt)
        #expect(deadline.attemptTimeout(perTry: nil, now: .seconds(seconds)) == remaining)
        #expect(deadline.hasPassed(now: .seconds(seconds)) == (seconds >= 10))
    }
}
