import Foundation
import IPAddresses
import Testing
@testable import Tunnels

@Suite struct WGQuickConfigTests {
    static let privateKey = try! WireGuardPrivateKey(base64: "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=")
    static let gatewayKey = try! WireGuardPublicKey(base64: "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")

    static func config(_ privateKey: WGQuickConfig.PrivateKey, keepalive: Int = 25) -> WGQuickConfig {
        WGQuickConfig(
            header: ["The private side of Tunnel shop/datacenter.", "", "Run it with: wg-quick up ./wg0.conf"],
            privateKey: privateKey,
            address: IPNetwork("10.44.0.2/32")!,
            peerPublicKey: gatewayKey,
            endpoint: "gw.example.com:51820",
            allowedIPs: [IPNetwork("10.44.0.1/32")!],
            persistentKeepalive: keepalive
        )
    }

    @Test func rendersEveryLine() {
        #expect(Self.config(.key(Self.privateKey)).rendered() == """
            # The private side of Tunnel shop/datacenter.
            #
            # Run it with: wg-quick up ./wg0.conf
            [Interface]
            PrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=
            Address = 10.44.0.2/32

            [Peer]
            PublicKey = hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=
            Endpoint = gw.example.com:51820
            AllowedIPs = 10.44.0.1/32
            PersistentKeepalive = 25

            """)
    }

    @Test func keepaliveZeroLeavesTheLineOut() {
        #expect(!Self.config(.key(Self.privateKey), keepalive: 0).rendered().contains("PersistentKeepalive"))
    }

    @Test func aPeerPublicKeyGivesAPlaceholderThatSaysWhy() {
        let peerKey = Self.privateKey.publicKey
        let text = Self.config(.placeholder(forPublicKey: peerKey)).rendered()
        #expect(text.contains("PrivateKey = \(WGQuickConfig.privateKeyPlaceholder)\n"))
        #expect(text.contains("# spec.wireGuard.peerPublicKey is set"))
        #expect(text.contains(peerKey.base64))
        #expect(!text.contains(Self.privateKey.base64))
    }
}
