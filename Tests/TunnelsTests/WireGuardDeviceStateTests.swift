import Foundation
import IPAddresses
import Testing
@testable import Tunnels

@Suite struct WireGuardDeviceStateTests {
    static let privateKey = try! WireGuardPrivateKey(base64: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=")
    static let peerKey = try! WireGuardPublicKey(base64: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")
    static let otherPeerKey = WireGuardPrivateKey.generate().publicKey

    /// A `get=1` answer as wireguard-go 0.0.20220316 prints it.
    static let uapiAnswer = """
        private_key=\(privateKey.hex)
        listen_port=51999
        public_key=\(peerKey.hex)
        preshared_key=0000000000000000000000000000000000000000000000000000000000000000
        protocol_version=1
        endpoint=172.31.250.2:39893
        last_handshake_time_sec=1795971164
        last_handshake_time_nsec=920314791
        tx_bytes=748
        rx_bytes=1716
        persistent_keepalive_interval=0
        allowed_ip=10.250.9.2/32
        allowed_ip=10.250.10.0/24
        errno=0


        """

    @Test func parsesAUAPIAnswer() throws {
        let state = try WireGuardDeviceState.parseUAPI(Self.uapiAnswer)
        #expect(state.privateKey == Self.privateKey)
        #expect(state.listenPort == 51999)
        #expect(state.peers == [
            .init(
                publicKey: Self.peerKey,
                endpoint: "172.31.250.2:39893",
                allowedIPs: [IPNetwork("10.250.9.2/32")!, IPNetwork("10.250.10.0/24")!],
                lastHandshake: Date(timeIntervalSince1970: 1_795_971_164),
                receivedBytes: 1716,
                transmittedBytes: 748
            )
        ])
    }

    @Test func aUAPIErrorIsAnError() {
        #expect(throws: WireGuardError(.protocolError)) { try WireGuardDeviceState.parseUAPI("errno=-22\n\n") }
    }

    @Test func parsesAWgShowDump() throws {
        let dump = """
            \(Self.privateKey.base64)\t\(Self.privateKey.publicKey.base64)\t51999\toff
            \(Self.peerKey.base64)\t(none)\t172.31.250.2:39893\t10.250.9.2/32,10.250.10.0/24\t1795971164\t1716\t748\toff
            \(Self.otherPeerKey.base64)\t(none)\t(none)\t(none)\t0\t0\t0\t25

            """
        let state = try WireGuardDeviceState.parseDump(dump)
        #expect(state.privateKey == Self.privateKey)
        #expect(state.listenPort == 51999)
        #expect(state.peers.count == 2)
        #expect(state.peer(Self.peerKey)?.lastHandshake == Date(timeIntervalSince1970: 1_795_971_164))
        #expect(state.peer(Self.peerKey)?.allowedIPs.count == 2)
        #expect(state.peer(Self.otherPeerKey) == .init(publicKey: Self.otherPeerKey, persistentKeepalive: 25))
    }

    static func desired(peer: WireGuardPublicKey = peerKey) -> WireGuardInterfaceConfiguration {
        WireGuardInterfaceConfiguration(
            name: "wgtest",
            privateKey: privateKey,
            listenPort: 51999,
            address: IPNetwork("10.250.9.1/32")!,
            addressPool: IPNetwork("10.250.9.0/24")!,
            peer: .init(publicKey: peer, allowedIPs: [IPNetwork("10.250.9.2/32")!, IPNetwork("10.250.10.0/24")!])
        )
    }

