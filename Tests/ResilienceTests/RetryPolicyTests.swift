import Resilience
import Testing

@Suite struct RetryPolicyTests {
    static let get = RetryRequest(method: "GET", hasIdempotencyKey: false, bodyIsReplayable: true)
    static let post = RetryRequest(method: "POST", hasIdempotencyKey: false, bodyIsReplayable: true)
    static let postWithKey = RetryRequest(method: "POST", hasIdempotencyKey: true, bodyIsReplayable: true)

    static let transportFailures: [AttemptOutcome] = [
        .connectFailure, .refusedStream, .resetBeforeRequest, .reset, .timeout,
    ]

    /// Decides with a generous budget and the highest random draw (so Full jitter waits exactly d).
    static func decide(
        _ policy: RetryPolicy,
        after outcome: AttemptOutcome,
        attempt: Int = 1,
        request: RetryRequest = get,
        remaining: Duration? = nil,
        budget: RetryBudgetConfiguration = RetryBudgetConfiguration(percent: 100, minPerSecond: 1000)
    ) -> RetryDecision {
        var budget = RetryBudget(configuration: budget, now: TestInstant.zero)
        var random = FixedRandom(FixedRandom.highest)
        return policy.decide(
            after: outcome,
            attempt: attempt,
            request: request,
            remaining: remaining,
            budget: &budget,
            now: .zero,
            using: &random
        )
    }

    @Test func defaultsAreTheRoutes() {
        let configuration = RetryConfiguration()
        #expect(configuration.attempts == 2)
        #expect(configuration.retryOn == [.connectFailure, .refusedStream, .resetBeforeRequest])
        #expect(configuration.retryOn == .neverReachedUpstream)
        #expect(configuration.statuses.isEmpty)
        #expect(configuration.idempotentOnly)
        #expect(configuration.backoff == BackoffConfiguration())
        #expect(configuration.budget == RetryBudgetConfiguration())
        #expect(configuration.honorRetryAfter)
    }

    /// By default only the failures that provably never reached the upstream are retried.
    @Test(arguments: [
        (AttemptOutcome.connectFailure, RetryDecision.retry(after: .milliseconds(25))),
        (.refusedStream, .retry(after: .milliseconds(25))),
        (.resetBeforeRequest, .retry(after: .milliseconds(25))),
        (.reset, .giveUp(.notRetriable)),
        (.timeout, .giveUp(.notRetriable)),
        (.response(status: 503), .giveUp(.notRetriable)),
        (.response(status: 500), .giveUp(.notRetriable)),
        (.response(status: 200), .giveUp(.notRetriable)),
    ])
    func defaultConditions(outcome: AttemptOutcome, expected: RetryDecision) {
        #expect(Self.decide(RetryPolicy(), after: outcome) == expected)
    }

    @Test func neverReachedUpstreamIsExactlyTheFirstThree() {
        #expect(Self.transportFailures.map(\.neverReachedUpstream) == [true, true, true, false, false])
        #expect(!AttemptOutcome.response(status: 502).neverReachedUpstream)
    }

    static let conditionCases: [(RetryConfiguration.Conditions, [Bool])] = [
        (.reset, [false, false, true, true, false]),
        (.timeout, [false, false, false, false, true]),
        (.resetBeforeRequest, [false, false, true, false, false]),
        ([.connectFailure, .timeout], [true, false, false, false, true]),
        ([], [false, false, false, false, false]),
    ]

    @Test(arguments: conditionCases)
    func eachConditionSelectsItsFailures(retryOn: RetryConfiguration.Conditions, expected: [Bool]) {
        let policy = RetryPolicy(configuration: RetryConfiguration(retryOn: retryOn))
        #expect(Self.transportFailures.map(policy.isRetriable) == expected)
        let decisions = Self.transportFailures.map { Self.decide(policy, after: $0) }
        #expect(decisions.map { $0 != .giveUp(.notRetriable) } == expected)
    }

