#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address, parsed from its textual form.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4((UInt8, UInt8, UInt8, UInt8))
    case v6([UInt8])

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text; `nil` for anything else.
    public init?(_ text: String) {
        if text.contains(":") {
            var storage = in6_addr()
            guard inet_pton(AF_INET6, text, &storage) == 1 else { return nil }
            self = .v6(withUnsafeBytes(of: storage) { Array($0) })
        } else {
            var storage = in_addr()
            guard inet_pton(AF_INET, text, &storage) == 1 else { return nil }
            let bytes = withUnsafeBytes(of: storage) { Array($0) }
            self = .v4((bytes[0], bytes[1], bytes[2], bytes[3]))
        }
    }

    /// The address from network-order bytes (4 for IPv4, 16 for IPv6).
    public init?(bytes: [UInt8]) {
        switch bytes.count {
        case 4: self = .v4((bytes[0], bytes[1], bytes[2], bytes[3]))
        case 16: self = .v6(bytes)
        default: return nil
        }
    }

    /// The address in network byte order.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let b): return [b.0, b.1, b.2, b.3]
        case .v6(let bytes): return bytes
        }
    }

    /// The address length in bits: 32 or 128.
    public var bitCount: Int { bytes.count * 8 }

    public var description: String {
        switch self {
        case .v4(let b): return "\(b.0).\(b.1).\(b.2).\(b.3)"
        case .v6(let bytes):
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &storage, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public static func == (lhs: IPAddress, rhs: IPAddress) -> Bool { lhs.bytes == rhs.bytes }
    public func hash(into hasher: inout Hasher) { hasher.combine(bytes) }
}

/// A network in CIDR notation, such as `10.44.0.0/24` or `fd00:44::/64`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `address/prefix`; `nil` when either part is malformed.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let prefix = Int(parts[1]),
            parts[1].allSatisfy(\.isASCII), (0...address.bitCount).contains(prefix)
        else { return nil }
        self.address = address
        self.prefixLength = prefix
    }

    public init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// The network address: the address with every host bit cleared.
    public var networkAddress: IPAddress {
        IPAddress(bytes: IPNetwork.mask(address.bytes, prefixLength: prefixLength))!
    }

    /// Whether the address has host bits set (`10.0.0.1/24` rather than `10.0.0.0/24`).
    public var hasHostBits: Bool { networkAddress != address }

    /// How many addresses the network holds, saturating at `UInt64.max`.
    public var size: UInt64 {
        let hostBits = address.bitCount - prefixLength
        return hostBits >= 64 ? UInt64.max : UInt64(1) << UInt64(hostBits)
    }

    /// Whether `other` lies inside this network.
    public func contains(_ other: IPAddress) -> Bool {
        other.bitCount == address.bitCount
            && IPNetwork.mask(other.bytes, prefixLength: prefixLength) == networkAddress.bytes
    }

    /// Whether the two networks share any address.
    public func overlaps(_ other: IPNetwork) -> Bool {
        contains(other.networkAddress) || other.contains(networkAddress)
    }

    static func mask(_ bytes: [UInt8], prefixLength: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bitsInByte = max(0, min(8, prefixLength - index * 8))
            return bitsInByte == 0 ? 0 : byte & UInt8(truncatingIfNeeded: 0xFF << (8 - bitsInByte))
        }
    }
}
