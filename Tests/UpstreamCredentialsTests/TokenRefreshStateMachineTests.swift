import Foundation
import Testing
@testable import UpstreamCredentials

@Suite struct TokenRefreshStateMachineTests {
    let t0 = referenceTime

    func token(_ value: String = "t", issuedAt: Date, lifetime: TimeInterval) -> Token {
        Token(value: value, expiresAt: issuedAt.addingTimeInterval(lifetime), issuedAt: issuedAt)
    }

    @Test(arguments: [
        // lifetime, expected margin (no jitter)
        (300.0, 150.0), (600.0, 300.0), (1200.0, 300.0), (3599.0, 719.8), (3600.0, 720.0), (43200.0, 8640.0),
        (86400.0, 17280.0), (30.0, 15.0),
    ])
    func refreshMarginFollowsTheFormula(lifetime: TimeInterval, margin: TimeInterval) {
        let configuration = TokenRefreshConfiguration()
        let computed = configuration.refreshMargin(forLifetime: .seconds(lifetime)).seconds
        #expect(abs(computed - margin) < 0.001, "L=\(lifetime): \(computed) != \(margin)")
        let token = token(issuedAt: t0, lifetime: lifetime)
        let at = TokenRefreshStateMachine.refreshTime(for: token, configuration: configuration, jitter: 0)
        #expect(abs(at.timeIntervalSince(t0) - (lifetime - margin)) < 0.001)
        // Full jitter refreshes a tenth of the margin earlier, never before issue.
        let early = TokenRefreshStateMachine.refreshTime(for: token, configuration: configuration, jitter: 1)
        #expect(abs(at.timeIntervalSince(early) - margin * 0.1) < 0.001)
        #expect(early >= t0)
    }

    @Test func configuredBeforeIsUsedWhenShorterThanTheLifetime() {
        var configuration = TokenRefreshConfiguration(before: .seconds(600))
        #expect(configuration.refreshMargin(forLifetime: .seconds(3600)) == .seconds(600))
        // Not shorter than the lifetime: the default applies.
        #expect(configuration.refreshMargin(forLifetime: .seconds(600)) == .seconds(300))
        configuration.before = .seconds(3000)
        #expect(configuration.refreshMargin(forLifetime: .seconds(3600)) == .seconds(3000))
    }