    @Test func aFreshDeviceGetsEverything() {
        let change = WireGuardDeviceChange(from: WireGuardDeviceState(), to: Self.desired())
        #expect(change.uapiRequest == """
            set=1
            private_key=\(Self.privateKey.hex)
            listen_port=51999
            public_key=\(Self.peerKey.hex)
            replace_allowed_ips=true
            allowed_ip=10.250.9.2/32
            allowed_ip=10.250.10.0/24


            """)
        let (arguments, input) = change.wgArguments(interface: "wgtest")
        #expect(arguments == ["set", "wgtest", "private-key", "/dev/stdin", "listen-port", "51999", "peer", Self.peerKey.base64, "allowed-ips", "10.250.9.2/32,10.250.10.0/24"])
        #expect(input == Data("\(Self.privateKey.base64)\n".utf8))
    }

    @Test func aDeviceInStepIsLeftAlone() throws {
        let change = WireGuardDeviceChange(from: try WireGuardDeviceState.parseUAPI(Self.uapiAnswer), to: Self.desired())
        #expect(change.isEmpty)
    }

    @Test func aNewPeerKeyReplacesTheOldPeerAndKeepsItsEndpoint() throws {
        let change = WireGuardDeviceChange(from: try WireGuardDeviceState.parseUAPI(Self.uapiAnswer), to: Self.desired(peer: Self.otherPeerKey))
        #expect(change.privateKey == nil && change.listenPort == nil)
        #expect(change.uapiRequest == """
            set=1
            public_key=\(Self.peerKey.hex)
            remove=true
            public_key=\(Self.otherPeerKey.hex)
            endpoint=172.31.250.2:39893
            replace_allowed_ips=true
            allowed_ip=10.250.9.2/32
            allowed_ip=10.250.10.0/24


            """)
    }

    @Test func interfaceNamesAreStableShortAndDistinct() throws {
        let name = WireGuardInterfaceConfiguration.interfaceName(for: "shop/datacenter")
        #expect(name == WireGuardInterfaceConfiguration.interfaceName(for: "shop/datacenter"))
        #expect(name.count == 12 && name.hasPrefix("wg"))
        #expect(name != WireGuardInterfaceConfiguration.interfaceName(for: "shop/datacenter2"))
        #expect(WireGuardInterfaceConfiguration.interfaceName(for: "x", prefix: "pctest").count == 15)
        var configuration = Self.desired()
        configuration.name = "a-name-that-is-too-long"
        #expect(throws: WireGuardError(.invalidConfiguration)) { try configuration.validate() }
        configuration.name = name
        configuration.address = IPNetwork("10.250.9.1/24")!
        #expect(throws: WireGuardError(.invalidConfiguration)) { try configuration.validate() }
    }
}

@Suite struct WireGuardFailureTests {
    // What the real tools print, captured from iproute2 6.1 and wireguard-go 0.0.20220316 run without
    // NET_ADMIN (setpriv --bounding-set -net_admin) and without /dev/net/tun (a tmpfs over /dev/net).

    @Test func ipWithoutNetAdminIsPermissionDenied() {
        let error = WireGuardInterfaceManager.failure(
            .init(status: 2, standardOutput: "", standardError: "RTNETLINK answers: Operation not permitted\n"),
            doing: "creating interface wg1"
        )
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("creating interface wg1") && error.message.contains("NET_ADMIN"))
    }

    @Test func wireguardGoWithoutNetAdminIsPermissionDenied() {
        let error = WireGuardInterfaceManager.daemonFailure(
            "ERROR: (wg1) 2026/11/29 17:46:02 Failed to create TUN device: operation not permitted",
            interface: "wg1", socket: "/var/run/wireguard/wg1.sock", timeout: .seconds(5)
        )
        #expect(error.code == .permissionDenied)
        #expect(error.message.contains("wg1") && error.message.contains("NET_ADMIN"))
    }

    @Test func wireguardGoWithoutTunIsTunUnavailable() {
        let error = WireGuardInterfaceManager.daemonFailure(
            "ERROR: (wg1) 2026/11/29 17:45:58 Failed to create TUN device: CreateTUN(\"wg1\") failed; /dev/net/tun does not exist",
            interface: "wg1", socket: "/var/run/wireguard/wg1.sock", timeout: .seconds(5)
        )
        #expect(error.code == .tunUnavailable)
        #expect(error.message.contains("wg1") && error.message.contains("/dev/net/tun"))
    }
}
