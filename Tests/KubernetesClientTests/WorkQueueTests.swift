import Synchronization
import Testing

@testable import KubernetesClient

/// The work queue's logic as a pure state machine, driven with explicit instants (a mock clock).
/// `#expect` cannot take a mutating call; evaluate it first.
func expectEqual<T: Equatable>(
    _ value: T,
    _ expected: T,
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(value == expected, comment, sourceLocation: sourceLocation)
}

@Suite struct WorkQueueStateMachineTests {
    typealias Machine = WorkQueue<String>.StateMachine

    static func at(_ milliseconds: Int64) -> MonotonicInstant { MonotonicInstant(offset: .milliseconds(milliseconds)) }

    @Test func duplicatesCollapse() {
        var queue = Machine()
        expectEqual(queue.add("a", now: .zero), true)
        expectEqual(queue.add("a", now: .zero), false, "already queued")
        expectEqual(queue.add("b", now: .zero), true)
        expectEqual(queue.get(now: .zero), .item("a"))
        expectEqual(queue.get(now: .zero), .item("b"))
        expectEqual(queue.get(now: .zero), .wait(until: nil))
    }

    @Test func aKeyIsNeverHandedOutTwiceAtOnce() {
        var queue = Machine()
        queue.add("a", now: .zero)
        expectEqual(queue.get(now: .zero), .item("a"))
        expectEqual(queue.add("a", now: .zero), false, "re-added while processing: remembered, not queued")
        queue.add("b", now: .zero)
        expectEqual(queue.get(now: .zero), .item("b"))
        expectEqual(queue.get(now: .zero), .wait(until: nil), "a second worker does not get a")
        expectEqual(queue.done("a"), true, "done re-queues a key added while it was processed")
        expectEqual(queue.get(now: .zero), .item("a"))
        expectEqual(queue.done("a"), false)
        expectEqual(queue.done("b"), false)
        expectEqual(queue.get(now: .zero), .wait(until: nil))
        #expect(queue.processing.isEmpty && queue.dirty.isEmpty)
    }

