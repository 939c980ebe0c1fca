import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import Logging
import Resilience
import Synchronization

/// How far each gateway replica has got: every replica keeps a Lease of its own in the controller's
/// namespace, renewed every few seconds, whose annotation says up to which Route resourceVersion its
/// gateway serves. The leader counts, per Route, the live replicas that serve its current generation
/// (Route status `replicas`, and `Ready` only when all of them do).
///
/// A Route's generation counts as served by a replica once the replica's watermark reaches the
/// resourceVersion at which the leader first saw that generation: informers deliver events in
/// resourceVersion order, so a replica whose cache holds an object of a later resourceVersion has
/// applied every earlier change. (This reads resourceVersions as the integers both etcd and the
/// embedded API server make them; where they are not, every live replica counts as serving.)
///
/// The Lease also says where the replica's admin port is reached (``peerAddressAnnotation``), so the
/// replicas find each other to share circuit-breaker transitions (``BreakerExchange``), and which of the
/// replica's circuit breakers are not Closed (``breakersAnnotation``, a ``ReplicaBreakerReport``), so the
/// leader can count them in each Route's status.
final class ReplicaReports: Sendable {
    static let label = "portcullis.io/gateway-replica"
    static let watermarkAnnotation = "portcullis.io/applied-routes-resource-version"
    /// `host:port` of the replica's admin port, for peer replicas.
    static let peerAddressAnnotation = "portcullis.io/peer-address"
    /// A value new to each run of the process, so peers tell a restarted replica (same identity and address,
    /// its Lease kept) from one that ran on, and catch it up (``BreakerPeer/incarnation``).
    static let incarnationAnnotation = "portcullis.io/peer-incarnation"
    /// The replica's breakers that are not Closed (``ReplicaBreakerReport``).
    static let breakersAnnotation = "portcullis.io/circuit-breakers"
    /// A replica whose Lease was not renewed for this long no longer counts.
    static let leaseDuration: Int32 = 15
    static let renewInterval = Duration.seconds(5)

    let identity: String
    let namespace: String
    /// Where peers reach this replica's admin port; `nil` when it shares no breaker state.
    let peerAddress: String?
    /// This run of the process, as ``incarnationAnnotation`` says.
    let incarnation = UUID().uuidString.lowercased()
    /// The replica's breakers that are not Closed; read once a second, so it must not take the locks requests take.
    private let breakers: @Sendable () -> [RouteKey: CircuitBreakerState]
    private let logger: Logger
    private let watermark = Atomic<Int64>(-1)

    init(
        identity: String,
        namespace: String,
        peerAddress: String? = nil,
        breakers: @escaping @Sendable () -> [RouteKey: CircuitBreakerState] = { [:] },
        logger: Logger
    ) {
        self.identity = identity
        self.namespace = namespace
        self.peerAddress = peerAddress
        self.breakers = breakers
        self.logger = logger
    }

