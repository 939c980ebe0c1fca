import IPAddresses
import Kubernetes
import KubernetesClient
import PortcullisAPI

/// Which Tunnels may have their networks (`addressPool` and `allowedIPs`), by the rules of docs/security.md §7
/// that need the admin's flags or other Tunnels, which the semantic validation cannot see:
///
/// | rule | reason |
/// |---|---|
/// | no network overlaps a cluster network (`--cluster-network`) | `NetworkNotAllowed` |
/// | no network overlaps one of another namespace's Tunnel that comes first (older, then by namespace/name) | `NetworkConflict` |
///
/// The first Tunnel keeps its networks whatever Tunnels come later. A Tunnel that is invalid, refused or
/// being deleted claims nothing. Tunnels of one namespace may overlap: each routes in a table of its own,
/// for the Routes that name it, so neither takes the other's traffic.
struct TunnelNetworkClaims {
    /// A refused Tunnel's problem, by Tunnel.
    private(set) var refusals: [ObjectKey: TunnelProblem] = [:]

    init(tunnels: [Tunnel], clusterNetworks: [IPNetwork]) {
        var claimed: [(tunnel: Tunnel, networks: [FieldNetwork])] = []
        let candidates = tunnels.filter { $0.metadata.deletionTimestamp == nil && $0.validate().isEmpty }
        for tunnel in candidates.sorted(by: TunnelController.precedes) {
            let networks = Self.networks(of: tunnel)
            let disallowed = networks.compactMap { own in
                clusterNetworks.first(where: own.network.overlaps).map {
                    "\(own.field): \(own.network) overlaps the cluster network \($0) (--cluster-network)"
                }
            }
            if !disallowed.isEmpty {
                refusals[tunnel.objectKey] = TunnelProblem(
                    reason: "NetworkNotAllowed",
                    message: disallowed.joined(separator: "; ") + "; a Tunnel may not route the cluster's pod or Service networks"
                )
                continue
            }
            var conflicts: [String] = []
            for winner in claimed where winner.tunnel.metadata.namespace != tunnel.metadata.namespace {
                for own in networks {
                    for theirs in winner.networks where own.network.overlaps(theirs.network) {
                        let owner = "Tunnel \(winner.tunnel.metadata.name ?? "") in namespace \(winner.tunnel.metadata.namespace ?? "default")"
                        conflicts.append("\(own.field): \(own.network) overlaps \(theirs.network) (\(theirs.field)) of \(owner)")
                    }
                }
            }
            if !conflicts.isEmpty {
                refusals[tunnel.objectKey] = TunnelProblem(
                    reason: "NetworkConflict",
                    message: conflicts.joined(separator: "; ") + "; the older Tunnel keeps its networks: choose others"
                )
                continue
            }
            claimed.append((tunnel, networks))
        }
    }

    /// The Tunnels of other namespaces whose networks overlap `tunnel`'s: whether they are refused may
    /// change when it does.
    static func overlapping(_ tunnel: Tunnel, in tunnels: [Tunnel]) -> [ObjectKey] {
        let networks = Self.networks(of: tunnel).map(\.network)
        return tunnels.filter { other in
            other.metadata.namespace != tunnel.metadata.namespace
                && Self.networks(of: other).contains { theirs in networks.contains(where: theirs.network.overlaps) }
        }.map(\.objectKey)
    }

    /// A network of a Tunnel and the field it is written in.
    struct FieldNetwork {
        var field: String
        var network: IPNetwork
    }

    /// The Tunnel's address pool and allowed IPs that parse.
    static func networks(of tunnel: Tunnel) -> [FieldNetwork] {
        let spec = tunnel.spec.wireGuard
        var networks: [FieldNetwork] = []
        if let pool = IPNetwork(spec.addressPool) { networks.append(FieldNetwork(field: "spec.wireGuard.addressPool", network: pool)) }
        for (index, text) in spec.allowedIPs.enumerated() {
            guard let network = IPNetwork(text) else { continue }
            networks.append(FieldNetwork(field: "spec.wireGuard.allowedIPs[\(index)]", network: network))
        }
        return networks
    }
}
