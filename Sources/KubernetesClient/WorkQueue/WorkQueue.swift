public import Metrics
import Synchronization

/// A rate-limited, delaying work queue of keys with client-go's semantics (see ``StateMachine``):
/// duplicates collapse, a key is never handed to two workers at once, a key re-added while it is
/// processed is handed out again after ``done(_:)``, failures back off per key and overall.
///
/// Workers loop on ``get()`` and call ``done(_:)`` for every key they get:
///
/// ```swift
/// while let key = await queue.get() {
///     defer { queue.done(key) }
///     do { try await reconcile(key); queue.forget(key) } catch { queue.addRateLimited(key) }
/// }
/// ```
///
/// Delayed keys become ready while some worker waits in ``get()`` (it sleeps until the earliest one);
/// no background task is needed. The queue records client-go's `workqueue_*` metrics (see ``Instruments``).
public final class WorkQueue<Key: Hashable & Sendable>: Sendable {
    private enum Wake: Sendable {
        case item(Key)
        case shutDown
        /// Re-plan: an earlier delayed key arrived, a delay elapsed, or a spurious wake-up.
        case retry
        case cancelled
    }

    private struct State: ~Copyable {
        var machine: StateMachine
        var waiters: [UInt64: CheckedContinuation<Wake, Never>] = [:]
        var pendingWakes: [UInt64: Wake] = [:]
        var drainWaiters: [CheckedContinuation<Void, Never>] = []
        var nextWaiterID: UInt64 = 0
        /// `machine.adds` as last reported to `workqueue_adds_total`.
        var reportedAdds = 0
    }

    /// The queue's name, for logs and metrics.
    public let name: String
    private let state: Mutex<State>
    private let clock: ClockSource
    private let instruments: Instruments

