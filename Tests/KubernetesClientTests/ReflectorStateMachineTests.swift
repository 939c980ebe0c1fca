import Testing

@testable import KubernetesClient

/// A deterministic random source (SplitMix64).
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ReflectorStateMachineTests {
    typealias Machine = ReflectorStateMachine<SeededRandom>

    static func machine() -> Machine {
        Machine(backoff: BackoffConfiguration(), minimumWatchTimeout: 300, random: SeededRandom(state: 42))
    }

    static func watchVersion(_ action: Machine.Action) -> String? {
        if case .watch(let version, let timeout) = action {
            #expect((300...600).contains(timeout), "timeoutSeconds is random in 300–600")
            return version
        }
        return nil
    }

    @Test func listsThenWatchesFromTheListVersionAndResumesFromTheLastEvent() {
        var machine = Self.machine()
        #expect(machine.start() == .list)
        #expect(Self.watchVersion(machine.listSucceeded(resourceVersion: "100")) == "100")
        machine.observed(resourceVersion: "105")
        machine.observed(resourceVersion: "110")  // a bookmark counts too
        #expect(Self.watchVersion(machine.watchEnded(duration: .seconds(400), events: 2)) == "110")
    }

    @Test func expiredRelistsAtOnceUnlessTheListItselfWasStale() {
        var machine = Self.machine()
        _ = machine.start()
        _ = machine.listSucceeded(resourceVersion: "1")
        machine.observed(resourceVersion: "5")
        #expect(machine.watchFailed(.expired) == .list)
        _ = machine.listSucceeded(resourceVersion: "9")
        guard case .sleep = machine.watchFailed(.expired) else {
            Issue.record("410 straight after a list backs off")
            return
        }
        #expect(machine.slept() == .list)
    }

    @Test func otherErrorsBackOffThenRewatchFromTheLastVersion() {
        var machine = Self.machine()
        _ = machine.start()
        _ = machine.listSucceeded(resourceVersion: "7")
        var delays: [Duration] = []
        for _ in 0..<10 {
            guard case .sleep(let delay) = machine.watchFailed(.other) else {
                Issue.record("expected a backoff")
                return
            }
            delays.append(delay)
            #expect(Self.watchVersion(machine.slept()) == "7")
        }
        let bounds: [Duration] = [
            .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600), .milliseconds(3200),
            .milliseconds(6400), .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30),
        ]
        for (delay, bound) in zip(delays, bounds) {
            #expect(delay <= bound && delay >= bound / 2, "\(delay) within [\(bound / 2), \(bound)]")
        }
        machine.observed(resourceVersion: "8")
        guard case .sleep(let reset) = machine.watchFailed(.other) else { return }
        #expect(reset <= .milliseconds(200), "an event resets the backoff")
    }

    @Test func undecodableEventsRelistAndFailedListsRetry() {
        var machine = Self.machine()
        _ = machine.start()
        guard case .sleep = machine.listFailed() else {
            Issue.record("a failed list backs off")
            return
        }
        #expect(machine.slept() == .list)
        _ = machine.listSucceeded(resourceVersion: "3")
        guard case .sleep = machine.watchFailed(.invalidResponse) else { return }
        #expect(machine.slept() == .list)
    }

    @Test func aWatchThatEndsAtOnceWithNothingBacksOff() {
        var machine = Self.machine()
        _ = machine.start()
        _ = machine.listSucceeded(resourceVersion: "3")
        guard case .sleep = machine.watchEnded(duration: .milliseconds(10), events: 0) else {
            Issue.record("an immediately closed watch must not be retried in a tight loop")
            return
        }
        #expect(Self.watchVersion(machine.slept()) == "3")
        #expect(Self.watchVersion(machine.watchEnded(duration: .milliseconds(10), events: 1)) == "3")
    }
}
