public import Foundation
public import IPAddresses

/// What a live WireGuard interface reports: its key and port, and per peer the last handshake and traffic.
/// Read from the UAPI socket (`get=1`) or from `wg show <interface> dump`.
public struct WireGuardDeviceState: Sendable, Hashable {
    /// One peer as the interface sees it.
    public struct Peer: Sendable, Hashable {
        public var publicKey: WireGuardPublicKey
        /// Where the peer's packets last came from (`host:port`), if any arrived.
        public var endpoint: String?
        public var allowedIPs: [IPNetwork]
        /// The last completed handshake; `nil` before the first.
        public var lastHandshake: Date?
        public var receivedBytes: Int64
        public var transmittedBytes: Int64
        /// Seconds between keepalives; 0 when off.
        public var persistentKeepalive: Int

        public init(
            publicKey: WireGuardPublicKey,
            endpoint: String? = nil,
            allowedIPs: [IPNetwork] = [],
            lastHandshake: Date? = nil,
            receivedBytes: Int64 = 0,
            transmittedBytes: Int64 = 0,
            persistentKeepalive: Int = 0
        ) {
            self.publicKey = publicKey
            self.endpoint = endpoint
            self.allowedIPs = allowedIPs
            self.lastHandshake = lastHandshake
            self.receivedBytes = receivedBytes
            self.transmittedBytes = transmittedBytes
            self.persistentKeepalive = persistentKeepalive
        }
    }

    /// The interface's private key; `nil` when none is set. Prints as `<redacted>`.
    public var privateKey: WireGuardPrivateKey?
    /// The UDP port it listens on; 0 when none is set.
    public var listenPort: Int
    public var peers: [Peer]

    public init(privateKey: WireGuardPrivateKey? = nil, listenPort: Int = 0, peers: [Peer] = []) {
        self.privateKey = privateKey
        self.listenPort = listenPort
        self.peers = peers
    }

    /// The peer with this public key.
    public func peer(_ publicKey: WireGuardPublicKey) -> Peer? {
        peers.first { $0.publicKey == publicKey }
    }

    /// Parses the answer to a UAPI `get=1`: `key=value` lines, hex keys, `public_key` starting each peer.
    ///
    /// - Throws: ``WireGuardError/Code/protocolError`` for a line it cannot read (quoting the key, never a value
    ///   of `private_key`).
    static func parseUAPI(_ text: String) throws -> WireGuardDeviceState {
        var state = WireGuardDeviceState()
        var handshakeSeconds: Int64 = 0
        func finishPeer() {
            guard !state.peers.isEmpty else { return }
            if handshakeSeconds > 0 {
                state.peers[state.peers.count - 1].lastHandshake = Date(timeIntervalSince1970: TimeInterval(handshakeSeconds))
            }
            handshakeSeconds = 0
        }
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else {
                throw WireGuardError(.protocolError, "UAPI: unexpected line without '=' (\(line.prefix(32)))")
            }
            let key = String(line[..<equals])
            let value = String(line[line.index(after: equals)...])
            func integer() throws -> Int64 {
                guard let number = Int64(value) else { throw WireGuardError(.protocolError, "UAPI: \(key) is not a number: \(value)") }
                return number
            }
            switch key {
            case "private_key":
                guard let bytes = WireGuardKeyEncoding.decodeHex(value) else {
                    throw WireGuardError(.protocolError, "UAPI: private_key is not a hex-encoded key")
                }
                state.privateKey = bytes.allSatisfy { $0 == 0 } ? nil : try WireGuardPrivateKey(rawRepresentation: bytes)
            case "listen_port":
                state.listenPort = Int(try integer())
            case "public_key":
                finishPeer()
                state.peers.append(Peer(publicKey: try WireGuardPublicKey(hex: value)))
            case "endpoint" where !state.peers.isEmpty:
                state.peers[state.peers.count - 1].endpoint = value
            case "allowed_ip" where !state.peers.isEmpty:
                guard let network = IPNetwork(value) else { throw WireGuardError(.protocolError, "UAPI: allowed_ip \(value) is not a network") }
                state.peers[state.peers.count - 1].allowedIPs.append(network)
            case "last_handshake_time_sec" where !state.peers.isEmpty:
                handshakeSeconds = try integer()
            case "rx_bytes" where !state.peers.isEmpty:
                state.peers[state.peers.count - 1].receivedBytes = try integer()
            case "tx_bytes" where !state.peers.isEmpty:
                state.peers[state.peers.count - 1].transmittedBytes = try integer()
            case "persistent_keepalive_interval" where !state.peers.isEmpty:
                state.peers[state.peers.count - 1].persistentKeepalive = Int(try integer())
            case "errno":
                let number = try integer()
                guard number == 0 else { throw WireGuardError(.protocolError, "UAPI: get=1 failed with errno \(number)") }
            default:
                continue  // fwmark, preshared_key, protocol_version, last_handshake_time_nsec, ...
            }
        }
        finishPeer()
        return state
    }

    /// Parses `wg show <interface> dump`: a tab-separated line for the interface (private key, public key,
    /// listen port, fwmark), then one per peer (public key, preshared key, endpoint, allowed IPs, latest
    /// handshake, bytes received, bytes sent, persistent keepalive).
    ///
    /// - Throws: ``WireGuardError/Code/protocolError`` for a line it cannot read.
    static func parseDump(_ text: String) throws -> WireGuardDeviceState {
        var lines = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard !lines.isEmpty, lines[0].count == 4 else {
            throw WireGuardError(.protocolError, "wg show dump: the first line does not describe an interface")
        }
        let interface = lines.removeFirst()
        var state = WireGuardDeviceState(
            privateKey: interface[0] == "(none)" ? nil : try WireGuardPrivateKey(base64: interface[0], field: "wg show dump: private key"),
            listenPort: Int(interface[2]) ?? 0
        )
        for fields in lines {
            guard fields.count == 8, let handshake = Int64(fields[4]), let received = Int64(fields[5]), let sent = Int64(fields[6]) else {
                throw WireGuardError(.protocolError, "wg show dump: a peer line does not have 8 fields")
            }
            var allowed: [IPNetwork] = []
            for text in fields[3].split(separator: ",") where fields[3] != "(none)" {
                guard let network = IPNetwork(String(text)) else { throw WireGuardError(.protocolError, "wg show dump: \(text) is not a network") }
                allowed.append(network)
            }
            state.peers.append(
                Peer(
                    publicKey: try WireGuardPublicKey(base64: fields[0], field: "wg show dump: peer public key"),
                    endpoint: fields[2] == "(none)" ? nil : fields[2],
                    allowedIPs: allowed,
                    lastHandshake: handshake > 0 ? Date(timeIntervalSince1970: TimeInterval(handshake)) : nil,
                    receivedBytes: received,
                    transmittedBytes: sent,
                    persistentKeepalive: Int(fields[7]) ?? 0
                )
            )
        }
        return state
    }
}
