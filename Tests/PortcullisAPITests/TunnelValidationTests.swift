import Kubernetes
import PortcullisAPI
import Testing

/// One semantic rule: a change to a valid Tunnel, and the exact messages it must produce.
struct TunnelCase: Sendable, CustomTestStringConvertible {
    var name: String
    var change: @Sendable (inout WireGuardTunnel) -> Void
    var expected: [String]

    var testDescription: String { name }
}

@Suite struct TunnelValidationTests {
    static func messages(_ change: (inout WireGuardTunnel) -> Void) -> [String] {
        var wireGuard = WireGuardTunnel(addressPool: "10.44.0.0/24", endpoint: "gw.example.com:51820", allowedIPs: ["192.168.10.0/24"])
        change(&wireGuard)
        return Tunnel(metadata: ObjectMeta(name: "mainframe", namespace: "default"), spec: TunnelSpec(wireGuard: wireGuard))
            .validate().map(\.description)
    }

    @Test func validTunnels() {
        #expect(Self.messages { _ in } == [])
        #expect(Self.messages { $0.addressPool = "fd00:44::/64"; $0.endpoint = "[2001:db8::1]:51820"; $0.allowedIPs = ["fd00:10::/48", "10.0.0.0/8"] } == [])
        #expect(Self.messages { $0.addressPool = "100.64.0.0/30"; $0.endpoint = "203.0.113.7:443" } == [])
    }

    static let cases: [TunnelCase] = [
        TunnelCase(name: "pool not a CIDR", change: { $0.addressPool = "10.44.0.0" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "10.44.0.0": must be a network in CIDR notation, such as 10.44.0.0/24 or fd00:44::/64"#]),
        TunnelCase(name: "pool with host bits", change: { $0.addressPool = "10.44.0.1/24" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "10.44.0.1/24": has host bits set; the network is 10.44.0.0/24"#]),
        TunnelCase(name: "pool too small", change: { $0.addressPool = "10.44.0.0/31" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "10.44.0.0/31": must hold at least 4 addresses (a /30 or larger) for the gateway and the peer"#]),
        TunnelCase(name: "endpoint without port", change: { $0.endpoint = "gw.example.com" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "gw.example.com": must be host:port, such as gw.example.com:51820"#]),
        TunnelCase(name: "IPv6 endpoint without brackets", change: { $0.endpoint = "2001:db8::1:51820" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "2001:db8::1:51820": must be host:port, such as gw.example.com:51820"#]),
        TunnelCase(name: "bracketed non-IPv6", change: { $0.endpoint = "[gw.example.com]:51820" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "[gw.example.com]:51820": gw.example.com is not an IPv6 address"#]),
        TunnelCase(name: "bracketed IPv4", change: { $0.endpoint = "[10.0.0.1]:51820" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "[10.0.0.1]:51820": 10.0.0.1 is not an IPv6 address"#]),
        TunnelCase(name: "a rejected default route is not compared with later networks", change: { $0.allowedIPs = ["0.0.0.0/0", "192.168.10.0/24"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "0.0.0.0/0": a default route would send all of the gateway's traffic through the tunnel"#]),
        TunnelCase(name: "bad host", change: { $0.endpoint = "gw_example:51820" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "gw_example:51820": gw_example is neither an IP address nor a DNS name"#]),
        TunnelCase(name: "bad port", change: { $0.endpoint = "gw.example.com:70000" },
                   expected: [#"spec.wireGuard.endpoint: Invalid value: "gw.example.com:70000": port must be a number between 1 and 65535"#]),
        TunnelCase(name: "allowed IP not a CIDR", change: { $0.allowedIPs = ["192.168.10.0/33"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "192.168.10.0/33": must be a network in CIDR notation, such as 10.44.0.0/24 or fd00:44::/64"#]),
        TunnelCase(name: "default route", change: { $0.allowedIPs = ["0.0.0.0/0"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "0.0.0.0/0": a default route would send all of the gateway's traffic through the tunnel"#]),
        TunnelCase(name: "overlapping the pool", change: { $0.allowedIPs = ["10.0.0.0/8"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "10.0.0.0/8": overlaps addressPool 10.44.0.0/24; tunnel addresses are routed already"#]),
        TunnelCase(name: "overlapping each other", change: { $0.allowedIPs = ["192.168.0.0/16", "192.168.10.0/24"] },
                   expected: [#"spec.wireGuard.allowedIPs[1]: Invalid value: "192.168.10.0/24": overlaps 192.168.0.0/16"#]),
        TunnelCase(name: "every IPv4 address in two halves", change: { $0.allowedIPs = ["0.0.0.0/1", "128.0.0.0/1"] },
                   expected: [
                       #"spec.wireGuard.allowedIPs[0]: Invalid value: "0.0.0.0/1": overlaps the unspecified network 0.0.0.0/8; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#,
                       #"spec.wireGuard.allowedIPs[1]: Invalid value: "128.0.0.0/1": overlaps the link-local network 169.254.0.0/16; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#,
                   ]),
        TunnelCase(name: "loopback", change: { $0.allowedIPs = ["127.0.0.0/8"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "127.0.0.0/8": overlaps the loopback network 127.0.0.0/8; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "the metadata address", change: { $0.allowedIPs = ["169.254.169.254/32"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "169.254.169.254/32": overlaps the link-local network 169.254.0.0/16; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "multicast", change: { $0.allowedIPs = ["239.1.0.0/16"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "239.1.0.0/16": overlaps the multicast network 224.0.0.0/4; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "IPv6 loopback", change: { $0.allowedIPs = ["::1/128"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "::1/128": overlaps the loopback network ::1/128; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "IPv6 default route", change: { $0.allowedIPs = ["::/0"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "::/0": a default route would send all of the gateway's traffic through the tunnel"#]),
        TunnelCase(name: "IPv6 link-local", change: { $0.allowedIPs = ["fe80::/64"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "fe80::/64": overlaps the link-local network fe80::/10; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "IPv4-mapped", change: { $0.allowedIPs = ["::ffff:10.0.0.0/104"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "::ffff:10.0.0.0/104": overlaps the IPv4-mapped network ::ffff:0.0.0.0/96; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "IPv6 multicast", change: { $0.allowedIPs = ["ff02::/16"] },
                   expected: [#"spec.wireGuard.allowedIPs[0]: Invalid value: "ff02::/16": overlaps the multicast network ff00::/8; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "a default pool", change: { $0.addressPool = "0.0.0.0/0" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "0.0.0.0/0": a default route would send all of the gateway's traffic through the tunnel"#]),
        TunnelCase(name: "a loopback pool", change: { $0.addressPool = "127.0.0.0/24" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "127.0.0.0/24": overlaps the loopback network 127.0.0.0/8; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
        TunnelCase(name: "a link-local pool", change: { $0.addressPool = "169.254.10.0/24" },
                   expected: [#"spec.wireGuard.addressPool: Invalid value: "169.254.10.0/24": overlaps the link-local network 169.254.0.0/16; a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"#]),
    ]

    @Test(arguments: cases)
    func eachRuleNamesTheFieldAndTheValue(_ testCase: TunnelCase) {
        #expect(Self.messages(testCase.change) == testCase.expected)
    }
}
