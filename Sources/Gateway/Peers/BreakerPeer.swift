/// Another gateway replica, reached on its admin port.
public struct BreakerPeer: Sendable, Hashable, CustomStringConvertible {
    /// The replica's identity (its Lease's holder).
    public var identity: String
    /// An IP address or host name, without brackets.
    public var host: String
    public var port: Int
    /// Which run of the replica's process this is (it changes when the process restarts under the same
    /// identity and address), so a restarted peer counts as new and is caught up; `nil` when unknown.
    public var incarnation: String?

    /// - Parameters:
    ///   - identity: The replica's identity.
    ///   - address: `host:port`, with an IPv6 address in brackets (`[fd00::7]:9090`).
    ///   - incarnation: Which run of the replica's process this is, if known.
    /// - Throws: ``InvalidAddress`` naming the address when it is not `host:port` with a port of 1–65535.
    public init(identity: String, address: String, incarnation: String? = nil) throws {
        let host: Substring
        let port: Substring
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]"), address[address.index(after: close)...].hasPrefix(":") else {
                throw InvalidAddress(address: address)
            }
            host = address[address.index(after: address.startIndex)..<close]
            port = address[address.index(close, offsetBy: 2)...]
        } else {
            let parts = address.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2 else { throw InvalidAddress(address: address) }
            host = parts[0]
            port = parts[1]
        }
        guard !host.isEmpty, !host.contains(where: \.isWhitespace), let number = Int(port), (1...65535).contains(number) else {
            throw InvalidAddress(address: address)
        }
        self.identity = identity
        self.host = String(host)
        self.port = number
        self.incarnation = incarnation
    }

    /// `host:port`, IPv6 in brackets.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    public var description: String { "\(identity) at \(address)" }

    /// A peer address that is not `host:port`.
    public struct InvalidAddress: Error, Hashable, CustomStringConvertible {
        public var address: String
        public var description: String { "peer address \"\(address)\" is not host:port (an IPv6 address in brackets) with a port of 1-65535" }
    }
}
