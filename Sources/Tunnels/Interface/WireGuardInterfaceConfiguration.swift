import Crypto
public import IPAddresses

/// What a gateway-side WireGuard interface should be: its key, port and address, and its one peer with the
/// networks routed to it. Holds a private key, which prints as `<redacted>`.
///
/// The networks are routed in a routing table of the interface's own (``routingTable``), which only
/// connections from the interface's ``address`` consult: nothing about the tunnel is in the main table.
public struct WireGuardInterfaceConfiguration: Sendable, Hashable {
    /// Linux's limit on interface names (`IFNAMSIZ` less the terminating zero).
    public static let maximumNameLength = 15
    /// The routing tables of tunnel interfaces: 268435456–536870911 (`0x10000000`–`0x1FFFFFFF`), clear of
    /// the tables Linux names (`local` 255, `main` 254, `default` 253) and of the small numbers other
    /// software picks.
    public static let routingTables: ClosedRange<UInt32> = 0x1000_0000...0x1FFF_FFFF

    /// The gateway's one peer: the private side.
    public struct Peer: Sendable, Hashable {
        public var publicKey: WireGuardPublicKey
        /// The networks that go to the peer: its tunnel address and the private networks behind it. Each
        /// becomes a route through the interface in its routing table.
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
    /// The gateway's tunnel address, a host network (`/32` or `/128`). Added without a prefix route; a rule
    /// sends connections from it to ``routingTable``.
    public var address: IPNetwork
    /// The network tunnel addresses are drawn from, holding ``address``: routed through the interface in
    /// ``routingTable``, beside the peer's allowed IPs.
    public var addressPool: IPNetwork
    public var peer: Peer

    public init(name: String, privateKey: WireGuardPrivateKey, listenPort: Int, address: IPNetwork, addressPool: IPNetwork, peer: Peer) {
        self.name = name
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.address = address
        self.addressPool = addressPool
        self.peer = peer
    }

    /// The interface's routing table: ``routingTable(for:)`` of its name.
    public var routingTable: UInt32 { Self.routingTable(for: name) }

    /// The networks routed through the interface in its table: the address pool, and each allowed IP
    /// that the pool does not already cover.
    public var routedNetworks: [IPNetwork] {
        [addressPool] + peer.allowedIPs.filter { !addressPool.covers($0) }
    }

    /// A stable routing table number for an interface: the first 28 bits of SHA-256 of its name, in
    /// ``routingTables``. Two names get the same table with a chance of n²/2²⁹ among n interfaces (about
    /// 1 in 500 with a thousand); the manager refuses the second with an error naming it.
    public static func routingTable(for interfaceName: String) -> UInt32 {
        let digest = Array(SHA256.hash(data: Array(interfaceName.utf8)))
        let bits = digest.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) } >> 4
        return routingTables.lowerBound | bits
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
        guard !addressPool.hasHostBits, addressPool.contains(address.address) else {
            throw WireGuardError(.invalidConfiguration, "interface \(name): address pool \(addressPool) must be a network holding the address \(address)")
        }
        for network in peer.allowedIPs where network.hasHostBits {
            throw WireGuardError(.invalidConfiguration, "interface \(name): allowed IP \(network) has host bits set")
        }
    }
}

extension IPNetwork {
    /// Whether every address of `other` is in this network.
    fileprivate func covers(_ other: IPNetwork) -> Bool {
        other.prefixLength >= prefixLength && contains(other.address)
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        count >= length ? self : String(repeating: "0", count: length - count) + self
    }
}