    /// - Parameters:
    ///   - name: For logs and metrics (the `name` label); unique per process.
    ///   - rateLimiter: The retry delays of ``addRateLimited(_:)``. Default: 5 ms·2ⁿ up to 1000 s, 10 qps burst 100.
    ///   - metricsFactory: Where the queue's metrics go. Default: the process's `MetricsSystem.factory`.
    public convenience init(
        name: String,
        rateLimiter: RateLimiterConfiguration = RateLimiterConfiguration(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(name: name, rateLimiter: rateLimiter, clock: ContinuousClock(), metricsFactory: metricsFactory)
    }

    /// - Parameters:
    ///   - name: For logs and metrics (the `name` label); unique per process.
    ///   - rateLimiter: The retry delays of ``addRateLimited(_:)``. Default: 5 ms·2ⁿ up to 1000 s, 10 qps burst 100.
    ///   - clock: The clock delays and durations are measured with.
    ///   - metricsFactory: Where the queue's metrics go. Default: the process's `MetricsSystem.factory`.
    public init<C: Clock>(
        name: String,
        rateLimiter: RateLimiterConfiguration = RateLimiterConfiguration(),
        clock: C,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) where C.Duration == Duration {
        self.name = name
        self.clock = ClockSource(clock)
        self.state = Mutex(State(machine: StateMachine(rateLimiter: rateLimiter)))
        self.instruments = Instruments(name: name, factory: metricsFactory)
    }

    /// Keys ready to be handed out (not counting delayed ones).
    public var count: Int { state.withLock { $0.machine.count } }

    /// Keys waiting for a delay to pass.
    public var waitingCount: Int { state.withLock { $0.machine.waitingCount } }

    /// Whether ``shutDown()`` was called.
    public var isShuttingDown: Bool { state.withLock { $0.machine.isShuttingDown } }

    /// Marks `key` as needing processing (ignored after ``shutDown()``).
    public func add(_ key: Key) {
        let resumptions = state.withLock { state -> [(CheckedContinuation<Wake, Never>, Wake)] in
            let now = clock.now()
            defer { publish(&state) }
            guard state.machine.add(key, now: now) else { return [] }
            return handOut(&state, now: now)
        }
        for (waiter, wake) in resumptions { waiter.resume(returning: wake) }
    }

    /// Adds `key` once `delay` has passed; a key already waiting keeps the earlier instant.
    public func addAfter(_ key: Key, delay: Duration) {
        let resumptions = state.withLock { state -> [(CheckedContinuation<Wake, Never>, Wake)] in
            let now = clock.now()
            defer { publish(&state) }
            guard state.machine.add(key, after: delay, now: now) else { return [] }
            if delay <= .zero { return handOut(&state, now: now) }
            return Self.wakeAll(&state, with: .retry)
        }
        for (waiter, wake) in resumptions { waiter.resume(returning: wake) }
    }

    /// Adds `key` after its rate-limited delay: max(per-key 5 ms·2ⁿ, the overall token bucket's wait).
    ///
    /// - Returns: The delay chosen.
    @discardableResult
    public func addRateLimited(_ key: Key) -> Duration {
        let (delay, resumptions) = state.withLock { state -> (Duration, [(CheckedContinuation<Wake, Never>, Wake)]) in
            let now = clock.now()
            defer { publish(&state) }
            let (delay, earlier) = state.machine.addRateLimited(key, now: now)
            if delay <= .zero { return (delay, handOut(&state, now: now)) }
            return (delay, earlier ? Self.wakeAll(&state, with: .retry) : [])
        }
        instruments.retries.increment()
        for (waiter, wake) in resumptions { waiter.resume(returning: wake) }
        return delay
    }

    /// Clears `key`'s failure count (call it when the key succeeded, or will not be retried).
    public func forget(_ key: Key) {
        state.withLock { $0.machine.forget(key) }
    }

    /// How many times `key` was rate-limited since it was last forgotten.
    public func numRequeues(_ key: Key) -> Int {
        state.withLock { $0.machine.numRequeues(key) }
    }

    /// Marks the processing of `key` finished; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        let (resumptions, drained) = state.withLock {
            state -> ([(CheckedContinuation<Wake, Never>, Wake)], [CheckedContinuation<Void, Never>]) in
            let now = clock.now()
            defer { publish(&state) }
            if let started = state.machine.processing[key]?.since {
                instruments.workDuration.record(duration: started.duration(to: now))
            }
            var resumptions: [(CheckedContinuation<Wake, Never>, Wake)] = []
            if state.machine.done(key) {
                resumptions = handOut(&state, now: now)
            }
            var drained: [CheckedContinuation<Void, Never>] = []
            if state.machine.processing.isEmpty {
                drained = state.drainWaiters
                state.drainWaiters = []
            }
            return (resumptions, drained)
        }
        for (waiter, wake) in resumptions { waiter.resume(returning: wake) }
        for waiter in drained { waiter.resume() }
    }

    /// Stops accepting keys. Keys already queued are still handed out; then ``get()`` returns `nil`.
    public func shutDown() {
        let resumptions = state.withLock { state -> [(CheckedContinuation<Wake, Never>, Wake)] in
            state.machine.shutDown()
            defer { publish(&state) }
            return handOut(&state, now: clock.now()) + Self.wakeAll(&state, with: .shutDown)
        }
        for (waiter, wake) in resumptions { waiter.resume(returning: wake) }
    }

    /// Waits until no key is being processed (after ``shutDown()``: client-go's `ShutDownWithDrain`).
    public func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state -> Bool in
                if state.machine.processing.isEmpty { return true }
                state.drainWaiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// The next key to process, waiting until one is ready; `nil` once the queue is shut down and
    /// empty, or when the calling task is cancelled. Call ``done(_:)`` for every key returned.
    public func get() async -> Key? {
        while !Task.isCancelled {
            let id = state.withLock { state -> UInt64 in
                state.nextWaiterID += 1
                return state.nextWaiterID
            }
            let wake = await waitForWake(id: id)
            switch wake {
            case .item(let key): return key
            case .shutDown, .cancelled: return nil
            case .retry: continue
            }
        }
        return nil
    }

    private func waitForWake(id: UInt64) async -> Wake {
        let deadline = state.withLock { $0.machine.nextReadyAt() }
        let wake = await withTaskGroup(of: Void.self) { group -> Wake in
            if let deadline {
                group.addTask { [clock] in
                    do {
                        try await clock.sleepUntil(deadline)
                        self.wake(id, with: .retry)
                    } catch {}
                }
            }
            let wake = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Wake, Never>) in
                    let immediate = state.withLock { state -> Wake? in
                        if let pending = state.pendingWakes.removeValue(forKey: id) { return pending }
                        defer { publish(&state) }
                        switch next(&state, now: clock.now()) {
                        case .item(let key): return .item(key)
                        case .shutDown: return .shutDown
                        case .wait(let until):
                            // A delayed key arrived earlier than the one this waiter's timer was set for: re-plan.
                            if let until, deadline.map({ until < $0 }) ?? true { return .retry }
                            state.waiters[id] = continuation
                            return nil
                        }
                    }
                    if let immediate { continuation.resume(returning: immediate) }
                }
            } onCancel: {
                self.wake(id, with: .cancelled)
            }
            group.cancelAll()
            return wake
        }
        state.withLock { state in
            state.pendingWakes[id] = nil
            state.waiters[id] = nil
        }
        return wake
    }

    /// Resumes waiter `id`, or remembers the wake for when it registers.
    private func wake(_ id: UInt64, with wake: Wake) {
        let waiter = state.withLock { state -> CheckedContinuation<Wake, Never>? in
            if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
            state.pendingWakes[id] = wake
            return nil
        }
        waiter?.resume(returning: wake)
    }

    /// Hands ready keys to waiting workers, one each.
    private func handOut(
        _ state: inout State,
        now: MonotonicInstant
    ) -> [(CheckedContinuation<Wake, Never>, Wake)] {
        var resumptions: [(CheckedContinuation<Wake, Never>, Wake)] = []
        while let id = state.waiters.keys.min() {
            guard case .item(let key) = next(&state, now: now) else { break }
            let waiter = state.waiters.removeValue(forKey: id)!
            resumptions.append((waiter, .item(key)))
        }
        return resumptions
    }

    /// The machine's next key; one handed out records how long it waited.
    private func next(_ state: inout State, now: MonotonicInstant) -> StateMachine.GetResult {
        let result = state.machine.get(now: now)
        if case .item(let key) = result, let processing = state.machine.processing[key] {
            instruments.queueDuration.record(duration: processing.queued)
        }
        return result
    }

    /// Brings `workqueue_depth` and `workqueue_adds_total` up to date (under the lock, so in order).
    private func publish(_ state: inout State) {
        instruments.depth.record(state.machine.dirty.count)
        let adds = state.machine.adds
        if adds > state.reportedAdds {
            instruments.adds.increment(by: adds - state.reportedAdds)
            state.reportedAdds = adds
        }
    }

    /// Refreshes the gauges that grow with time alone: the work in progress, in seconds.
    func recordUnfinishedWork() {
        state.withLock { state in
            let (total, longest) = state.machine.unfinishedWork(now: clock.now())
            instruments.unfinishedWork.record(total.seconds)
            instruments.longestRunningProcessor.record(longest.seconds)
        }
    }

    private static func wakeAll(_ state: inout State, with wake: Wake) -> [(CheckedContinuation<Wake, Never>, Wake)] {
        let resumptions = state.waiters.values.map { ($0, wake) }
        state.waiters.removeAll()
        return resumptions
    }
}
