import Foundation
import IPAddresses
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Reconcilers
import Synchronization
import Testing
import Tunnels

extension TunnelIntegrationTests {
    /// The controller's logic against the embedded API server, with an interface manager that only remembers
    /// (the end-to-end test in TunnelEndToEndTests uses real WireGuard).
    @Suite struct TunnelControllerTests {
        static let fast = TunnelController.Configuration(statusInterval: .milliseconds(200))

        static func tunnelYAML(
            _ name: String,
            namespace: String = "default",
            pool: String = "10.44.0.0/24",
            allowedIPs: String = "192.168.10.0/24",
            extra: String = "",
            annotations: String = ""
        ) -> String {
            """
            apiVersion: portcullis.io/v1alpha1
            kind: Tunnel
            metadata: {name: \(name), namespace: \(namespace)\(annotations.isEmpty ? "" : ", annotations: {\(annotations)}")}
            spec:
              wireGuard:
                addressPool: \(pool)
                endpoint: gw.example.com:51820
                allowedIPs: [\(allowedIPs)]
            \(extra)
            """
        }

        /// Runs a controller with `interfaces` against a fresh cluster for the body.
        static func withController(
            _ interfaces: FakeInterfaces = FakeInterfaces(),
            leading: Bool = true,
            tenancy: TenancyPolicy = TenancyPolicy(),
            _ body: (TestCluster, FakeInterfaces, TunnelController) async throws -> Void
        ) async throws {
            try await TestCluster.with { cluster in
                let controller = TunnelController(
                    client: cluster.client,
                    interfaces: interfaces,
                    tenancy: tenancy,
                    isLeader: { leading },
                    configuration: fast,
                    logger: TestCluster.quiet
                )
                let running = cluster.run(controller)
                defer { running.cancel() }
                try await body(cluster, interfaces, controller)
            }
        }

        static func ready(_ cluster: TestCluster, _ name: String, namespace: String = "default") async throws -> Tunnel {
            try await eventually("Tunnel \(name) Ready") {
                let tunnel = try await cluster.tunnel(name, namespace: namespace)
                return tunnel?.condition("Ready")?.status == .true ? tunnel : nil
            }
        }

