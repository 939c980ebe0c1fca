public import Logging
public import Metrics
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
///
/// It records controller-runtime's `controller_runtime_*` metrics (see ``Instruments``) and, while it
/// runs, refreshes its queue's unfinished-work gauges every 500 ms.
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
    private let instruments: Instruments

    /// - Parameters:
    ///   - configuration: Name and worker count.
    ///   - queue: The queue event handlers add keys to.
    ///   - caches: Informers (or a factory) that must have synced before the first reconcile.
    ///   - logger: Reconcile errors are logged at `info`, successes at `debug`.
    ///   - metricsFactory: Where the controller's metrics go. Default: the process's `MetricsSystem.factory`.
    ///   - reconcile: Brings the world in line with the object named by the key; reads from the caches.
    public init(
        configuration: Configuration,
        queue: WorkQueue<Key>,
        waitingFor caches: [any CacheSyncing] = [],
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory,
        reconcile: @escaping @Sendable (Key) async throws -> ReconcileResult
    ) {
        self.configuration = configuration
        self.queue = queue
        self.caches = caches
        self.reconcile = reconcile
        self.instruments = Instruments(configuration: configuration, factory: metricsFactory)
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
                group.addTask { await self.refreshUnfinishedWork() }
                // The workers end on shutdown or cancellation; then the refresher is no longer needed.
                for _ in 0..<configuration.workers { await group.next() }
                group.cancelAll()
            }
        } onGracefulShutdown: {
            queue.shutDown()
        }
    }

    private func refreshUnfinishedWork() async {
        while !Task.isCancelled {
            queue.recordUnfinishedWork()
            do { try await Task.sleep(for: .milliseconds(500)) } catch { break }
        }
        queue.recordUnfinishedWork()
    }

    private func work() async {
        let clock = ContinuousClock()
        while let key = await queue.get() {
            statisticsBox.withLock { $0.active += 1 }
            instruments.activeWorkers.increment()
            let start = clock.now
            let outcome: Result<ReconcileResult, any Error>
            do {
                outcome = .success(try await reconcile(key))
            } catch {
                outcome = .failure(error)
            }
            let elapsed = start.duration(to: clock.now)
            instruments.activeWorkers.decrement()
            instruments.reconcileTime.record(duration: elapsed)
            switch outcome {
            case .success(.done):
                queue.forget(key)
                record(elapsed) { $0.success += 1 }
                instruments.success.increment()
            case .success(.requeue):
                queue.addRateLimited(key)
                record(elapsed) { $0.requeue += 1 }
                instruments.requeue.increment()
            case .success(.requeueAfter(let delay)):
                queue.forget(key)
                queue.addAfter(key, delay: delay)
                record(elapsed) { $0.requeueAfter += 1 }
                instruments.requeueAfter.increment()
            case .failure(let error as TerminalError):
                queue.forget(key)
                record(elapsed) { $0.terminalError += 1 }
                instruments.error.increment()
                instruments.errors.increment()
                instruments.terminalErrors.increment()
                logger.info(
                    "reconcile failed terminally; not retrying",
                    metadata: ["controller.key": "\(key)", "error": "\(error)"]
                )
            case .failure(let error):
                let delay = queue.addRateLimited(key)
                record(elapsed) { $0.error += 1 }
                instruments.error.increment()
                instruments.errors.increment()
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
