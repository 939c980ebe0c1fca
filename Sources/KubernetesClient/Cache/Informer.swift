public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Keeps a ``Store`` in step with one resource on the server and tells handlers what changed
/// (client-go's `SharedIndexInformer` with its `Reflector`).
///
/// It lists (paged, ``InformerConfiguration/pageSize`` at a time), then watches from the list's
/// resourceVersion with bookmarks and a randomised `timeoutSeconds`, remembering the resourceVersion of
/// every event. When a watch ends it re-watches from there; on 410 Gone it re-lists, and objects that
/// vanished meanwhile reach the handlers as tombstones (``Deletion/finalStateUnknown``); any other
/// failure reconnects after a jittered exponential backoff (see ``ReflectorStateMachine``). Every
/// ``InformerConfiguration/resyncPeriod`` all cached objects are re-delivered as updates.
///
/// Run it as a `Service` (``run()`` returns on cancellation or graceful shutdown), or get it from a
/// ``SharedInformerFactory`` so each resource has one watch. It counts watch restarts and relists in
/// `portcullis_informer_*` metrics (see ``Instruments``).
public final class Informer<Object: KubernetesObject>: Service, CacheSyncing, Sendable {
    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Hashable {
        /// Successful lists (the first one and every relist).
        public var lists = 0
        /// Watches opened.
        public var watches = 0
        /// 410 Gone answers (HTTP or ERROR event) that forced a relist.
        public var expired = 0
        /// Failed lists and watches (each followed by a backoff).
        public var failures = 0
        /// Events applied to the cache (bookmarks excluded).
        public var events = 0
        /// The resourceVersion of the last list, event or bookmark.
        public var lastResourceVersion: String?
    }

    public let resource: ResourceDescriptor
    /// The namespace watched; `nil` for all (or a cluster-scoped resource).
    public let namespace: String?
    public let configuration: InformerConfiguration
    /// The cache. Read it freely; only the informer writes it.
    public let store: Store<Object>

    private let resources: ResourceClient<Object>
    private let logger: Logger
    private let clock: ClockSource
    private let synced = Atomic<Bool>(false)
    private let handlers = Mutex<[InformerEventHandler<Object>]>([])
    private let statisticsBox = Mutex(Statistics())
    private let instruments: Instruments

