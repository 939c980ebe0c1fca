import Foundation
import Kubernetes
public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Leader election on a coordination.k8s.io/v1 Lease (client-go's `leaderelection` with a `LeaseLock`).
///
/// Every replica runs one; at most one holds the lease at a time. A follower tries to acquire it
/// every ``Configuration/retryPeriod`` (with jitter); the leader renews it as often. The API server's
/// resourceVersion check on the update is the whole mutual exclusion: a 409 means another replica
/// wrote first. The leader stops leading *at once* when no renewal succeeded within
/// ``Configuration/renewDeadline`` (an in-flight request does not keep it leading past that
/// instant), when a renewal conflicts, or when it sees another holder. On graceful shutdown or
/// cancellation a leader releases the lease (clears `holderIdentity`), so a follower takes over
/// within one retry period instead of waiting for the lease to expire.
///
/// Writers read ``isLeader`` (an atomic load and a clock read) before each write, or follow ``leadershipUpdates()``.
/// The gauge `portcullis_leader` is 1 while this replica leads, 0 otherwise.
public final class LeaderElector: Service, Sendable {
    public struct Configuration: Sendable, Hashable {
        /// The Lease's name.
        public var leaseName: String
        /// The Lease's namespace.
        public var namespace: String
        /// This replica's identity, written as `holderIdentity`; unique per process. Default: host name + random suffix.
        public var identity: String
        /// How long a lease stays valid after it was last seen to change. Default 15 s.
        public var leaseDuration: Duration
        /// How long a leader keeps leading without a successful renewal. Default 10 s. Must be < ``leaseDuration``.
        public var renewDeadline: Duration
        /// Time between acquire or renew attempts. Default 2 s. Followers add up to 1.2× jitter.
        public var retryPeriod: Duration
        /// Clear `holderIdentity` when stopping while leading. Default `true`.
        public var releaseOnShutdown: Bool

        public init(
            leaseName: String,
            namespace: String,
            identity: String = LeaderElector.defaultIdentity(),
            leaseDuration: Duration = .seconds(15),
            renewDeadline: Duration = .seconds(10),
            retryPeriod: Duration = .seconds(2),
            releaseOnShutdown: Bool = true
        ) {
            self.leaseName = leaseName
            self.namespace = namespace
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
            self.releaseOnShutdown = releaseOnShutdown
        }
    }

    /// `<host name>_<random>`, as client-go's examples build identities.
    public static func defaultIdentity() -> String {
        "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased().prefix(8))"
    }

    public let configuration: Configuration
    private let leases: ResourceClient<CoordinationV1.Lease>
    private let logger: Logger
    private let clock: ClockSource
    private let leader = Atomic<Bool>(false)
    /// Until when (nanoseconds on ``clock``) the last renewal lets this replica lead; `Int64.min` when it does not.
    private let leaderUntil = Atomic<Int64>(.min)
    private let machine: Mutex<LeaderElectionStateMachine>
    private let observers = Mutex<(next: UInt64, continuations: [UInt64: AsyncStream<Bool>.Continuation])>((0, [:]))
    private let holder = Mutex<String?>(nil)
    private let leaderGauge: Gauge

    /// - Parameters:
    ///   - client: The client the Lease is read and written with.
    ///   - configuration: The Lease, this replica's identity and the timings.
    ///   - logger: Gaining and losing leadership is logged at `info`.
    ///   - metricsFactory: Where `portcullis_leader` goes. Default: the process's `MetricsSystem.factory`.
    public convenience init(
        client: KubernetesClient,
        configuration: Configuration,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.init(
            client: client,
            configuration: configuration,
            logger: logger,
            clock: ContinuousClock(),
            metricsFactory: metricsFactory
        )
    }

    init<C: Clock>(
        client: KubernetesClient,
        configuration: Configuration,
        logger: Logger,
        clock: C,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) where C.Duration == Duration {
        self.configuration = configuration
        self.leases = client.resources(CoordinationV1.Lease.self)
        var logger = logger
        logger[metadataKey: "leaderelection.lease"] = "\(configuration.namespace)/\(configuration.leaseName)"
        logger[metadataKey: "leaderelection.identity"] = "\(configuration.identity)"
        self.logger = logger
        self.clock = ClockSource(clock)
        self.machine = Mutex(
            LeaderElectionStateMachine(
                identity: configuration.identity,
                leaseDuration: configuration.leaseDuration,
                renewDeadline: configuration.renewDeadline
            )
        )
        self.leaderGauge = Gauge(label: "portcullis_leader", factory: metricsFactory)
        leaderGauge.record(0)
    }

    /// Whether this replica leads now. Cheap (an atomic load and a clock read): check it right before
    /// every leader-only write. It turns false at the renew deadline by the clock itself, even if the
    /// elector's task has not run since (a stalled process never believes it leads for too long).
    public var isLeader: Bool {
        let until = leaderUntil.load(ordering: .acquiring)
        return until != .min && Self.nanoseconds(clock.now()) < until
    }

    private static func nanoseconds(_ instant: MonotonicInstant) -> Int64 {
        let (seconds, attoseconds) = instant.offset.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// The holder last observed in the lease (this replica's identity while it leads).
    public var currentHolder: String? { holder.withLock { $0 } }

    /// Leadership changes: the current value first, then every change. The stream keeps only the newest
    /// value for a slow reader and finishes when ``run()`` returns.
    public func leadershipUpdates() -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let id = observers.withLock { observers -> UInt64 in
            observers.next += 1
            observers.continuations[observers.next] = continuation
            return observers.next
        }
        continuation.yield(isLeader)
        continuation.onTermination = { [weak self] _ in
            self?.observers.withLock { _ = $0.continuations.removeValue(forKey: id) }
        }
        return stream
    }

    /// Campaigns and renews until cancelled or gracefully shut down, then releases the lease if it leads.
    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.elect() }
        let release = machine.withLock { $0.release(wallClock: Date()) }
        setLeader(false)
        if configuration.releaseOnShutdown, let (spec, resourceVersion) = release {
            // The release must go out even when this task is cancelled: run it outside its cancellation.
            await Task { await self.release(spec, resourceVersion: resourceVersion) }.value
        }
        let continuations = observers.withLock { observers in
            defer { observers.continuations.removeAll() }
            return Array(observers.continuations.values)
        }
        for continuation in continuations { continuation.finish() }
    }

    private func elect() async {
        while !Task.isCancelled {
            await attempt()
            if Task.isCancelled { return }
            let now = clock.now()
            let (leading, deadline) = machine.withLock { ($0.isLeader, $0.renewDeadlineInstant) }
            var delay = configuration.retryPeriod
            if !leading {
                delay = delay * (1 + Double.random(in: 0..<1.2))
            }
            if let deadline { delay = min(delay, max(.zero, now.duration(to: deadline))) }
            do { try await clock.sleep(for: delay) } catch { return }
            if machine.withLock({ $0.checkDeadline(now: clock.now()) }) {
                lost("no renewal within the renew deadline")
            }
        }
    }

    /// One acquire-or-renew; while leading, raced against the renew deadline so a hung request
    /// cannot keep this replica leading past it.
    private func attempt() async {
        guard let deadline = machine.withLock({ $0.renewDeadlineInstant }) else {
            await tryAcquireOrRenew()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.tryAcquireOrRenew() }
            group.addTask {
                do { try await self.clock.sleepUntil(deadline) } catch { return }
                if self.machine.withLock({ $0.checkDeadline(now: self.clock.now()) }) {
                    self.lost("no renewal within the renew deadline")
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func tryAcquireOrRenew() async {
        let lease: CoordinationV1.Lease?
        do {
            lease = try await leases.get(configuration.leaseName, namespace: configuration.namespace)
        } catch let error as KubernetesError where error.code == .notFound {
            lease = nil
        } catch {
            if Task.isCancelled { return }
            logger.debug("reading the lease failed", metadata: ["error": "\(error)"])
            if machine.withLock({ $0.writeFailed(conflict: false, now: clock.now()) }) {
                lost("no renewal within the renew deadline")
            }
            return
        }
        let decision = machine.withLock { $0.decide(lease: lease, now: clock.now(), wallClock: Date()) }
        do {
            let written: CoordinationV1.Lease
            switch decision {
            case .wait(let current):
                holder.withLock { $0 = current }
                if leader.load(ordering: .acquiring) { lost("the lease is held by \(current)") }
                return
            case .create(let spec):
                let object = CoordinationV1.Lease(
                    metadata: .init(name: configuration.leaseName, namespace: configuration.namespace),
                    spec: spec
                )
                written = try await leases.create(object)
            case .update(let spec, _):
                guard var object = lease else { return }
                object.spec = spec
                written = try await leases.update(object)
            }
            if Task.isCancelled && !leader.load(ordering: .acquiring) {
                // The deadline racer gave up on this attempt; do not start leading from a stale write.
                return
            }
            holder.withLock { $0 = configuration.identity }
            let (became, deadline) = machine.withLock { machine in
                (machine.written(written, now: clock.now()), machine.renewDeadlineInstant)
            }
            if let deadline { leaderUntil.store(Self.nanoseconds(deadline), ordering: .releasing) }
            if became {
                logger.info("became leader")
                setLeader(true)
            }
        } catch {
            let conflict =
                (error as? KubernetesError).map { $0.code == .conflict || $0.code == .alreadyExists } ?? false
            logger.debug("writing the lease failed", metadata: ["error": "\(error)"])
            if machine.withLock({ $0.writeFailed(conflict: conflict, now: clock.now()) }) {
                lost(conflict ? "another replica updated the lease" : "no renewal within the renew deadline")
            }
        }
    }

    private func release(_ spec: CoordinationV1.LeaseSpec, resourceVersion: String?) async {
        var lease = CoordinationV1.Lease(
            metadata: .init(name: configuration.leaseName, namespace: configuration.namespace),
            spec: spec
        )
        lease.metadata.resourceVersion = resourceVersion
        do {
            _ = try await leases.update(lease)
            holder.withLock { $0 = nil }
            logger.info("released the lease")
        } catch {
            logger.info("releasing the lease failed; it expires on its own", metadata: ["error": "\(error)"])
        }
    }

    private func lost(_ reason: String) {
        logger.info("stopped leading", metadata: ["leaderelection.reason": "\(reason)"])
        setLeader(false)
    }

    private func setLeader(_ value: Bool) {
        if !value { leaderUntil.store(.min, ordering: .releasing) }
        let previous = leader.exchange(value, ordering: .acquiringAndReleasing)
        guard previous != value else { return }
        let continuations = observers.withLock { observers in
            // The value now, not `value`: under the lock, the last of two racing changes records last.
            leaderGauge.record(leader.load(ordering: .acquiring) ? 1 : 0)
            return Array(observers.continuations.values)
        }
        for continuation in continuations { continuation.yield(value) }
    }
}
