import IPAddresses
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Testing

@testable import Reconcilers

/// Which Tunnels keep their networks: the cluster networks, and the oldest Tunnel across namespaces.
@Suite struct TunnelNetworkClaimsTests {
    static func tunnel(
        _ namespace: String,
        _ name: String,
        created: String = "2026-01-01T00:00:00Z",
        pool: String = "10.44.0.0/24",
        allowedIPs: [String] = ["192.168.10.0/24"]
    ) -> Tunnel {
        var metadata = ObjectMeta(name: name, namespace: namespace)
        metadata.creationTimestamp = created
        return Tunnel(metadata: metadata, spec: TunnelSpec(wireGuard: WireGuardTunnel(addressPool: pool, endpoint: "gw.example.com:51820", allowedIPs: allowedIPs)))
    }

    static func refusals(_ tunnels: [Tunnel], clusterNetworks: [String] = []) -> [String: String] {
        let claims = TunnelNetworkClaims(tunnels: tunnels, clusterNetworks: clusterNetworks.compactMap(IPNetwork.init))
        return Dictionary(uniqueKeysWithValues: claims.refusals.map { ("\($0.key)", "\($0.value.reason): \($0.value.message)") })
    }

    @Test func aClusterNetworkIsNotAllowedNamingTheFieldAndTheNetwork() {
        let refusals = Self.refusals(
            [Self.tunnel("shop", "datacenter", pool: "10.96.200.0/24", allowedIPs: ["192.168.10.0/24", "10.0.5.0/24"])],
            clusterNetworks: ["10.96.0.0/12", "10.0.0.0/16"]
        )
        #expect(
            refusals == [
                "shop/datacenter":
                    "NetworkNotAllowed: spec.wireGuard.addressPool: 10.96.200.0/24 overlaps the cluster network 10.96.0.0/12 (--cluster-network); spec.wireGuard.allowedIPs[1]: 10.0.5.0/24 overlaps the cluster network 10.0.0.0/16 (--cluster-network); a Tunnel may not route the cluster's pod or Service networks"
            ]
        )
    }

    @Test func theOlderTunnelKeepsNetworksAnotherNamespaceOverlaps() {
        let older = Self.tunnel("shop", "datacenter", created: "2026-01-01T00:00:00Z", allowedIPs: ["192.168.0.0/16"])
        let newer = Self.tunnel("attacker", "capture", created: "2026-02-01T00:00:00Z", pool: "10.45.0.0/24", allowedIPs: ["192.168.10.20/32", "172.16.0.0/24"])
        let expected = [
            "attacker/capture":
                "NetworkConflict: spec.wireGuard.allowedIPs[0]: 192.168.10.20/32 overlaps 192.168.0.0/16 (spec.wireGuard.allowedIPs[0]) of Tunnel datacenter in namespace shop; the older Tunnel keeps its networks: choose others"
        ]
        #expect(Self.refusals([older, newer]) == expected)
        #expect(Self.refusals([newer, older]) == expected, "the order of the list does not matter")

        // On the same creation time, namespace/name decides.
        let twin = Self.tunnel("aaa", "first", created: "2026-01-01T00:00:00Z", pool: "10.46.0.0/24", allowedIPs: ["192.168.10.0/24"])
        #expect(Self.refusals([older, twin]).keys.sorted() == ["shop/datacenter"])
    }

    @Test func sharingAnAddressPoolAcrossNamespacesIsAConflictWithinOneItIsNot() {
        let first = Self.tunnel("shop", "a", created: "2026-01-01T00:00:00Z", allowedIPs: ["192.168.1.0/24"])
        let sameNamespace = Self.tunnel("shop", "b", created: "2026-01-02T00:00:00Z", allowedIPs: ["192.168.1.0/24"])
        let otherNamespace = Self.tunnel("bank", "c", created: "2026-01-03T00:00:00Z", allowedIPs: ["192.168.3.0/24"])
        let refusals = Self.refusals([first, sameNamespace, otherNamespace])
        #expect(refusals.keys.sorted() == ["bank/c"])
        #expect(refusals["bank/c"]?.contains("spec.wireGuard.addressPool: 10.44.0.0/24 overlaps 10.44.0.0/24 (spec.wireGuard.addressPool) of Tunnel a in namespace shop") == true)
    }

    @Test func aTunnelThatClaimsNothingRefusesNoOne() {
        // The oldest is itself refused (a cluster network), invalid, or being deleted: the next one keeps the network.
        let refused = Self.tunnel("shop", "old", created: "2026-01-01T00:00:00Z", allowedIPs: ["10.96.0.0/16", "192.168.10.0/24"])
        let newer = Self.tunnel("bank", "new", created: "2026-02-01T00:00:00Z", pool: "10.45.0.0/24", allowedIPs: ["192.168.10.0/24"])
        #expect(Self.refusals([refused, newer], clusterNetworks: ["10.96.0.0/12"]).keys.sorted() == ["shop/old"])

        let invalid = Self.tunnel("shop", "old", created: "2026-01-01T00:00:00Z", allowedIPs: ["192.168.10.0/24", "0.0.0.0/0"])
        #expect(Self.refusals([invalid, newer]).isEmpty)

        var deleting = Self.tunnel("shop", "old", created: "2026-01-01T00:00:00Z", allowedIPs: ["192.168.10.0/24"])
        deleting.metadata.deletionTimestamp = "2026-03-01T00:00:00Z"
        #expect(Self.refusals([deleting, newer]).isEmpty)
    }

    @Test func overlappingTunnelsOfOtherNamespacesAreTheOnesToRecheck() {
        let tunnel = Self.tunnel("shop", "a", allowedIPs: ["192.168.0.0/16"])
        let tunnels = [
            tunnel,
            Self.tunnel("shop", "b", pool: "10.45.0.0/24", allowedIPs: ["192.168.1.0/24"]),
            Self.tunnel("bank", "c", pool: "10.46.0.0/24", allowedIPs: ["192.168.2.0/24"]),
            Self.tunnel("bank", "d", pool: "10.47.0.0/24", allowedIPs: ["172.16.0.0/24"]),
        ]
        #expect(TunnelNetworkClaims.overlapping(tunnel, in: tunnels).map(\.description) == ["bank/c"])
    }
}