    @Test func statusesAreOptIn() {
        let policy = RetryPolicy(configuration: RetryConfiguration(statuses: [408, 429, 503]))
        for status in [408, 429, 503] {
            #expect(Self.decide(policy, after: .response(status: status)) == .retry(after: .milliseconds(25)))
        }
        for status in [200, 404, 409, 500, 502, 504] {
            #expect(Self.decide(policy, after: .response(status: status)) == .giveUp(.notRetriable))
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func attemptsCountTheFirst(attempts: Int) {
        let policy = RetryPolicy(configuration: RetryConfiguration(attempts: attempts))
        for attempt in 1...5 {
            let decision = Self.decide(policy, after: .connectFailure, attempt: attempt)
            if attempt < attempts {
                #expect(decision == .retry(after: policy.backoff.delay(forRetry: attempt)))
            } else {
                #expect(decision == .giveUp(.attemptsExhausted))
            }
        }
    }

    @Test func theWaitGrowsWithTheRetryNumber() {
        let policy = RetryPolicy(
            configuration: RetryConfiguration(attempts: 7, backoff: BackoffConfiguration(jitter: .none))
        )
        let waits = (1...6).map { Self.decide(policy, after: .connectFailure, attempt: $0) }
        #expect(waits == [25, 50, 100, 200, 250, 250].map { .retry(after: .milliseconds($0)) })
    }

    @Test(arguments: ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
    func idempotentMethods(method: String) {
        #expect(RetryRequest.isIdempotent(method: method))
        #expect(RetryRequest(method: method, hasIdempotencyKey: false, bodyIsReplayable: true).isIdempotent)
    }

    @Test(arguments: ["POST", "PATCH", "CONNECT", "get", "Put", "", "PROPFIND"])
    func nonIdempotentMethods(method: String) {
        #expect(!RetryRequest.isIdempotent(method: method))
        #expect(!RetryRequest(method: method, hasIdempotencyKey: false, bodyIsReplayable: true).isIdempotent)
        #expect(RetryRequest(method: method, hasIdempotencyKey: true, bodyIsReplayable: true).isIdempotent)
    }

    /// With idempotentOnly (the default), a POST without Idempotency-Key is retried only when the upstream
    /// provably never saw it, even when every condition and the status are configured.
    @Test func nonIdempotentRequestsOnlyWhenTheUpstreamNeverSawThem() {
        let policy = RetryPolicy(
            configuration: RetryConfiguration(
                retryOn: [.connectFailure, .refusedStream, .resetBeforeRequest, .reset, .timeout],
                statuses: [503]
            )
        )
        let outcomes = Self.transportFailures + [.response(status: 503)]
        let retried = RetryDecision.retry(after: .milliseconds(25))
        #expect(
            outcomes.map { Self.decide(policy, after: $0, request: Self.post) } == [
                retried, retried, retried, .giveUp(.notIdempotent), .giveUp(.notIdempotent), .giveUp(.notIdempotent),
            ]
        )
        #expect(
            outcomes.map { Self.decide(policy, after: $0, request: Self.postWithKey) }
                == Array(repeating: retried, count: 6)
        )
        #expect(
            outcomes.map { Self.decide(policy, after: $0, request: Self.get) } == Array(repeating: retried, count: 6)
        )

        let anyRequest = RetryPolicy(
            configuration: RetryConfiguration(
                retryOn: [.reset, .timeout],
                statuses: [503],
                idempotentOnly: false
            )
        )
        for outcome in [AttemptOutcome.reset, .timeout, .response(status: 503)] {
            #expect(Self.decide(anyRequest, after: outcome, request: Self.post) == retried)
        }
    }

