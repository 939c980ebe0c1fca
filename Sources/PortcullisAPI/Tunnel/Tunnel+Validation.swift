public import Kubernetes
import IPAddresses

extension Tunnel {
    /// Semantic rules the schema cannot express; see docs/api.md.
    public func validate() -> [FieldError] {
        var checks = FieldChecks()
        let path = FieldPath("spec").child("wireGuard")
        let wg = spec.wireGuard

        let poolPath = path.child("addressPool")
        var pool = Tunnel.network(wg.addressPool, at: poolPath, checks: &checks)
        if let network = pool, let refusal = Tunnel.refusal(of: network) {
            checks.invalid(poolPath, .string(wg.addressPool), refusal)
            pool = nil
        } else if let pool, pool.size < 4 {
            checks.invalid(poolPath, .string(wg.addressPool), "must hold at least 4 addresses (a /30 or larger) for the gateway and the peer")
        }
        Tunnel.validateEndpoint(wg.endpoint, at: path.child("endpoint"), checks: &checks)
        var networks: [IPNetwork] = []
        for (index, text) in wg.allowedIPs.enumerated() {
            let elementPath = path.child("allowedIPs").index(index)
            guard let network = Tunnel.network(text, at: elementPath, checks: &checks) else { continue }
            if let refusal = Tunnel.refusal(of: network) {
                checks.invalid(elementPath, .string(text), refusal)
            } else if let pool, network.overlaps(pool) {
                checks.invalid(elementPath, .string(text), "overlaps addressPool \(wg.addressPool); tunnel addresses are routed already")
            } else if let other = networks.first(where: { $0.overlaps(network) }) {
                checks.invalid(elementPath, .string(text), "overlaps \(other)")
            } else {
                networks.append(network)
            }
        }
        return checks.errors
    }

    /// Networks no Tunnel may route or draw addresses from, whatever the admin allows: their addresses
    /// never belong to a private network behind a tunnel, and routing them would take the gateway's own
    /// (or every) destination.
    static let refusedNetworks: [(network: IPNetwork, name: String)] = [
        ("0.0.0.0/8", "unspecified"), ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("224.0.0.0/4", "multicast"),
        ("::/128", "unspecified"), ("::1/128", "loopback"), ("::ffff:0:0/96", "IPv4-mapped"), ("fe80::/10", "link-local"),
        ("ff00::/8", "multicast"),
    ].map { (IPNetwork($0.0)!, $0.1) }

    /// Why `network` may not be a Tunnel's, or `nil`.
    static func refusal(of network: IPNetwork) -> String? {
        if network.prefixLength == 0 {
            return "a default route would send all of the gateway's traffic through the tunnel"
        }
        guard let refused = refusedNetworks.first(where: { $0.network.overlaps(network) }) else { return nil }
        return "overlaps the \(refused.name) network \(refused.network); a Tunnel may not route loopback, link-local, unspecified, multicast or IPv4-mapped addresses"
    }

    /// Parses a CIDR that names a network exactly (no host bits set).
    private static func network(_ text: String, at path: FieldPath, checks: inout FieldChecks) -> IPNetwork? {
        guard let network = IPNetwork(text) else {
            checks.invalid(path, .string(text), "must be a network in CIDR notation, such as 10.44.0.0/24 or fd00:44::/64")
            return nil
        }
        if network.hasHostBits {
            checks.invalid(path, .string(text), "has host bits set; the network is \(network.networkAddress)/\(network.prefixLength)")
            return nil
        }
        return network
    }

    private static func validateEndpoint(_ endpoint: String, at path: FieldPath, checks: inout FieldChecks) {
        let host: Substring
        let port: Substring
        if endpoint.hasPrefix("[") {
            guard let close = endpoint.firstIndex(of: "]"), endpoint[endpoint.index(after: close)...].hasPrefix(":") else {
                checks.invalid(path, .string(endpoint), "must be host:port, with an IPv6 address in brackets: [2001:db8::1]:51820")
                return
            }
            host = endpoint[endpoint.index(after: endpoint.startIndex)..<close]
            port = endpoint[endpoint.index(close, offsetBy: 2)...]
            if case .v6 = IPAddress(String(host)) {} else {
                checks.invalid(path, .string(endpoint), "\(host) is not an IPv6 address")
            }
        } else {
            let parts = endpoint.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                checks.invalid(path, .string(endpoint), "must be host:port, such as gw.example.com:51820")
                return
            }
            host = parts[0]
            port = parts[1]
            let hostText = String(host)
            if IPAddress(hostText) == nil && !SchemaValidator.matches(hostText, pattern: CommonSchemas.dnsSubdomainPattern) {
                checks.invalid(path, .string(endpoint), "\(host) is neither an IP address nor a DNS name")
            }
        }
        if let number = Int(port), (1...65535).contains(number), port.allSatisfy(\.isASCII) {
            return
        }
        checks.invalid(path, .string(endpoint), "port must be a number between 1 and 65535")
    }
}