    @Test func rateLimitedDelaysDoublePerKeyAndResetOnForget() {
        var queue = Machine()
        let delays = (0..<5).map { _ in queue.addRateLimited("a", now: .zero).delay }
        #expect(
            delays == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(80)]
        )
        #expect(queue.numRequeues("a") == 5)
        expectEqual(queue.addRateLimited("b", now: .zero).delay, .milliseconds(5), "per key")
        queue.forget("a")
        #expect(queue.numRequeues("a") == 0)
        expectEqual(queue.addRateLimited("a", now: .zero).delay, .milliseconds(5))
    }

    @Test func perKeyDelayIsCappedAt1000Seconds() {
        var limiter = RateLimiter<String>(configuration: RateLimiterConfiguration(qps: 0))
        let delays = (0..<25).map { _ in limiter.when("a", now: .zero) }
        #expect(delays[10] == .milliseconds(5120))
        #expect(delays[17] == .milliseconds(655_360))
        #expect(delays[18] == .seconds(1000))
        #expect(delays[24] == .seconds(1000))
    }

    @Test func overallTokenBucketLimitsToTenPerSecondAfterABurstOfOneHundred() {
        var limiter = RateLimiter<Int>(configuration: RateLimiterConfiguration())
        let burst = (0..<100).map { limiter.when($0, now: .zero) }
        #expect(burst.allSatisfy { $0 == .milliseconds(5) }, "the burst is only limited per key")
        expectEqual(limiter.when(100, now: .zero), .milliseconds(100), "the 101st waits for a token")
        expectEqual(limiter.when(101, now: .zero), .milliseconds(200))
        expectEqual(limiter.when(102, now: Self.at(100)), .milliseconds(200), "one token refilled in 100 ms, two owed")
        expectEqual(limiter.when(103, now: Self.at(1500)), .milliseconds(5), "after 1.5 s the bucket has tokens again")
    }

    @Test func delayedKeysBecomeReadyInOrder() {
        var queue = Machine()
        queue.add("c", after: .milliseconds(30), now: .zero)
        queue.add("a", after: .milliseconds(10), now: .zero)
        queue.add("b", after: .milliseconds(20), now: .zero)
        expectEqual(queue.get(now: Self.at(5)), .wait(until: Self.at(10)))
        expectEqual(queue.get(now: Self.at(25)), .item("a"))
        expectEqual(queue.get(now: Self.at(25)), .item("b"))
        expectEqual(queue.get(now: Self.at(25)), .wait(until: Self.at(30)))
        expectEqual(queue.get(now: Self.at(30)), .item("c"))
        #expect(queue.waitingCount == 0)
    }

    @Test func anEarlierAddAfterWinsAndALaterOneIsIgnored() {
        var queue = Machine()
        expectEqual(
            queue.add("a", after: .milliseconds(50), now: .zero),
            true,
            "the first delayed key moves the earliest instant"
        )
        expectEqual(queue.add("a", after: .milliseconds(10), now: .zero), true, "earlier: replaces")
        expectEqual(queue.add("a", after: .milliseconds(90), now: .zero), false, "later: ignored")
        expectEqual(queue.get(now: Self.at(10)), .item("a"))
        expectEqual(queue.done("a"), false)
        expectEqual(queue.get(now: Self.at(60)), .wait(until: nil), "the superseded 50 ms entry does not fire")
        queue.add("b", after: .zero, now: .zero)
        expectEqual(queue.get(now: .zero), .item("b"), "no delay: added at once")
    }

    @Test func aDelayedKeyThatIsAlreadyQueuedIsNotDuplicated() {
        var queue = Machine()
        queue.add("a", now: .zero)
        queue.add("a", after: .milliseconds(10), now: .zero)
        expectEqual(queue.get(now: Self.at(20)), .item("a"))
        expectEqual(queue.get(now: Self.at(20)), .wait(until: nil))
    }

    @Test func addsCountKeysThatBecomePendingAndDepthIsThePendingKeys() {
        var queue = Machine()
        queue.add("a", now: .zero)
        queue.add("a", now: .zero)
        queue.add("b", now: .zero)
        #expect(queue.adds == 2, "a duplicate of a pending key is not an add")
        #expect(queue.dirty.count == 2)
        _ = queue.get(now: .zero)
        #expect(queue.dirty.count == 1, "a key handed out no longer counts in the depth")
        queue.add("a", now: .zero)
        #expect(queue.adds == 3 && queue.dirty.count == 2, "re-added while processing: pending again")
    }

    @Test func queueDurationRunsFromTheAddOrFromWhenADelayEnded() {
        var queue = Machine()
        queue.add("a", now: Self.at(10))
        queue.add("b", after: .milliseconds(20), now: Self.at(10))
        expectEqual(queue.get(now: Self.at(25)), .item("a"))
        #expect(queue.processing["a"] == .init(since: Self.at(25), queued: .milliseconds(15)))
        expectEqual(queue.get(now: Self.at(50)), .item("b"))
        #expect(queue.processing["b"]?.queued == .milliseconds(20), "ready at 30 ms, handed out at 50 ms")

        queue.add("a", now: Self.at(60))
        queue.done("a")
        expectEqual(queue.get(now: Self.at(70)), .item("a"))
        #expect(queue.processing["a"]?.queued == .milliseconds(10), "re-added while processing: from the re-add")
    }

    @Test func unfinishedWorkSumsTheKeysInProgressAndNamesTheLongest() {
        var queue = Machine()
        #expect(queue.unfinishedWork(now: Self.at(5)) == (.zero, .zero))
        queue.add("a", now: .zero)
        queue.add("b", now: .zero)
        _ = queue.get(now: Self.at(100))
        _ = queue.get(now: Self.at(300))
        let (total, longest) = queue.unfinishedWork(now: Self.at(1000))
        #expect(total == .milliseconds(900 + 700))
        #expect(longest == .milliseconds(900))
        queue.done("a")
        #expect(queue.unfinishedWork(now: Self.at(1000)) == (.milliseconds(700), .milliseconds(700)))
    }

    @Test func shutDownDrainsQueuedKeysAndDropsTheRest() {
        var queue = Machine()
        queue.add("a", now: .zero)
        queue.add("b", after: .milliseconds(10), now: .zero)
        queue.shutDown()
        expectEqual(queue.add("c", now: .zero), false, "no adds after shutdown")
        expectEqual(queue.get(now: Self.at(100)), .item("a"), "queued keys are still handed out")
        expectEqual(queue.get(now: Self.at(100)), .shutDown, "delayed keys are dropped")
    }
}