    /// The Lease's name: the identity made a valid object name.
    var leaseName: String {
        let cleaned = identity.lowercased().map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }
        return String(("portcullis-gateway-" + String(cleaned)).prefix(253))
    }

    /// This replica's gateway now serves every Route change up to `resourceVersion`.
    func applied(upTo resourceVersion: Int64) {
        watermark.store(resourceVersion, ordering: .relaxed)
    }

    /// Writes this replica's Lease when the watermark moves or a breaker changes state, looking once a
    /// second (so at most one write a second, however often a breaker flaps), and at least every
    /// ``renewInterval``.
    ///
    /// (It looks every second rather than waiting to be woken: reading the watermark and every breaker's
    /// state costs an atomic load each, a fraction of a millisecond at 10,000 Routes.)
    func run(client: KubernetesClient) async throws {
        let leases = client.resources(CoordinationV1.Lease.self)
        var written: Int64 = -2
        var writtenBreakers: [RouteKey: CircuitBreakerState]?
        var report = ReplicaBreakerReport()
        var lastWrite = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            let current = watermark.load(ordering: .relaxed)
            let states = breakers()
            if current >= 0 && (current != written || states != writtenBreakers || ContinuousClock.now - lastWrite >= Self.renewInterval) {
                if states != writtenBreakers {
                    report = ReplicaBreakerReport(states: states)
                    if report.truncatedAfter != nil {
                        logger.warning(
                            "this replica's Lease lists only some of its breakers that are not Closed",
                            metadata: ["notClosed": "\(states.count)", "listed": "\(report.open.count + report.halfOpen.count)", "annotation": "\(Self.breakersAnnotation)"]
                        )
                    }
                }
                do {
                    try await write(current, breakers: report, leases: leases)
                    written = current
                    writtenBreakers = states
                    lastWrite = .now
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("cannot write this replica's Lease", metadata: ["lease": "\(namespace)/\(leaseName)", "error": "\(error)"])
                }
            }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// Deletes this replica's Lease as it shuts down, so Routes stop counting it at once rather than
    /// when the Lease would expire. Best effort: the Lease expires anyway.
    func withdraw(client: KubernetesClient) async {
        do {
            try await client.resources(CoordinationV1.Lease.self).delete(leaseName, namespace: namespace)
        } catch {
            logger.debug("this replica's Lease was not deleted", metadata: ["error": "\(error)"])
        }
    }

    private func write(_ resourceVersion: Int64, breakers: ReplicaBreakerReport, leases: ResourceClient<CoordinationV1.Lease>) async throws {
        let now = MicroTime.string(from: Date())
        let spec = CoordinationV1.LeaseSpec(holderIdentity: identity, leaseDurationSeconds: Self.leaseDuration, renewTime: now)
        var annotations = [Self.watermarkAnnotation: String(resourceVersion), Self.breakersAnnotation: breakers.annotation]
        if let peerAddress {
            annotations[Self.peerAddressAnnotation] = peerAddress
            annotations[Self.incarnationAnnotation] = incarnation
        }
        do {
            var lease = try await leases.get(leaseName, namespace: namespace)
            lease.spec = spec
            lease.metadata.annotations = (lease.metadata.annotations ?? [:]).merging(annotations) { _, new in new }
            _ = try await leases.update(lease)
        } catch let error as KubernetesError where error.code == .notFound {
            let metadata = ObjectMeta(name: leaseName, namespace: namespace, labels: [Self.label: "true"], annotations: annotations)
            _ = try await leases.create(CoordinationV1.Lease(metadata: metadata, spec: spec))
        }
    }

    /// Leases of replicas gone for an hour (killed before they could delete their own): the leader removes them.
    static func abandoned(_ leases: [CoordinationV1.Lease], now: Date) -> [CoordinationV1.Lease] {
        leases.filter { lease in
            guard lease.metadata.labels?[label] != nil, let renewed = lease.spec?.renewTime.flatMap(MicroTime.date(from:)) else { return false }
            return now.timeIntervalSince(renewed) > 3600
        }
    }

    /// The live replicas other than `identity` that say where their admin port is. A Lease whose address
    /// cannot be used is left out and logged.
    static func peers(_ leases: [CoordinationV1.Lease], now: Date, excluding identity: String, logger: Logger) -> [BreakerPeer] {
        var peers: [BreakerPeer] = []
        for lease in leases where lease.metadata.labels?[label] != nil {
            guard let holder = lease.spec?.holderIdentity, holder != identity,
                let address = lease.metadata.annotations?[peerAddressAnnotation],
                let renewed = lease.spec?.renewTime.flatMap(MicroTime.date(from:)),
                renewed.addingTimeInterval(TimeInterval(lease.spec?.leaseDurationSeconds ?? leaseDuration)) > now
            else { continue }
            do {
                peers.append(try BreakerPeer(identity: holder, address: address, incarnation: lease.metadata.annotations?[incarnationAnnotation]))
            } catch {
                logger.warning(
                    "a replica's Lease has an unusable peer address; breaker transitions are not sent to it",
                    metadata: ["lease": "\(lease.metadata.namespace ?? "")/\(lease.metadata.name ?? "")", "annotation": "\(peerAddressAnnotation)", "error": "\(error)"]
                )
            }
        }
        return peers
    }

    /// The breaker reports of the live replicas other than `identity` whose Lease has one, by replica. A
    /// report that cannot be read is left out and logged. `cache` keeps each replica's last annotation and
    /// what it read, so an unchanged one is not read again.
    static func breakerReports(
        _ leases: [CoordinationV1.Lease],
        now: Date,
        excluding identity: String,
        cache: inout [String: (annotation: String, report: ReplicaBreakerReport?)],
        logger: Logger
    ) -> [String: ReplicaBreakerReport] {
        var reports: [String: ReplicaBreakerReport] = [:]
        var seen: Set<String> = []
        for lease in leases where lease.metadata.labels?[label] != nil {
            guard let holder = lease.spec?.holderIdentity, holder != identity,
                let annotation = lease.metadata.annotations?[breakersAnnotation],
                let renewed = lease.spec?.renewTime.flatMap(MicroTime.date(from:)),
                renewed.addingTimeInterval(TimeInterval(lease.spec?.leaseDurationSeconds ?? leaseDuration)) > now
            else { continue }
            seen.insert(holder)
            if let cached = cache[holder], cached.annotation == annotation {
                if let report = cached.report { reports[holder] = report }
                continue
            }
            do {
                let report = try ReplicaBreakerReport(annotation: annotation)
                cache[holder] = (annotation, report)
                reports[holder] = report
            } catch {
                cache[holder] = (annotation, nil)
                logger.warning(
                    "a replica's Lease has an unreadable breaker report; its breakers are not counted",
                    metadata: ["lease": "\(lease.metadata.namespace ?? "")/\(lease.metadata.name ?? "")", "annotation": "\(breakersAnnotation)", "error": "\(error)"]
                )
            }
        }
        cache = cache.filter { seen.contains($0.key) }
        return reports
    }

    /// The live replicas and their watermarks (`nil` when not an integer), and when the first of them expires.
    static func live(_ leases: [CoordinationV1.Lease], now: Date) -> (replicas: [String: Int64?], nextExpiry: Date?) {
        var replicas: [String: Int64?] = [:]
        var nextExpiry: Date?
        for lease in leases where lease.metadata.labels?[label] != nil {
            guard let identity = lease.spec?.holderIdentity, let renewed = lease.spec?.renewTime.flatMap(MicroTime.date(from:)) else { continue }
            let expiry = renewed.addingTimeInterval(TimeInterval(lease.spec?.leaseDurationSeconds ?? leaseDuration))
            guard expiry > now else { continue }
            replicas[identity] = lease.metadata.annotations?[watermarkAnnotation].flatMap { Int64($0) }
            nextExpiry = nextExpiry.map { min($0, expiry) } ?? expiry
        }
        return (replicas, nextExpiry)
    }
}
