public import Logging
public import ServiceLifecycle
import Synchronization

/// What a reconcile asks for next (controller-runtime's `reconcile.Result`).
public enum ReconcileResult: Sendable, Hashable {
    /// Done: the key's failure count is forgotten.
    case done
    /// Try again after the rate-limited delay, as after an error but without logging one.
    case requeue
    /// Look again after this long (e.g. a certificate's renewal time): the failure count is forgotten.
    case requeueAfter(Duration)
}

/// An error that retrying cannot fix (an invalid object; its status says why): the key is forgotten
/// and not re-queued until the object changes again.
public struct TerminalError: Error, Sendable, CustomStringConvertible {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Runs reconcile workers over a ``WorkQueue`` (controller-runtime's `Controller`).
///
/// ``run()`` waits for the caches to sync, then starts ``Configuration/workers`` workers; each takes a
/// key, reconciles it and applies the outcome:
///
/// | outcome | queue |
/// |---|---|
/// | `.done` | `forget` |
/// | `.requeue` | `addRateLimited` |
/// | `.requeueAfter(d)` | `forget`, then `addAfter(d)` |
/// | throws ``TerminalError`` | `forget` (no retry) |
/// | throws anything else | `addRateLimited` |
///
/// On graceful shutdown the queue shuts down, keys already queued are still reconciled, and ``run()``
/// returns when the workers are done; on cancellation the workers stop at once.
public final class Controller<Key: Hashable & Sendable>: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// For logs and metrics (`controller` label).
        public var name: String
        /// Concurrent reconciles (of different keys). Default 1.
        public var workers: Int

        public init(name: String, workers: Int = 1) {
            self.name = name
            self.workers = max(1, workers)
        }
    }

    /// Reconcile counts by outcome (controller-runtime's `controller_runtime_reconcile_total{result}`:
    /// `success`, `error`, `requeue`, `requeue_after`), and the total reconcile time.
    public struct Statistics: Sendable, Hashable {
        public var success = 0
        public var error = 0
        public var requeue = 0
        public var requeueAfter = 0
        public var terminalError = 0
        /// The sum of reconcile durations (`controller_runtime_reconcile_time_seconds_sum`).
        public var reconcileTime: Duration = .zero
        /// Reconciles running now (`controller_runtime_active_workers`).
        public var active = 0
    }

    public let configuration: Configuration
    public let queue: WorkQueue<Key>
    private let caches: [any CacheSyncing]
    private let reconcile: @Sendable (Key) async throws -> ReconcileResult
    private let logger: Logger
    private let statisticsBox = Mutex(Statistics())

    /// - Parameters:
    ///   - configuration: Name and worker count.
    ///   - queue: The queue event handlers add keys to.
    ///   - caches: Informers (or a factory) that must have synced before the first reconcile.
    ///   - logger: Reconcile errors are logged at `info`, successes at `debug`.
    ///   - reconcile: Brings the world in line with the object named by the key; reads from the caches.
    public init(
        configuration: Configuration,
        queue: WorkQueue<Key>,
        waitingFor caches: [any CacheSyncing] = [],
        logger: Logger,
        reconcile: @escaping @Sendable (Key) async throws -> ReconcileResult
    ) {
        self.configuration = configuration
        self.queue = queue
        self.caches = caches
        self.reconcile = reconcile
        var logger = logger
        logger[metadataKey: "controller"] = "\(configuration.name)"
        self.logger = logger
    }

    public var statistics: Statistics { statisticsBox.withLock { $0 } }

    public func run() async throws {
        for cache in caches {
            guard await cache.waitForSync() else { return }
        }
        logger.debug("caches synced; starting workers", metadata: ["controller.workers": "\(configuration.workers)"])
        let queue = self.queue
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<configuration.workers {
                    group.addTask { await self.work() }
                }
            }
        } onGracefulShutdown: {
            queue.shutDown()
        }
    }

    private func work() async {
        let clock = ContinuousClock()
        while let key = await queue.get() {
            statisticsBox.withLock { $0.active += 1 }
            let start = clock.now
            let outcome: Result<ReconcileResult, any Error>
            do {
                outcome = .success(try await reconcile(key))
            } catch {
                outcome = .failure(error)
            }
            let elapsed = start.duration(to: clock.now)
            switch outcome {
            case .success(.done):
                queue.forget(key)
                record(elapsed) { $0.success += 1 }
            case .success(.requeue):
                queue.addRateLimited(key)
                record(elapsed) { $0.requeue += 1 }
            case .success(.requeueAfter(let delay)):
                queue.forget(key)
                queue.addAfter(key, delay: delay)
                record(elapsed) { $0.requeueAfter += 1 }
            case .failure(let error as TerminalError):
                queue.forget(key)
                record(elapsed) { $0.terminalError += 1 }
                logger.info(
                    "reconcile failed terminally; not retrying",
                    metadata: ["controller.key": "\(key)", "error": "\(error)"]
                )
            case .failure(let error):
                let delay = queue.addRateLimited(key)
                record(elapsed) { $0.error += 1 }
                logger.info(
                    "reconcile failed; retrying",
                    metadata: ["controller.key": "\(key)", "error": "\(error)", "controller.retryIn": "\(delay)"]
                )
            }
            queue.done(key)
        }
    }

    private func record(_ elapsed: Duration, _ update: (inout Statistics) -> Void) {
        statisticsBox.withLock { statistics in
            update(&statistics)
            statistics.active -= 1
            statistics.reconcileTime += elapsed
        }
    }
}