        @Test func keysAddressesAndAConnectorConfigOwnedByTheTunnel() async throws {
            try await Self.withController { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("datacenter"))
                let tunnel = try await Self.ready(cluster, "datacenter")
                let status = try #require(tunnel.status)
                #expect(status.address == "10.44.0.1/32")
                #expect(status.peerAddress == "10.44.0.2/32")
                #expect(tunnel.metadata.finalizers == [TunnelController.finalizer])
                #expect(tunnel.condition("Connected")?.status == .false)
                #expect(tunnel.condition("Connected")?.reason == "NoHandshake")
                #expect(tunnel.condition("Ready")?.message.contains("UDP port 51820") == true)

                let keys = try #require(try await cluster.secret("datacenter-wireguard"))
                #expect(keys.metadata.ownerReferences?.first?.uid == tunnel.metadata.uid)
                #expect(keys.metadata.ownerReferences?.first?.kind == "Tunnel")
                #expect(keys.metadata.labels?[SecretLabel.key] == SecretLabel.owned)
                let gateway = try WireGuardPrivateKey(base64: try #require(keys.text("privateKey")))
                let peer = try WireGuardPrivateKey(base64: try #require(keys.text("peerPrivateKey")))
                #expect(status.publicKey == gateway.publicKey.base64)
                #expect(keys.text("publicKey") == gateway.publicKey.base64)
                #expect(keys.text("peerPublicKey") == peer.publicKey.base64)

                let connector = try #require(try await cluster.secret("datacenter-connector"))
                #expect(connector.metadata.ownerReferences?.first?.uid == tunnel.metadata.uid)
                #expect(connector.metadata.labels?[SecretLabel.key] == SecretLabel.owned, "the Secrets the controller writes are labelled")
                let config = try #require(connector.text("wg0.conf"))
                #expect(config.hasSuffix("""
                    [Interface]
                    PrivateKey = \(peer.base64)
                    Address = 10.44.0.2/32

                    [Peer]
                    PublicKey = \(gateway.publicKey.base64)
                    Endpoint = gw.example.com:51820
                    AllowedIPs = 10.44.0.1/32
                    PersistentKeepalive = 25

                    """), "\(config.replacingOccurrences(of: peer.base64, with: "<peer key>"))")

                let applied = try #require(interfaces.applied.first)
                #expect(applied.privateKey == gateway)
                #expect(applied.listenPort == 51820)
                #expect(applied.address.description == "10.44.0.1/32")
                #expect(applied.peer.publicKey == peer.publicKey)
                #expect(applied.peer.allowedIPs.map(\.description) == ["10.44.0.2/32", "192.168.10.0/24"])
                #expect(applied.name == WireGuardInterfaceConfiguration.interfaceName(for: "default/datacenter"))

                let serialized = try JSONValue(encoding: tunnel).description
                #expect(!serialized.contains(gateway.base64) && !serialized.contains(peer.base64), "no private key in the Tunnel")
            }
        }

        @Test func tunnelsSharingAPoolNeverShareAnAddress() async throws {
            try await Self.withController { cluster, _, _ in
                let names = (1...4).map { "shared-\($0)" }
                for (index, name) in names.enumerated() {
                    try await cluster.apply(Self.tunnelYAML(name, allowedIPs: "192.168.\(index).0/24", extra: "    listenPort: \(51820 + index)"))
                }
                var addresses: [String] = []
                for name in names {
                    let status = try #require(try await Self.ready(cluster, name).status)
                    addresses += [status.address ?? "", status.peerAddress ?? ""]
                }
                #expect(Set(addresses).count == 8, "\(addresses)")
                #expect(Set(addresses) == Set((1...8).map { "10.44.0.\($0)/32" }))
            }
        }

        @Test func aPeerPublicKeyLeavesAPlaceholderAndNoPeerPrivateKey() async throws {
            let own = WireGuardPrivateKey.generate()
            try await Self.withController { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("byok", extra: "    peerPublicKey: \(own.publicKey.base64)"))
                _ = try await Self.ready(cluster, "byok")
                let keys = try #require(try await cluster.secret("byok-wireguard"))
                #expect(keys.data?["peerPrivateKey"] == nil)
                #expect(keys.text("peerPublicKey") == own.publicKey.base64)
                let config = try #require(try await cluster.secret("byok-connector")?.text("wg0.conf"))
                #expect(config.contains("PrivateKey = \(WGQuickConfig.privateKeyPlaceholder)\n"))
                #expect(config.contains("spec.wireGuard.peerPublicKey is set"))
                #expect(interfaces.applied.first?.peer.publicKey == own.publicKey)
            }
        }

        @Test func rotationActsOncePerValue() async throws {
            try await Self.withController { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("rotating"))
                let before = try #require(try await Self.ready(cluster, "rotating").status?.publicKey)
                let connectorBefore = try await cluster.secret("rotating-connector")?.text("wg0.conf")

                try await cluster.apply(Self.tunnelYAML("rotating", annotations: "\(TunnelController.rotateKeysAnnotation): \"1\""))
                let after = try await eventually("a new public key") {
                    let key = try await cluster.tunnel("rotating")?.status?.publicKey
                    return key != before ? key : nil
                }
                let keys = try #require(try await cluster.secret("rotating-wireguard"))
                #expect(keys.metadata.annotations?[TunnelController.rotatedKeysAnnotation] == "1")
                let connectorAfter = try await eventually("the connector config with the new key") {
                    let config = try await cluster.secret("rotating-connector")?.text("wg0.conf")
                    return config?.contains("PublicKey = \(after)") == true ? config : nil
                }
                #expect(connectorAfter != connectorBefore)
                #expect(interfaces.applied.first?.privateKey.publicKey.base64 == after)

                // The same value again: nothing more happens, however often the Tunnel is reconciled.
                try await Task.sleep(for: .seconds(1))
                #expect(try await cluster.tunnel("rotating")?.status?.publicKey == after)
                #expect(try await cluster.secret("rotating-connector")?.text("wg0.conf") == connectorAfter)

                try await cluster.apply(Self.tunnelYAML("rotating", annotations: "\(TunnelController.rotateKeysAnnotation): \"2\""))
                _ = try await eventually("a third public key") {
                    let key = try await cluster.tunnel("rotating")?.status?.publicKey
                    return key != after && key != before ? key : nil
                }
            }
        }

        @Test func aDamagedKeySecretIsReportedAndARotationRepairsIt() async throws {
            try await Self.withController { cluster, _, _ in
                try await cluster.apply(Self.tunnelYAML("damaged"))
                let before = try #require(try await Self.ready(cluster, "damaged").status?.publicKey)
                var secret = try #require(try await cluster.secret("damaged-wireguard"))
                secret.data?["privateKey"] = Data("not a key".utf8)
                _ = try await cluster.client.resources(CoreV1.Secret.self).update(secret)
                let invalid = try await eventually("Ready=False InvalidSecret") {
                    try await cluster.tunnel("damaged")?.condition("Ready").flatMap { $0.reason == "InvalidSecret" ? $0 : nil }
                }
                #expect(invalid.message.contains("Secret default/damaged-wireguard key privateKey"), "\(invalid.message)")
                #expect(invalid.message.contains(TunnelController.rotateKeysAnnotation))

                try await cluster.apply(Self.tunnelYAML("damaged", annotations: "\(TunnelController.rotateKeysAnnotation): repair"))
                let repaired = try await Self.ready(cluster, "damaged")
                #expect(repaired.status?.publicKey != before)
                let keys = try #require(try await cluster.secret("damaged-wireguard"))
                #expect(try WireGuardPrivateKey(base64: keys.text("privateKey") ?? "").publicKey.base64 == repaired.status?.publicKey)
            }
        }

        @Test func interfaceProblemsBecomeReadyFalseNamingWhatIsWrong() async throws {
            let interfaces = FakeInterfaces()
            interfaces.state.withLock {
                $0.failure = WireGuardError(.listenPortInUse, "interface wg1 cannot listen on UDP port 51820: another WireGuard interface or program on this host uses it")
            }
            try await Self.withController(interfaces) { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("blocked"))
                let ready = try await eventually("Ready=False") {
                    try await cluster.tunnel("blocked")?.condition("Ready").flatMap { $0.status == .false ? $0 : nil }
                }
                #expect(ready.reason == "ListenPortInUse")
                #expect(ready.message.contains("UDP port 51820"))

                interfaces.state.withLock { $0.failure = WireGuardError(.tunUnavailable, "creating interface wg1: wireguard-go cannot open /dev/net/tun") }
                let tun = try await eventually("Ready=False TUNUnavailable") {
                    try await cluster.tunnel("blocked")?.condition("Ready").flatMap { $0.reason == "TUNUnavailable" ? $0 : nil }
                }
                #expect(tun.message.contains("/dev/net/tun"))

                interfaces.state.withLock { $0.failure = nil }
                _ = try await Self.ready(cluster, "blocked")
            }
        }

        @Test func connectedFollowsTheHandshake() async throws {
            try await Self.withController { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("live"))
                _ = try await Self.ready(cluster, "live")
                let handshake = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 - 5).rounded(.down))
                interfaces.state.withLock { $0.handshake = handshake }
                let tunnel = try await eventually("Connected=True") {
                    let tunnel = try await cluster.tunnel("live")
                    return tunnel?.condition("Connected")?.status == .true ? tunnel : nil
                }
                #expect(tunnel.status?.lastHandshakeTime == RFC3339.string(from: handshake))
                #expect(tunnel.status?.transferRxBytes == 1716)
                #expect(tunnel.status?.transferTxBytes == 748)

                interfaces.state.withLock { $0.handshake = handshake.addingTimeInterval(-600) }
                let stale = try await eventually("Connected=False") {
                    try await cluster.tunnel("live")?.condition("Connected").flatMap { $0.status == .false ? $0 : nil }
                }
                #expect(stale.reason == "HandshakeTooOld")
            }
        }

        @Test func deletingATunnelRemovesItsInterfaceBeforeTheFinalizer() async throws {
            try await Self.withController { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("doomed"))
                _ = try await Self.ready(cluster, "doomed")
                try await cluster.client.resources(Tunnel.self).delete("doomed", namespace: "default")
                _ = try await eventually("the Tunnel gone") { try await cluster.tunnel("doomed") == nil ? true : nil }
                #expect(interfaces.state.withLock { $0.removed } == [WireGuardInterfaceConfiguration.interfaceName(for: "default/doomed")])
                #expect(interfaces.applied.isEmpty)
            }
        }

        @Test func aReplicaThatCannotManageInterfacesDoesNotHoldADeletionUp() async throws {
            let interfaces = FakeInterfaces()
            interfaces.state.withLock {
                $0.failure = WireGuardError(.permissionDenied, "creating interface wg1: operation not permitted")
                $0.removalFailure = WireGuardError(.permissionDenied, "deleting interface wg1: operation not permitted")
            }
            try await Self.withController(interfaces) { cluster, _, _ in
                try await cluster.apply(Self.tunnelYAML("unprivileged"))
                let ready = try await eventually("Ready=False PermissionDenied") {
                    try await cluster.tunnel("unprivileged")?.condition("Ready").flatMap { $0.reason == "PermissionDenied" ? $0 : nil }
                }
                #expect(ready.message.contains("operation not permitted"))
                try await cluster.client.resources(Tunnel.self).delete("unprivileged", namespace: "default")
                _ = try await eventually("the Tunnel gone") { try await cluster.tunnel("unprivileged") == nil ? true : nil }
            }
        }

        @Test func aSecretTheTunnelDoesNotOwnIsLeftAlone() async throws {
            try await Self.withController { cluster, _, _ in
                _ = try await cluster.client.resources(CoreV1.Secret.self).create(
                    CoreV1.Secret(metadata: ObjectMeta(name: "mine", namespace: "default"), data: ["wg0.conf": Data("keep me".utf8)])
                )
                try await cluster.apply(Self.tunnelYAML("taken", extra: "    connectorSecretName: mine"))
                let ready = try await eventually("Ready=False SecretConflict") {
                    try await cluster.tunnel("taken")?.condition("Ready").flatMap { $0.reason == "SecretConflict" ? $0 : nil }
                }
                #expect(ready.message.contains("default/mine"))
                #expect(try await cluster.secret("mine")?.text("wg0.conf") == "keep me")
            }
        }

        @Test func theKeySecretIsNotWrittenOverEither() async throws {
            try await Self.withController { cluster, interfaces, _ in
                _ = try await cluster.client.resources(CoreV1.Secret.self).create(
                    CoreV1.Secret(metadata: ObjectMeta(name: "victim-wireguard", namespace: "default"), data: ["token": Data("keep me".utf8)])
                )
                try await cluster.apply(Self.tunnelYAML("victim"))
                let ready = try await eventually("Ready=False SecretConflict") {
                    try await cluster.tunnel("victim")?.condition("Ready").flatMap { $0.reason == "SecretConflict" ? $0 : nil }
                }
                #expect(ready.message.contains("Secret default/victim-wireguard") && ready.message.contains("metadata.name"), "\(ready.message)")
                #expect(try await cluster.secret("victim-wireguard")?.data == ["token": Data("keep me".utf8)])
                #expect(interfaces.applied.isEmpty)
            }
        }

        @Test func aSecretNamingTheTunnelAsOwnerButNotLabelledIsLeftAlone() async throws {
            try await Self.withController { cluster, _, _ in
                try await cluster.apply(Self.tunnelYAML("owner"))
                let tunnel = try await Self.ready(cluster, "owner")
                // A Secret someone else wrote with an owner reference to the Tunnel, as a connector Secret name.
                var metadata = ObjectMeta(name: "forged", namespace: "default")
                metadata.ownerReferences = [
                    OwnerReference(apiVersion: PortcullisAPIGroup.apiVersion, kind: Tunnel.kind, name: "owner", uid: tunnel.metadata.uid ?? "", controller: true)
                ]
                _ = try await cluster.client.resources(CoreV1.Secret.self).create(CoreV1.Secret(metadata: metadata, data: ["wg0.conf": Data("keep me".utf8)]))
                try await cluster.apply(Self.tunnelYAML("owner", extra: "    connectorSecretName: forged"))
                let ready = try await eventually("Ready=False SecretConflict") {
                    try await cluster.tunnel("owner")?.condition("Ready").flatMap { $0.reason == "SecretConflict" ? $0 : nil }
                }
                #expect(ready.message.contains("Secret default/forged") && ready.message.contains("spec.wireGuard.connectorSecretName"), "\(ready.message)")
                #expect(try await cluster.secret("forged")?.text("wg0.conf") == "keep me")
                #expect(try await cluster.secret("owner-connector") != nil, "the old connector Secret stays until the new one is written")
            }
        }

        @Test func aNetworkAnotherNamespacesOlderTunnelHasIsAConflictTheOlderKeepsServing() async throws {
            try await Self.withController { cluster, interfaces, _ in
                for namespace in ["shop", "attacker"] { try await cluster.createNamespace(namespace) }
                try await cluster.apply(Self.tunnelYAML("datacenter", namespace: "shop", allowedIPs: "192.168.0.0/16"))
                let winner = try await Self.ready(cluster, "datacenter", namespace: "shop")
                let winnerInterface = WireGuardInterfaceConfiguration.interfaceName(for: "shop/datacenter")
                let configured = try #require(interfaces.state.withLock { $0.applied[winnerInterface] })
                try await Task.sleep(for: .milliseconds(1100))  // creation times have whole seconds: be the later one

                // Another namespace's Tunnel for one of its backends: refused, and no interface for it.
                try await cluster.apply(Self.tunnelYAML("capture", namespace: "attacker", pool: "10.45.0.0/24", allowedIPs: "192.168.10.20/32"))
                let refused = try await eventually("Ready=False NetworkConflict") {
                    try await cluster.tunnel("capture", namespace: "attacker")?.condition("Ready").flatMap { $0.status == .false ? $0 : nil }
                }
                #expect(refused.reason == "NetworkConflict")
                #expect(refused.message.contains("192.168.10.20/32 overlaps 192.168.0.0/16") && refused.message.contains("namespace shop"), "\(refused.message)")
                let attackerInterface = WireGuardInterfaceConfiguration.interfaceName(for: "attacker/capture")
                #expect(interfaces.state.withLock { $0.applied[attackerInterface] } == nil)
                #expect(try await cluster.secret("capture-wireguard", namespace: "attacker") == nil, "nothing is made for a refused Tunnel")
                #expect(try await cluster.tunnel("datacenter", namespace: "shop")?.condition("Ready")?.status == .true)
                #expect(interfaces.state.withLock { $0.applied[winnerInterface] } == configured)
                #expect(try await cluster.tunnel("datacenter", namespace: "shop")?.status?.address == winner.status?.address)

                // Once the older Tunnel goes, the other one is configured.
                try await cluster.client.resources(Tunnel.self).delete("datacenter", namespace: "shop")
                _ = try await Self.ready(cluster, "capture", namespace: "attacker")
                #expect(interfaces.state.withLock { $0.applied[attackerInterface] }?.peer.allowedIPs.map(\.description) == ["10.45.0.2/32", "192.168.10.20/32"])
            }
        }

        @Test func aTunnelEditedIntoAConflictKeepsItsInterfaceAsItWas() async throws {
            try await Self.withController { cluster, interfaces, _ in
                for namespace in ["shop", "bank"] { try await cluster.createNamespace(namespace) }
                try await cluster.apply(Self.tunnelYAML("datacenter", namespace: "shop", allowedIPs: "192.168.0.0/16"))
                _ = try await Self.ready(cluster, "datacenter", namespace: "shop")
                try await Task.sleep(for: .milliseconds(1100))  // creation times have whole seconds: be the later one
                try await cluster.apply(Self.tunnelYAML("vault", namespace: "bank", pool: "10.45.0.0/24", allowedIPs: "172.16.0.0/24"))
                _ = try await Self.ready(cluster, "vault", namespace: "bank")
                let interface = WireGuardInterfaceConfiguration.interfaceName(for: "bank/vault")
                let before = try #require(interfaces.state.withLock { $0.applied[interface] })

                try await cluster.apply(Self.tunnelYAML("vault", namespace: "bank", pool: "10.45.0.0/24", allowedIPs: "172.16.0.0/24, 192.168.10.0/24"))
                let refused = try await eventually("Ready=False NetworkConflict") {
                    try await cluster.tunnel("vault", namespace: "bank")?.condition("Ready").flatMap { $0.reason == "NetworkConflict" ? $0 : nil }
                }
                #expect(refused.message.contains("spec.wireGuard.allowedIPs[1]: 192.168.10.0/24 overlaps 192.168.0.0/16"), "\(refused.message)")
                try await Task.sleep(for: .milliseconds(500))
                #expect(interfaces.state.withLock { $0.applied[interface] } == before, "the refused network is not added; the rest stays")
            }
        }

        @Test func aClusterNetworkIsNotAllowed() async throws {
            var tenancy = TenancyPolicy()
            tenancy.destinations.clusterNetworks = [IPNetwork("10.96.0.0/12")!]
            try await Self.withController(tenancy: tenancy) { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("services", allowedIPs: "10.96.0.0/16"))
                let refused = try await eventually("Ready=False NetworkNotAllowed") {
                    try await cluster.tunnel("services")?.condition("Ready").flatMap { $0.status == .false ? $0 : nil }
                }
                #expect(refused.reason == "NetworkNotAllowed")
                #expect(refused.message.contains("spec.wireGuard.allowedIPs[0]: 10.96.0.0/16 overlaps the cluster network 10.96.0.0/12"), "\(refused.message)")
                #expect(interfaces.applied.isEmpty)
            }
        }

        @Test func aReplicaThatDoesNotLeadConfiguresNoRefusedTunnel() async throws {
            // A follower configures from the leader's status and Secret; a spec edited since into something
            // invalid is refused there too, before anything reaches the interface.
            try await TestCluster.with { cluster in
                let followerInterfaces = FakeInterfaces()
                let leader = cluster.run(TunnelController(client: cluster.client, interfaces: FakeInterfaces(), configuration: Self.fast, logger: TestCluster.quiet))
                let follower = cluster.run(
                    TunnelController(client: cluster.client, interfaces: followerInterfaces, isLeader: { false }, configuration: Self.fast, logger: TestCluster.quiet)
                )
                defer {
                    leader.cancel()
                    follower.cancel()
                }
                try await cluster.apply(Self.tunnelYAML("shared"))
                _ = try await Self.ready(cluster, "shared")
                let interface = WireGuardInterfaceConfiguration.interfaceName(for: "default/shared")
                let configured = try await eventually("the follower's interface") { followerInterfaces.state.withLock { $0.applied[interface] } }

                // Every IPv4 address, which the schema lets through where CEL is not evaluated.
                try await cluster.apply(Self.tunnelYAML("shared", allowedIPs: "0.0.0.0/1, 128.0.0.0/1"))
                _ = try await eventually("Ready=False Invalid") {
                    try await cluster.tunnel("shared")?.condition("Ready").flatMap { $0.reason == "Invalid" ? $0 : nil }
                }
                try await Task.sleep(for: .seconds(1))
                #expect(followerInterfaces.state.withLock { $0.applied[interface] } == configured)
            }
        }

        @Test func aReplicaThatDoesNotLeadWritesNothing() async throws {
            try await Self.withController(leading: false) { cluster, interfaces, _ in
                try await cluster.apply(Self.tunnelYAML("follower"))
                try await Task.sleep(for: .seconds(1))
                let tunnel = try #require(try await cluster.tunnel("follower"))
                #expect(tunnel.status == nil)
                #expect(tunnel.metadata.finalizers == nil)
                #expect(try await cluster.secret("follower-wireguard") == nil)
                #expect(interfaces.applied.isEmpty, "nothing to configure before the leader writes the keys")
            }
        }
    }
}