    /// A body that cannot be sent again blocks the retry unless nothing of the request was written.
    @Test func bodyReplayability() {
        let policy = RetryPolicy(
            configuration: RetryConfiguration(
                retryOn: [.connectFailure, .refusedStream, .resetBeforeRequest, .reset, .timeout],
                statuses: [503]
            )
        )
        let streamed = RetryRequest(method: "PUT", hasIdempotencyKey: false, bodyIsReplayable: false)
        let retried = RetryDecision.retry(after: .milliseconds(25))
        let outcomes = Self.transportFailures + [.response(status: 503)]
        #expect(
            outcomes.map { Self.decide(policy, after: $0, request: streamed) } == [
                retried, .giveUp(.bodyNotReplayable), retried, .giveUp(.bodyNotReplayable), .giveUp(.bodyNotReplayable),
                .giveUp(.bodyNotReplayable),
            ]
        )
    }

    /// A retry starts only if the deadline holds the wait (25 ms here) plus the minimal attempt (10 ms).
    @Test func theDeadlineMustHoldTheWaitAndAnAttempt() {
        let policy = RetryPolicy()
        #expect(
            Self.decide(policy, after: .connectFailure, remaining: .milliseconds(35))
                == .retry(after: .milliseconds(25))
        )
        #expect(Self.decide(policy, after: .connectFailure, remaining: .microseconds(34_999)) == .giveUp(.deadline))
        #expect(Self.decide(policy, after: .connectFailure, remaining: .zero) == .giveUp(.deadline))
        #expect(Self.decide(policy, after: .connectFailure, remaining: nil) == .retry(after: .milliseconds(25)))

        let patient = RetryPolicy(configuration: RetryConfiguration(minimumAttemptTime: .milliseconds(100)))
        #expect(Self.decide(patient, after: .connectFailure, remaining: .milliseconds(124)) == .giveUp(.deadline))
        #expect(
            Self.decide(patient, after: .connectFailure, remaining: .milliseconds(125))
                == .retry(after: .milliseconds(25))
        )
    }

    /// A 429 or 503 Retry-After replaces the backoff and is honoured only within the deadline.
    @Test func retryAfterIsHonouredWithinTheDeadline() {
        let policy = RetryPolicy(configuration: RetryConfiguration(statuses: [429, 500, 503]))
        #expect(policy.wantsRetryAfter(status: 503) && policy.wantsRetryAfter(status: 429))
        #expect(!policy.wantsRetryAfter(status: 500) && !policy.wantsRetryAfter(status: 502))

        let throttled = AttemptOutcome.response(status: 503, retryAfter: .seconds(2))
        #expect(Self.decide(policy, after: throttled, remaining: .seconds(3)) == .retry(after: .seconds(2)))
        #expect(Self.decide(policy, after: throttled, remaining: .milliseconds(2010)) == .retry(after: .seconds(2)))
        #expect(
            Self.decide(policy, after: throttled, remaining: .milliseconds(2009)) == .giveUp(.retryAfterBeyondDeadline)
        )
        #expect(Self.decide(policy, after: throttled, remaining: .seconds(1)) == .giveUp(.retryAfterBeyondDeadline))
        #expect(Self.decide(policy, after: .response(status: 429, retryAfter: .zero)) == .retry(after: .zero))

        // Without the header, or on another status, the backoff applies.
        #expect(Self.decide(policy, after: .response(status: 503)) == .retry(after: .milliseconds(25)))
        #expect(
            Self.decide(policy, after: .response(status: 500, retryAfter: .seconds(2)))
                == .retry(after: .milliseconds(25))
        )

        // Without honorRetryAfter the header is ignored.
        let deaf = RetryPolicy(configuration: RetryConfiguration(statuses: [503], honorRetryAfter: false))
        #expect(!deaf.wantsRetryAfter(status: 503))
        #expect(Self.decide(deaf, after: throttled, remaining: .seconds(1)) == .retry(after: .milliseconds(25)))
    }

    @Test func retryAfterDoesNotDrawFromTheRandomSource() {
        let policy = RetryPolicy(configuration: RetryConfiguration(statuses: [503]))
        var budget = RetryBudget(configuration: RetryBudgetConfiguration(), now: TestInstant.zero)
        var random = FixedRandom(FixedRandom.middle)
        let decision = policy.decide(
            after: .response(status: 503, retryAfter: .seconds(1)),
            attempt: 1,
            request: Self.get,
            remaining: nil,
            budget: &budget,
            now: .zero,
            using: &random
        )
        #expect(decision == .retry(after: .seconds(1)))
        #expect(random.draws == 0)
    }

    @Test func anOverlongRetryAfterEndsTheRetries() {
        let policy = RetryPolicy(configuration: RetryConfiguration(statuses: [429]))
        #expect(
            Self.decide(policy, after: .response(status: 429, retryAfter: .seconds(300)))
                == .retry(after: .seconds(300))
        )
        #expect(
            Self.decide(policy, after: .response(status: 429, retryAfter: .seconds(301))) == .giveUp(.retryAfterTooLong)
        )
    }

    /// Both header forms, end to end: parse, then decide.
    @Test func retryAfterInBothForms() {
        let policy = RetryPolicy(configuration: RetryConfiguration(statuses: [503]))
        let now: Int64 = 784_111_777 - 4
        for value in ["4", "Sun, 06 Nov 1994 08:49:37 GMT"] {
            let retryAfter = RetryAfter.parse(value, nowSecondsSince1970: now)
            #expect(retryAfter == .seconds(4))
            let outcome = AttemptOutcome.response(status: 503, retryAfter: retryAfter)
            #expect(Self.decide(policy, after: outcome, remaining: .seconds(5)) == .retry(after: .seconds(4)))
            #expect(Self.decide(policy, after: outcome, remaining: .seconds(4)) == .giveUp(.retryAfterBeyondDeadline))
        }
    }

    /// The budget is consulted last: a retry refused for another reason takes nothing from it.
    @Test func theBudgetIsConsultedLast() {
        let policy = RetryPolicy()
        var budget = RetryBudget(
            configuration: RetryBudgetConfiguration(percent: 0, minPerSecond: 1),
            now: TestInstant.zero
        )
        var random = FixedRandom(FixedRandom.highest)
        func decide(_ outcome: AttemptOutcome, remaining: Duration? = nil) -> RetryDecision {
            policy.decide(
                after: outcome,
                attempt: 1,
                request: Self.get,
                remaining: remaining,
                budget: &budget,
                now: TestInstant.seconds(0.5),
                using: &random
            )
        }
        #expect(decide(.reset) == .giveUp(.notRetriable))
        #expect(decide(.connectFailure, remaining: .milliseconds(1)) == .giveUp(.deadline))
        #expect(budget.retriesAdmitted == 0 && budget.retriesRefused == 0)

        #expect(decide(.connectFailure) == .retry(after: .milliseconds(25)))
        #expect(budget.retriesInFlight == 1)
        #expect(decide(.connectFailure) == .giveUp(.budgetExhausted))
        #expect(budget.retriesRefused == 1)
    }
}
