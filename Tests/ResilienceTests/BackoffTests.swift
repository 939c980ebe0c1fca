import Resilience
import Testing

@Suite struct BackoffTests {
    let defaults = Backoff()

    @Test func defaultsAreTheRoutes() {
        let configuration = BackoffConfiguration()
        #expect(configuration.base == .milliseconds(25))
        #expect(configuration.max == .milliseconds(250))
        #expect(configuration.jitter == .full)
    }

    /// The table in the doc comment: 25, 50, 100, 200, then 250 ms for every later retry.
    @Test(arguments: [
        (1, Duration.milliseconds(25)), (2, .milliseconds(50)), (3, .milliseconds(100)), (4, .milliseconds(200)),
        (5, .milliseconds(250)), (6, .milliseconds(250)), (10, .milliseconds(250)),
    ])
    func delayBeforeJitterFollowsTheTable(retry: Int, expected: Duration) {
        #expect(self.defaults.delay(forRetry: retry) == expected)
    }

    @Test func delayNeverOverflowsAndTreatsRetryZeroAsTheFirst() {
        #expect(self.defaults.delay(forRetry: 0) == .milliseconds(25))
        #expect(self.defaults.delay(forRetry: -3) == .milliseconds(25))
        #expect(self.defaults.delay(forRetry: 64) == .milliseconds(250))
        #expect(self.defaults.delay(forRetry: .max) == .milliseconds(250))
    }

    @Test func otherBaseAndCap() {
        let backoff = Backoff(configuration: BackoffConfiguration(base: .milliseconds(100), max: .seconds(1)))
        #expect(
            (1...6).map { backoff.delay(forRetry: $0) } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1),
                .seconds(1),
            ]
        )
    }

    @Test func aCapBelowTheBaseIsRaisedToTheBase() {
        let backoff = Backoff(configuration: BackoffConfiguration(base: .milliseconds(50), max: .milliseconds(10)))
        #expect(backoff.configuration.max == .milliseconds(50))
        #expect(backoff.delay(forRetry: 3) == .milliseconds(50))
    }

    /// Full jitter: U[0, d]. The lowest draw waits 0, the highest exactly d, the middle d/2.
    @Test func fullJitterTable() {
        let expectedDelays: [Duration] = [
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(250),
        ]
        for (index, delay) in expectedDelays.enumerated() {
            let retry = index + 1
            var lowest = FixedRandom(FixedRandom.lowest)
            var highest = FixedRandom(FixedRandom.highest)
            var middle = FixedRandom(FixedRandom.middle)
            #expect(self.defaults.wait(beforeRetry: retry, using: &lowest) == .zero)
            #expect(self.defaults.wait(beforeRetry: retry, using: &highest) == delay)
            #expect(self.defaults.wait(beforeRetry: retry, using: &middle) == delay / 2)
            #expect(lowest.draws == 1 && highest.draws == 1 && middle.draws == 1)
        }
    }

    /// Equal jitter: d/2 + U[0, d/2]. Lowest d/2, highest d, middle 3d/4.
    @Test func equalJitterTable() {
        let backoff = Backoff(configuration: BackoffConfiguration(jitter: .equal))
        let expected: [(Duration, Duration, Duration)] = [
            (.microseconds(12_500), .microseconds(18_750), .milliseconds(25)),
            (.milliseconds(25), .microseconds(37_500), .milliseconds(50)),
            (.milliseconds(50), .milliseconds(75), .milliseconds(100)),
            (.milliseconds(100), .milliseconds(150), .milliseconds(200)),
            (.milliseconds(125), .microseconds(187_500), .milliseconds(250)),
        ]
        for (index, (low, mid, high)) in expected.enumerated() {
            let retry = index + 1
            var lowest = FixedRandom(FixedRandom.lowest)
            var middle = FixedRandom(FixedRandom.middle)
            var highest = FixedRandom(FixedRandom.highest)
            #expect(backoff.wait(beforeRetry: retry, using: &lowest) == low, "retry \(retry)")
            #expect(backoff.wait(beforeRetry: retry, using: &middle) == mid, "retry \(retry)")
            #expect(backoff.wait(beforeRetry: retry, using: &highest) == high, "retry \(retry)")
        }
    }

    /// No jitter: exactly d, and the random source is not touched.
    @Test func noJitterTable() {
        let backoff = Backoff(configuration: BackoffConfiguration(jitter: .none))
        var random = FixedRandom(FixedRandom.middle)
        #expect(
            (1...6).map { backoff.wait(beforeRetry: $0, using: &random) } == [
                .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(250),
                .milliseconds(250),
            ]
        )
        #expect(random.draws == 0)
    }

    /// Over many varied draws, full jitter stays in [0, d] and averages d/2.
    @Test func fullJitterIsUniformOverTheRange() {
        var random = SplitMix64(seed: 42)
        var total: Duration = .zero
        let count = 20_000
        for _ in 0..<count {
            let wait = self.defaults.wait(beforeRetry: 5, using: &random)
            #expect(wait >= .zero && wait <= .milliseconds(250))
            total += wait
        }
        let mean = total / count
        #expect(mean > .milliseconds(122) && mean < .milliseconds(128), "mean \(mean)")
    }
}
