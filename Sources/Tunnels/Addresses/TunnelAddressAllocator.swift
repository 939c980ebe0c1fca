public import IPAddresses

/// Draws a Tunnel's two addresses (the gateway's and the peer's) from its address pool.
///
/// Deterministic: the two lowest usable addresses of the pool that are not `taken`, so the same pool and
/// the same taken set always give the same answer, and Tunnels sharing a pool never collide as long as
/// every Tunnel's addresses are in the taken set of the next allocation. Usable addresses skip the
/// network address, and for IPv4 the broadcast address:
///
/// | pool | taken | gateway | peer |
/// |---|---|---|---|
/// | 10.44.0.0/24 | — | 10.44.0.1 | 10.44.0.2 |
/// | 10.44.0.0/24 | 10.44.0.1, 10.44.0.2 | 10.44.0.3 | 10.44.0.4 |
/// | 10.44.0.0/24 | 10.44.0.2 | 10.44.0.1 | 10.44.0.3 |
/// | 10.44.0.0/30 | — | 10.44.0.1 | 10.44.0.2 |
/// | fd00:44::/64 | — | fd00:44::1 | fd00:44::2 |
public enum TunnelAddressAllocator {
    /// A Tunnel's two addresses.
    public struct Allocation: Sendable, Hashable {
        public var gateway: IPAddress
        public var peer: IPAddress

        public init(gateway: IPAddress, peer: IPAddress) {
            self.gateway = gateway
            self.peer = peer
        }
    }

    /// The two lowest usable addresses of `pool` that are not in `taken`.
    ///
    /// - Parameters:
    ///   - pool: A network with no host bits set, holding at least 4 addresses.
    ///   - taken: Addresses other Tunnels hold; addresses outside the pool are ignored.
    /// - Throws: ``WireGuardError/Code/invalidConfiguration`` for a pool smaller than 4 addresses or with host
    ///   bits set; ``WireGuardError/Code/poolExhausted`` when fewer than two usable addresses are free.
    public static func allocate(in pool: IPNetwork, taken: Set<IPAddress>) throws -> Allocation {
        guard !pool.hasHostBits else {
            throw WireGuardError(.invalidConfiguration, "addressPool \(pool) has host bits set; the network is \(pool.networkAddress)/\(pool.prefixLength)")
        }
        guard pool.size >= 4 else {
            throw WireGuardError(.invalidConfiguration, "addressPool \(pool) holds fewer than 4 addresses")
        }
        let usable = usableOffsets(of: pool)
        var found: [IPAddress] = []
        var offset = usable.lowerBound
        while found.count < 2 {
            let candidate = address(in: pool, offset: offset)
            if !taken.contains(candidate) { found.append(candidate) }
            guard offset < usable.upperBound else { break }
            offset += 1
        }
        guard found.count == 2 else {
            let inPool = taken.filter { pool.contains($0) }.count
            throw WireGuardError(.poolExhausted, "addressPool \(pool) has no two free addresses left: \(inPool) are taken by other Tunnels")
        }
        return Allocation(gateway: found[0], peer: found[1])
    }

    /// The address as a one-address network: `/32` for IPv4, `/128` for IPv6.
    public static func hostNetwork(_ address: IPAddress) -> IPNetwork {
        IPNetwork(address: address, prefixLength: address.bitCount)
    }

    /// Offsets from the network address that hosts may use: not 0 (the network address, or IPv6's
    /// subnet-router anycast address) and, for IPv4, not the last (broadcast).
    static func usableOffsets(of pool: IPNetwork) -> ClosedRange<UInt64> {
        let hostBits = pool.address.bitCount - pool.prefixLength
        let last: UInt64 = hostBits >= 64 ? UInt64.max : (UInt64(1) << UInt64(hostBits)) - 1
        if case .v4 = pool.address { return 1...(last - 1) }
        return 1...last
    }

    /// The network address plus `offset`.
    static func address(in pool: IPNetwork, offset: UInt64) -> IPAddress {
        var bytes = pool.networkAddress.bytes
        var carry = offset
        var index = bytes.count - 1
        while carry > 0 && index >= 0 {
            let sum = UInt64(bytes[index]) + (carry & 0xFF)
            bytes[index] = UInt8(truncatingIfNeeded: sum)
            carry = (carry >> 8) + (sum >> 8)
            index -= 1
        }
        return IPAddress(bytes: bytes)!
    }
}
