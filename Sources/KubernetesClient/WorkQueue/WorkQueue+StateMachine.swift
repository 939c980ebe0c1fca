import DequeModule
import HeapModule

extension WorkQueue {
    /// client-go's `workqueue` (queue, delaying queue and rate-limiting queue) as a pure value: every
    /// operation takes "now" and says what the caller must do; ``WorkQueue`` only resumes waiters and sleeps.
    ///
    /// - `queue`: keys ready to be handed out, FIFO.
    /// - `dirty`: keys that need processing (queued, or re-added while processing), with the instant each
    ///   was added.
    /// - `processing`: keys handed out and not yet ``done(_:)``, with when. A key is never handed out twice
    ///   at once: one re-added while processing waits in `dirty` and is queued again by ``done(_:)``.
    /// - `waiting`: keys added with a delay, by the instant they become ready (the earliest wins).
    ///
    /// The instants feed client-go's work queue metrics: `dirty.count` is `workqueue_depth`, ``adds``
    /// is `workqueue_adds_total`, ``Processing/queued`` is one `workqueue_queue_duration_seconds`
    /// observation, and ``unfinishedWork(now:)`` gives `workqueue_unfinished_work_seconds` and
    /// `workqueue_longest_running_processor_seconds`.
    struct StateMachine {
        enum GetResult: Equatable {
            /// Process this key, then call ``done(_:)``.
            case item(Key)
            /// Nothing is ready: wait until the instant (when a delayed key becomes ready) or until an add.
            case wait(until: MonotonicInstant?)
            /// Shut down and empty: stop.
            case shutDown
        }

        private struct Delayed: Comparable {
            var readyAt: MonotonicInstant
            var sequence: UInt64
            var key: Key

            static func < (lhs: Delayed, rhs: Delayed) -> Bool {
                (lhs.readyAt, lhs.sequence) < (rhs.readyAt, rhs.sequence)
            }

            static func == (lhs: Delayed, rhs: Delayed) -> Bool {
                lhs.readyAt == rhs.readyAt && lhs.sequence == rhs.sequence
            }
        }

        /// A key being processed: when it was handed out, and how long it had waited since it was added.
        struct Processing: Equatable {
            var since: MonotonicInstant
            var queued: Duration
        }

        private(set) var queue: Deque<Key> = []
        private(set) var dirty: [Key: MonotonicInstant] = [:]
        private(set) var processing: [Key: Processing] = [:]
        /// How many times a key became pending (not counting duplicates of a pending key).
        private(set) var adds = 0
        private(set) var isShuttingDown = false
        private var waiting: [Key: (readyAt: MonotonicInstant, sequence: UInt64)] = [:]
        private var waitingHeap = Heap<Delayed>()
        private var sequence: UInt64 = 0
        private(set) var rateLimiter: RateLimiter<Key>

        init(rateLimiter: RateLimiterConfiguration = RateLimiterConfiguration()) {
            self.rateLimiter = RateLimiter(configuration: rateLimiter)
        }

        /// Keys ready to be handed out.
        var count: Int { queue.count }
        /// Keys waiting for their delay.
        var waitingCount: Int { waiting.count }
        /// The instant the next delayed key becomes ready (dropping superseded heap entries on the way).
        mutating func nextReadyAt() -> MonotonicInstant? {
            while let first = waitingHeap.min {
                if let current = waiting[first.key], current.sequence == first.sequence { return first.readyAt }
                _ = waitingHeap.popMin()
            }
            return nil
        }

        /// Marks `key` as needing processing. Returns `true` when it was queued (a waiter can take it);
        /// `false` when it was already pending, is being processed (queued again on ``done(_:)``) or the
        /// queue is shutting down.
        @discardableResult
        mutating func add(_ key: Key, now: MonotonicInstant) -> Bool {
            guard !isShuttingDown, dirty[key] == nil else { return false }
            dirty[key] = now
            adds += 1
            guard processing[key] == nil else { return false }
            queue.append(key)
            return true
        }

        /// The next key to process, moving delayed keys that are ready into the queue first.
        mutating func get(now: MonotonicInstant) -> GetResult {
            promote(now: now)
            if let key = queue.popFirst() {
                let added = dirty.removeValue(forKey: key) ?? now
                processing[key] = Processing(since: now, queued: added.duration(to: now))
                return .item(key)
            }
            if isShuttingDown { return .shutDown }
            return .wait(until: nextReadyAt())
        }

        /// Processing of `key` finished. Returns `true` when it was re-added meanwhile and is queued again.
        @discardableResult
        mutating func done(_ key: Key) -> Bool {
            processing[key] = nil
            guard dirty[key] != nil else { return false }
            queue.append(key)
            return true
        }

        /// Adds `key` once `delay` has passed (at once for a delay ≤ 0). A key already waiting keeps the
        /// earlier of the two instants. Returns `true` when the earliest ready instant moved earlier
        /// (sleeping waiters must wake and re-plan).
        @discardableResult
        mutating func add(_ key: Key, after delay: Duration, now: MonotonicInstant) -> Bool {
            guard !isShuttingDown else { return false }
            guard delay > .zero else {
                return add(key, now: now)
            }
            let readyAt = now.advanced(by: delay)
            if let existing = waiting[key], existing.readyAt <= readyAt { return false }
            let previousEarliest = nextReadyAt()
            sequence += 1
            waiting[key] = (readyAt, sequence)
            waitingHeap.insert(Delayed(readyAt: readyAt, sequence: sequence, key: key))
            return previousEarliest.map { readyAt < $0 } ?? true
        }

        /// Adds `key` after the rate limiter's delay (a failure); returns the delay.
        mutating func addRateLimited(_ key: Key, now: MonotonicInstant) -> (delay: Duration, earlier: Bool) {
            let delay = rateLimiter.when(key, now: now)
            return (delay, add(key, after: delay, now: now))
        }

        /// Clears `key`'s failure count (it succeeded, or will never be retried).
        mutating func forget(_ key: Key) {
            rateLimiter.forget(key)
        }

        func numRequeues(_ key: Key) -> Int { rateLimiter.numRequeues(key) }

        /// How long the keys being processed have been at it: in total, and the longest of them.
        func unfinishedWork(now: MonotonicInstant) -> (total: Duration, longest: Duration) {
            var total = Duration.zero
            var longest = Duration.zero
            for entry in processing.values {
                let elapsed = entry.since.duration(to: now)
                total += elapsed
                longest = max(longest, elapsed)
            }
            return (total, longest)
        }

        /// Stops accepting keys; keys already queued are still handed out, delayed ones are dropped.
        mutating func shutDown() {
            isShuttingDown = true
            waiting.removeAll()
            waitingHeap = Heap()
        }

        private mutating func promote(now: MonotonicInstant) {
            while let first = waitingHeap.min, first.readyAt <= now {
                _ = waitingHeap.popMin()
                guard let current = waiting[first.key], current.sequence == first.sequence else { continue }
                waiting[first.key] = nil
                add(first.key, now: first.readyAt)  // it has been waiting for a worker since then
            }
        }
    }
}
