import Foundation
import Kubernetes

/// client-go's `leaderelection.LeaderElector.tryAcquireOrRenew` as a pure value.
///
/// A lease held by someone else counts as valid for `leaseDurationSeconds` after this elector last
/// *observed it change* (by its own monotonic clock, as client-go does, so clock skew between
/// replicas does not matter). A leader that has not renewed within `renewDeadline` stops leading.
///
/// | observed lease | decision |
/// |---|---|
/// | none (404) | create it, holding it |
/// | held by another, observed change < leaseDuration ago | wait (and stop leading if we thought we led) |
/// | held by us, by nobody, or expired | update it with the read resourceVersion (409 = lost the race) |
struct LeaderElectionStateMachine {
    enum Decision: Equatable {
        case create(CoordinationV1.LeaseSpec)
        case update(CoordinationV1.LeaseSpec, resourceVersion: String?)
        /// Someone else holds a valid lease.
        case wait(holder: String)
    }

    let identity: String
    let leaseDuration: Duration
    let renewDeadline: Duration

    private(set) var isLeader = false
    /// When this elector last wrote the lease successfully.
    private(set) var lastRenew: MonotonicInstant?
    private(set) var observedSpec: CoordinationV1.LeaseSpec?
    private var observedTime: MonotonicInstant?
    private var observedResourceVersion: String?

    init(identity: String, leaseDuration: Duration, renewDeadline: Duration) {
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
    }

    /// Decides what to write after reading the lease (`nil`: it does not exist).
    mutating func decide(lease: CoordinationV1.Lease?, now: MonotonicInstant, wallClock: Date) -> Decision {
        let timestamp = MicroTime.string(from: wallClock)
        let seconds = Int32(max(1, leaseDuration.components.seconds))
        guard let lease else {
            return .create(
                CoordinationV1.LeaseSpec(
                    holderIdentity: identity,
                    leaseDurationSeconds: seconds,
                    acquireTime: timestamp,
                    renewTime: timestamp,
                    leaseTransitions: 0
                )
            )
        }
        let spec = lease.spec ?? CoordinationV1.LeaseSpec()
        if spec != observedSpec || observedTime == nil {
            observedSpec = spec
            observedTime = now
        }
        observedResourceVersion = lease.metadata.resourceVersion
        let holder = spec.holderIdentity ?? ""
        if !holder.isEmpty, holder != identity {
            let duration = Duration.seconds(Int64(spec.leaseDurationSeconds ?? Int32(seconds)))
            if let observedTime, now < observedTime.advanced(by: duration) {
                isLeader = false
                return .wait(holder: holder)
            }
        }
        var next = spec
        if holder == identity {
            next.acquireTime = spec.acquireTime ?? timestamp
            next.leaseTransitions = spec.leaseTransitions ?? 0
        } else {
            next.acquireTime = timestamp
            next.leaseTransitions = (spec.leaseTransitions ?? 0) + 1
        }
        next.holderIdentity = identity
        next.leaseDurationSeconds = seconds
        next.renewTime = timestamp
        return .update(next, resourceVersion: lease.metadata.resourceVersion)
    }

    /// The create or update succeeded: this elector leads until `now + renewDeadline` without another renewal.
    /// Returns `true` when it just became leader.
    mutating func written(_ lease: CoordinationV1.Lease, now: MonotonicInstant) -> Bool {
        observedSpec = lease.spec
        observedTime = now
        observedResourceVersion = lease.metadata.resourceVersion
        lastRenew = now
        let became = !isLeader
        isLeader = true
        return became
    }

    /// The write failed (409: someone else wrote first). A leader whose renewal conflicts has lost.
    /// Returns `true` when it just stopped leading.
    mutating func writeFailed(conflict: Bool, now: MonotonicInstant) -> Bool {
        if conflict, isLeader {
            isLeader = false
            return true
        }
        return checkDeadline(now: now)
    }

    /// Stops leading when no renewal succeeded within `renewDeadline`. Returns `true` when it just stopped.
    mutating func checkDeadline(now: MonotonicInstant) -> Bool {
        guard isLeader, let lastRenew, now >= lastRenew.advanced(by: renewDeadline) else { return false }
        isLeader = false
        return true
    }

    /// The instant leadership ends without a renewal.
    var renewDeadlineInstant: MonotonicInstant? {
        guard isLeader, let lastRenew else { return nil }
        return lastRenew.advanced(by: renewDeadline)
    }

    /// The lease update that releases it (client-go `release()`): no holder, 1 s duration, transitions kept.
    /// `nil` unless this elector leads. Stops leading.
    mutating func release(wallClock: Date) -> (CoordinationV1.LeaseSpec, resourceVersion: String?)? {
        guard isLeader, let observedSpec else { return nil }
        isLeader = false
        let timestamp = MicroTime.string(from: wallClock)
        var spec = observedSpec
        spec.holderIdentity = ""
        spec.leaseDurationSeconds = 1
        spec.acquireTime = timestamp
        spec.renewTime = timestamp
        return (spec, observedResourceVersion)
    }
}