    @Test func firstRoundIsDueAtOnceAndRequestsWaitForIt() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        #expect(machine.request(now: t0) == .waitAndWakeScheduler)
        #expect(machine.nextStep(now: t0) == .fetch(attempt: 1))
        // A second cold request joins the fetch in flight: single flight.
        #expect(machine.request(now: t0) == .wait)
        #expect(machine.nextStep(now: t0) == .idle)
        let fresh = token("a", issuedAt: t0, lifetime: 3600)
        #expect(machine.fetchSucceeded(fresh, now: t0, using: &generator) == .succeedWaiters(fresh))
        #expect(machine.request(now: t0) == .serve(fresh))
        #expect(machine.refreshAt == t0.addingTimeInterval(3600 - 720))
        #expect(machine.nextStep(now: t0) == .sleep(until: t0.addingTimeInterval(2880)))
    }

    @Test func keepsServingTheOldTokenWhileRefreshing() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        _ = machine.nextStep(now: t0)
        let old = token("old", issuedAt: t0, lifetime: 3600)
        _ = machine.fetchSucceeded(old, now: t0, using: &generator)
        let refreshTime = t0.addingTimeInterval(2880)
        #expect(machine.nextStep(now: refreshTime) == .fetch(attempt: 1))
        #expect(machine.request(now: refreshTime.addingTimeInterval(60)) == .serve(old))
        let new = token("new", issuedAt: refreshTime, lifetime: 3600)
        _ = machine.fetchSucceeded(new, now: refreshTime.addingTimeInterval(61), using: &generator)
        #expect(machine.request(now: refreshTime.addingTimeInterval(62)) == .serve(new))
    }

    @Test func neverServesAnExpiredTokenAndFailsFastWhileBackingOff() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        _ = machine.nextStep(now: t0)
        let old = token("old", issuedAt: t0, lifetime: 3600)
        _ = machine.fetchSucceeded(old, now: t0, using: &generator)
        // The last 5 s of validity are not handed out.
        #expect(machine.request(now: t0.addingTimeInterval(3594)) == .serve(old))
        // Refresh rounds fail until the token has expired.
        let denied = CredentialError(.permissionDenied, "no")
        var now = t0.addingTimeInterval(2880)
        while now < t0.addingTimeInterval(3600) {
            if case .fetch = machine.nextStep(now: now) {
                _ = machine.fetchFailed(denied, now: now, using: &generator)
            }
            now = now.addingTimeInterval(1)
        }
        let after = t0.addingTimeInterval(3595)
        #expect(machine.validToken(at: after) == nil)
        // In backoff after a failed round: fail at once with the last error, never the expired token.
        let action = machine.request(now: machine.nextRoundAt!.addingTimeInterval(-0.001))
        #expect(action == .fail(denied))
        #expect(machine.status(at: after).ready == false)
        #expect(machine.status(at: after).lastError == denied)
    }

    @Test func transientFailuresAreRetriedWithinTheRoundWithJitter() {
        var configuration = TokenRefreshConfiguration()
        configuration.maxAttempts = 3
        var machine = TokenRefreshStateMachine(configuration: configuration, now: t0)
        var generator = SeededGenerator(seed: 7)
        #expect(machine.request(now: t0) == .waitAndWakeScheduler)
        #expect(machine.nextStep(now: t0) == .fetch(attempt: 1))
        let unreachable = CredentialError(.unreachable, "refused")
        guard case .retry(let first) = machine.fetchFailed(unreachable, now: t0, using: &generator) else {
            Issue.record("expected a retry")
            return
        }
        // Equal jitter: 125–250 ms before the second attempt.
        let wait = first.timeIntervalSince(t0)
        #expect(wait >= 0.125 && wait <= 0.25)
        #expect(machine.nextStep(now: t0) == .sleep(until: first))
        #expect(machine.request(now: t0) == .wait)
        #expect(machine.nextStep(now: first) == .fetch(attempt: 2))
        guard case .retry(let second) = machine.fetchFailed(unreachable, now: first, using: &generator) else {
            Issue.record("expected a second retry")
            return
        }
        let secondWait = second.timeIntervalSince(first)
        #expect(secondWait >= 0.25 && secondWait <= 0.5)
        #expect(machine.nextStep(now: second) == .fetch(attempt: 3))
        // The last attempt ends the round; waiters get the error.
        #expect(machine.fetchFailed(unreachable, now: second, using: &generator) == .failWaiters(unreachable))
        #expect(machine.consecutiveFailures == 3)
        #expect(machine.consecutiveFailedRounds == 1)
        let next = machine.nextRoundAt!.timeIntervalSince(second)
        #expect(next >= 0.5 && next <= 1.0)
    }

    @Test func nonTransientFailuresEndTheRoundAtOnce() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: .max)
        _ = machine.nextStep(now: t0)
        let error = CredentialError(.aadsts(70021), "no matching federated identity record")
        #expect(machine.fetchFailed(error, now: t0, using: &generator) == .failWaiters(error))
        // Failure backoff grows with failed rounds: 1 s, 2 s, 4 s … capped at 60 s (u = 1: the full delay).
        var expected: [TimeInterval] = [1]
        var now = t0
        for round in 2...9 {
            now = machine.nextRoundAt!
            #expect(machine.nextStep(now: now) == .fetch(attempt: 1))
            _ = machine.fetchFailed(error, now: now, using: &generator)
            expected.append(min(60, pow(2, Double(round - 1))))
            #expect(abs(machine.nextRoundAt!.timeIntervalSince(now) - expected.last!) < 0.01)
        }
    }

    @Test func successResetsFailuresAndClearsTheError() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        _ = machine.nextStep(now: t0)
        _ = machine.fetchFailed(CredentialError(.invalidGrant), now: t0, using: &generator)
        let next = machine.nextRoundAt!
        _ = machine.nextStep(now: next)
        _ = machine.fetchSucceeded(token(issuedAt: next, lifetime: 3600), now: next, using: &generator)
        let status = machine.status(at: next)
        #expect(status.ready)
        #expect(status.consecutiveFailures == 0)
        #expect(status.lastError == nil)
        #expect(status.lastRefreshTime == next)
        #expect(status.expiresAt == next.addingTimeInterval(3600))
        #expect(status.nextRefreshTime == next.addingTimeInterval(2880))
        #expect(status.reason == "TokenReady")
    }

    @Test func aTokenThatIsAlreadyExpiredCountsAsMalformed() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        _ = machine.nextStep(now: t0)
        let action = machine.fetchSucceeded(token(issuedAt: t0, lifetime: 2), now: t0, using: &generator)
        #expect(action == .failWaiters(CredentialError(.malformedResponse)))
        #expect(machine.token == nil)
    }

    @Test func invalidateDropsOnlyTheRejectedTokenAndRefetches() {
        var machine = TokenRefreshStateMachine(now: t0)
        var generator = ConstantGenerator(value: 0)
        _ = machine.nextStep(now: t0)
        _ = machine.fetchSucceeded(token("current", issuedAt: t0, lifetime: 3600), now: t0, using: &generator)
        let later = t0.addingTimeInterval(100)
        // A 401 for an older token leaves the current one alone.
        #expect(machine.invalidate(value: "stale", now: later) == false)
        #expect(machine.validToken(at: later)?.value == "current")
        #expect(machine.invalidate(value: "current", now: later) == true)
        #expect(machine.validToken(at: later) == nil)
        #expect(machine.nextStep(now: later) == .fetch(attempt: 1))
        #expect(machine.request(now: later) == .wait)
    }
}