    /// - Parameters:
    ///   - client: The client to list and watch with.
    ///   - resource: What to watch; objects decode as `Object`.
    ///   - namespace: One namespace, or `nil` for all.
    ///   - configuration: Selectors, paging, timeouts, resync, backoff.
    ///   - logger: Failures and relists are logged at `info`/`debug`.
    ///   - metricsFactory: Where the informer's metrics go. Default: the process's `MetricsSystem.factory`.
    public convenience init(
        client: KubernetesClient,
        resource: ResourceDescriptor,
        as type: Object.Type = Object.self,
        namespace: String? = nil,
        configuration: InformerConfiguration = InformerConfiguration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            client: client,
            resource: resource,
            namespace: namespace,
            configuration: configuration,
            logger: logger,
            clock: ContinuousClock(),
            metricsFactory: metricsFactory
        )
    }

    init<C: Clock>(
        client: KubernetesClient,
        resource: ResourceDescriptor,
        namespace: String?,
        configuration: InformerConfiguration,
        logger: Logger,
        clock: C,
        metricsFactory: any MetricsFactory
    ) where C.Duration == Duration {
        self.resource = resource
        self.namespace = resource.namespaced ? namespace : nil
        self.configuration = configuration
        self.store = Store()
        self.resources = ResourceClient(client: client, resource: resource)
        var logger = logger
        logger[metadataKey: "informer.resource"] = "\(resource.groupResource)"
        self.logger = logger
        self.clock = ClockSource(clock)
        self.instruments = Instruments(resource: resource, factory: metricsFactory)
    }

    /// True once the first list is in the cache (it stays true through reconnects and relists).
    public var hasSynced: Bool { synced.load(ordering: .acquiring) }

    public var statistics: Statistics { statisticsBox.withLock { $0 } }

    /// Registers a handler. One added after the cache synced first receives every cached object as an add.
    public func addEventHandler(_ handler: InformerEventHandler<Object>) {
        handlers.withLock { $0.append(handler) }
        if hasSynced {
            for object in store.list() { handler.onAdd(object) }
        }
    }

    /// Lists and watches until cancelled or gracefully shut down.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let period = self.configuration.resyncPeriod, period > .zero {
                    group.addTask { await self.resyncLoop(every: period) }
                }
                await self.reflect()
                group.cancelAll()
            }
        }
    }

    // MARK: - Reflector

    private func reflect() async {
        var machine = ReflectorStateMachine(
            backoff: configuration.backoff,
            minimumWatchTimeout: Int(configuration.minimumWatchTimeout.components.seconds),
            random: SystemRandomNumberGenerator()
        )
        var action = machine.start()
        while !Task.isCancelled {
            switch action {
            case .list:
                do {
                    let list = try await resources.listAll(
                        namespace: namespace,
                        options: ListOptions(
                            labelSelector: configuration.labelSelector,
                            fieldSelector: configuration.fieldSelector
                        ),
                        pageSize: configuration.pageSize
                    )
                    apply(list: list.items)
                    let relisted = statisticsBox.withLock {
                        $0.lists += 1
                        $0.lastResourceVersion = list.resourceVersion
                        return $0.lists > 1
                    }
                    if relisted { instruments.relists.increment() }
                    logger.debug(
                        "listed",
                        metadata: [
                            "informer.items": "\(list.items.count)",
                            "informer.resourceVersion": "\(list.resourceVersion)",
                        ]
                    )
                    action = machine.listSucceeded(resourceVersion: list.resourceVersion)
                } catch {
                    if Task.isCancelled { return }
                    statisticsBox.withLock { $0.failures += 1 }
                    logger.info("list failed; backing off", metadata: ["error": "\(error)"])
                    action = machine.listFailed()
                }
            case .watch(let resourceVersion, let timeoutSeconds):
                let start = clock.now()
                let outcome = await watchWithStallGuard(from: resourceVersion, timeoutSeconds: timeoutSeconds)
                if Task.isCancelled { return }
                if outcome.events > 0 { machine.observed(resourceVersion: outcome.lastResourceVersion) }
                if let failure = outcome.failure {
                    statisticsBox.withLock {
                        if failure == .expired { $0.expired += 1 } else { $0.failures += 1 }
                    }
                    switch failure {
                    case .expired: instruments.watchRestarted(.expired)
                    case .invalidResponse: instruments.watchRestarted(.invalidEvent)
                    case .other: instruments.watchRestarted(.error)
                    }
                    logger.log(
                        level: failure == .expired ? .debug : .info,
                        failure == .expired ? "watch expired; relisting" : "watch failed; backing off",
                        metadata: [
                            "error": "\(outcome.error ?? "")",
                            "informer.resourceVersion": "\(machine.lastResourceVersion ?? "")",
                        ]
                    )
                    action = machine.watchFailed(failure)
                } else {
                    instruments.watchRestarted(.closed)
                    action = machine.watchEnded(duration: start.duration(to: clock.now()), events: outcome.events)
                }
            case .sleep(let delay):
                do { try await clock.sleep(for: delay) } catch { return }
                action = machine.slept()
            }
        }
    }

    private struct WatchOutcome: Sendable {
        var lastResourceVersion: String?
        var events = 0
        var failure: ReflectorStateMachine<SystemRandomNumberGenerator>.Failure?
        var error: String?
    }

    /// Watches until the stream ends, racing a timer: a watch that outlives its timeout by
    /// ``InformerConfiguration/stallGrace`` is presumed dead and cancelled.
    private func watchWithStallGuard(from resourceVersion: String, timeoutSeconds: Int) async -> WatchOutcome {
        let limit = Duration.seconds(timeoutSeconds) + configuration.stallGrace
        return await withTaskGroup(of: WatchOutcome?.self) { group in
            group.addTask { await self.watch(from: resourceVersion, timeoutSeconds: timeoutSeconds) }
            group.addTask {
                do { try await self.clock.sleep(for: limit) } catch { return nil }
                return nil
            }
            var result: WatchOutcome?
            var stalled = false
            while let next = await group.next() {
                if let outcome = next {
                    result = outcome
                    group.cancelAll()
                } else if result == nil, !Task.isCancelled {
                    stalled = true
                    group.cancelAll()
                }
            }
            var outcome = result ?? WatchOutcome()
            if stalled {
                outcome.failure = .other
                outcome.error = "the watch outlived its timeout of \(timeoutSeconds) s; reconnecting"
            }
            return outcome
        }
    }

    private func watch(from resourceVersion: String, timeoutSeconds: Int) async -> WatchOutcome {
        var outcome = WatchOutcome()
        do {
            let stream = try await resources.watch(
                namespace: namespace,
                options: WatchOptions(
                    labelSelector: configuration.labelSelector,
                    fieldSelector: configuration.fieldSelector,
                    resourceVersion: resourceVersion,
                    allowWatchBookmarks: true,
                    timeoutSeconds: timeoutSeconds
                )
            )
            statisticsBox.withLock { $0.watches += 1 }
            for try await event in stream {
                switch event {
                case .added(let object), .modified(let object):
                    let old = store.upsert(object)
                    notify { handler in
                        if let old { handler.onUpdate(old, object) } else { handler.onAdd(object) }
                    }
                case .deleted(let object):
                    let key = object.objectKey
                    store.remove(key)
                    let deletion = Deletion(key: key, object: object, finalStateUnknown: false)
                    notify { $0.onDelete(deletion) }
                case .bookmark:
                    break
                case .error(let error):
                    outcome.failure = error.isExpired ? .expired : .other
                    outcome.error = "\(error)"
                    return outcome
                }
                if let version = event.resourceVersion, !version.isEmpty {
                    outcome.lastResourceVersion = version
                    statisticsBox.withLock {
                        $0.lastResourceVersion = version
                        if case .bookmark = event {} else { $0.events += 1 }
                    }
                }
                outcome.events += 1
            }
        } catch let error as KubernetesError {
            outcome.failure = error.isExpired ? .expired : (error.code == .invalidResponse ? .invalidResponse : .other)
            outcome.error = "\(error)"
        } catch {
            outcome.failure = .other
            outcome.error = "\(error)"
        }
        return outcome
    }

    /// Stores a fresh list and tells handlers what it changed; deletes missed while disconnected are tombstones.
    private func apply(list items: [Object]) {
        let replacement = store.replace(with: items)
        synced.store(true, ordering: .releasing)
        notify { handler in
            for object in replacement.added { handler.onAdd(object) }
            for (old, new) in replacement.updated { handler.onUpdate(old, new) }
            for object in replacement.removed {
                handler.onDelete(Deletion(key: object.objectKey, object: object, finalStateUnknown: true))
            }
        }
    }

    private func resyncLoop(every period: Duration) async {
        while true {
            do { try await clock.sleep(for: period) } catch { return }
            guard hasSynced else { continue }
            let objects = store.list()
            notify { handler in
                for object in objects { handler.onUpdate(object, object) }
            }
        }
    }

    private func notify(_ deliver: (InformerEventHandler<Object>) -> Void) {
        for handler in handlers.withLock({ $0 }) { deliver(handler) }
    }
}
