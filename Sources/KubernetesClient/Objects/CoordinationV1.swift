public import Kubernetes

/// coordination.k8s.io/v1: the Lease that leader election holds.
public enum CoordinationV1 {
    public struct Lease: KubernetesResource, Hashable {
        public static var resource: ResourceDescriptor { .leases }

        public var apiVersion: String? = "coordination.k8s.io/v1"
        public var kind: String? = "Lease"
        public var metadata: ObjectMeta
        public var spec: LeaseSpec?

        public init(metadata: ObjectMeta, spec: LeaseSpec? = nil) {
            self.metadata = metadata
            self.spec = spec
        }
    }

    /// Who holds the lease and until when. Times are MicroTime (`2025-01-01T12:00:00.000000Z`, see ``MicroTime``).
    public struct LeaseSpec: Sendable, Hashable, Codable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int32?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int32?

        public init(
            holderIdentity: String? = nil,
            leaseDurationSeconds: Int32? = nil,
            acquireTime: String? = nil,
            renewTime: String? = nil,
            leaseTransitions: Int32? = nil
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }
}
