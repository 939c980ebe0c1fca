import Crypto
public import IPAddresses

/// What a gateway-side WireGuard interface should be: its key, port and address, and its one peer with the
/// networks routed to it. Holds a private key, which prints as `<redacted>`.
public struct WireGuardInterfaceConfiguration: Sendable, Hashable {
    /// Linux's limit on interface names (`IFNAMSIZ` less the terminating zero).
    public static let maximumNameLength = 15

    /// The gateway's one peer: the private side.
    public struct Peer: Sendable, Hashable {
        public var publicKey: WireGuardPublicKey
        /// The networks that go to the peer: its tunnel address and the private networks behind it. Each
        /// becomes a route through the interface.
        public var allowedIPs: [IPNetwork]

        public init(publicKey: WireGuardPublicKey, allowedIPs: [IPNetwork]) {
            self.publicKey = publicKey
            self.allowedIPs = allowedIPs
        }
    }

    /// The interface name, at most 15 characters.
    public var name: String
    public var privateKey: WireGuardPrivateKey
    /// The UDP port the interface listens on.
    public var listenPort: Int
    /// The gateway's tunnel address, a host network (`/32` or `/128`).
    public var address: IPNetwork
    public var peer: Peer

    public init(name: String, privateKey: WireGuardPrivateKey, listenPort: Int, address: IPNetwork, peer: Peer) {
        self.name = name
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.address = address
        self.peer = peer
    }

    /// A stable interface name for an object, such as `wg3fa9c01b2d` for `shop/datacenter`: the prefix and
    /// the first hex digits of the identity's SHA-256, as many as fit in 15 characters (at most 10).
    ///
    /// - Parameter prefix: At most 5 characters, so that at least 10 hex digits follow.
    public static func interfaceName(for identity: String, prefix: String = "wg") -> String {
        let digest = SHA256.hash(data: Array(identity.utf8))
        let hex = digest.map { byte in String(byte, radix: 16).leftPadded(to: 2) }.joined()
        return prefix + hex.prefix(min(10, maximumNameLength - prefix.count))
    }

    /// Checks what the kernel and `ip` would refuse, with a message naming the value.
    ///
    /// - Throws: ``WireGuardError/Code/invalidConfiguration``.
    public func validate() throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard (1...Self.maximumNameLength).contains(name.count), name.allSatisfy(allowed.contains), name != ".", name != ".." else {
            throw WireGuardError(.invalidConfiguration, "interface name \"\(name)\" must be 1–15 letters, digits, '_', '.' or '-'")
        }
        guard (1...65535).contains(listenPort) else {
            throw WireGuardError(.invalidConfiguration, "interface \(name): listen port \(listenPort) is not between 1 and 65535")
        }
        guard address.prefixLength == address.address.bitCount else {
            throw WireGuardError(.invalidConfiguration, "interface \(name): address \(address) must be a single address (/\(address.address.bitCount))")
        }
        for network in peer.allowedIPs where network.hasHostBits {
            throw WireGuardError(.invalidConfiguration, "interface \(name): allowed IP \(network) has host bits set")
        }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