/// The async queue: waiting workers, delays on a real clock, shutdown and cancellation.
extension IntegrationTests {
    @Suite struct WorkQueueTests {
        @Test func getWaitsForAnAdd() async {
            let queue = WorkQueue<String>(name: "test")
            async let key = queue.get()
            try? await Task.sleep(for: .milliseconds(50))
            queue.add("a")
            #expect(await key == "a")
            queue.done("a")
        }

        @Test func twoWorkersNeverProcessTheSameKeyAtOnce() async {
            let queue = WorkQueue<Int>(name: "test")
            let inFlight = LockedValue<Set<Int>>([])
            let overlaps = LockedValue(0)
            let processed = LockedValue(0)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        while let key = await queue.get() {
                            let fresh = inFlight.withLock { $0.insert(key).inserted }
                            if !fresh { overlaps.withLock { $0 += 1 } }
                            queue.add(key % 3 == 0 ? (key + 1) % 5 : key)  // re-add keys while they are processed
                            try? await Task.sleep(for: .milliseconds(1))
                            inFlight.withLock { _ = $0.remove(key) }
                            processed.withLock { $0 += 1 }
                            queue.done(key)
                        }
                    }
                }
                for round in 0..<40 { queue.add(round % 5) }
                try? await Task.sleep(for: .milliseconds(300))
                queue.shutDown()
            }
            #expect(overlaps.value == 0)
            #expect(processed.value >= 5)
        }

        @Test func addAfterWakesAWaitingWorker() async {
            let queue = WorkQueue<String>(name: "test")
            let clock = ContinuousClock()
            let start = clock.now
            queue.addAfter("late", delay: .milliseconds(300))
            queue.addAfter("early", delay: .milliseconds(100))
            #expect(await queue.get() == "early")
            #expect(clock.now - start >= .milliseconds(100))
            #expect(await queue.get() == "late")
            #expect(clock.now - start >= .milliseconds(300))
        }

        @Test func anEarlierDelayedKeyWakesAWorkerSleepingForALaterOne() async {
            let queue = WorkQueue<String>(name: "test")
            queue.addAfter("late", delay: .seconds(60))
            let clock = ContinuousClock()
            let start = clock.now
            async let first = queue.get()
            try? await Task.sleep(for: .milliseconds(50))
            queue.addAfter("soon", delay: .milliseconds(50))
            #expect(await first == "soon")
            #expect(clock.now - start < .seconds(30), "not after the 60 s of the later key")
        }

        @Test func rateLimitedRetriesComeBackAfterTheirDelay() async {
            let queue = WorkQueue<String>(
                name: "test",
                rateLimiter: RateLimiterConfiguration(baseDelay: .milliseconds(20))
            )
            queue.add("a")
            let key = await queue.get()
            #expect(key == "a")
            #expect(queue.addRateLimited("a") == .milliseconds(20))
            queue.done("a")
            #expect(await queue.get() == "a")
            #expect(queue.numRequeues("a") == 1)
            queue.forget("a")
            #expect(queue.numRequeues("a") == 0)
        }

        @Test func shutDownHandsOutWhatIsQueuedThenNil() async {
            let queue = WorkQueue<String>(name: "test")
            async let blocked = queue.get()
            try? await Task.sleep(for: .milliseconds(50))
            queue.add("x")
            #expect(await blocked == "x")
            queue.add("y")
            queue.shutDown()
            queue.add("z")
            #expect(await queue.get() == "y")
            #expect(await queue.get() == nil)
            async let drained: Void = queue.drain()
            try? await Task.sleep(for: .milliseconds(20))
            queue.done("x")
            queue.done("y")
            await drained
            #expect(queue.isShuttingDown)
        }

        @Test func shutDownWakesBlockedWorkers() async {
            let queue = WorkQueue<String>(name: "test")
            async let a = queue.get()
            async let b = queue.get()
            try? await Task.sleep(for: .milliseconds(50))
            queue.shutDown()
            let results = await [a, b]
            #expect(results == [nil, nil])
        }

        @Test func cancellingAWaitingWorkerReturnsNil() async {
            let queue = WorkQueue<String>(name: "test")
            let worker = Task { await queue.get() }
            try? await Task.sleep(for: .milliseconds(50))
            worker.cancel()
            #expect(await worker.value == nil)
            queue.add("a")
            #expect(await queue.get() == "a", "the cancelled waiter did not swallow the key")
        }
    }
}
