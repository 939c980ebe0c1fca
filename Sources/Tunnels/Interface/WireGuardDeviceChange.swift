import Foundation
import IPAddresses

/// The smallest change that brings a live interface to its configuration, so that reapplying an unchanged
/// configuration touches nothing and a change keeps the sessions it does not affect.
///
/// When the peer's key changes (a rotation), the old peer's last endpoint is carried over to the new one,
/// so the gateway can start the handshake itself as soon as the private side has its new config.
struct WireGuardDeviceChange: Hashable {
    var privateKey: WireGuardPrivateKey?
    var listenPort: Int?
    var removedPeers: [WireGuardPublicKey] = []
    var peer: WireGuardInterfaceConfiguration.Peer?
    var carriedEndpoint: String?

    init(from current: WireGuardDeviceState, to desired: WireGuardInterfaceConfiguration) {
        if current.privateKey != desired.privateKey { privateKey = desired.privateKey }
        if current.listenPort != desired.listenPort { listenPort = desired.listenPort }
        let stale = current.peers.filter { $0.publicKey != desired.peer.publicKey }
        removedPeers = stale.map(\.publicKey)
        let existing = current.peer(desired.peer.publicKey)
        if existing == nil || Set(existing?.allowedIPs ?? []) != Set(desired.peer.allowedIPs) {
            peer = desired.peer
        }
        if existing?.endpoint == nil, let endpoint = stale.compactMap(\.endpoint).first {
            peer = desired.peer
            carriedEndpoint = endpoint
        }
    }

    var isEmpty: Bool { privateKey == nil && listenPort == nil && removedPeers.isEmpty && peer == nil }

    /// The UAPI `set=1` request, ending with the blank line. It holds the private key when that changes:
    /// never log it.
    var uapiRequest: String {
        var lines = ["set=1"]
        if let privateKey { lines.append("private_key=\(privateKey.hex)") }
        if let listenPort { lines.append("listen_port=\(listenPort)") }
        for key in removedPeers {
            lines.append("public_key=\(key.hex)")
            lines.append("remove=true")
        }
        if let peer {
            lines.append("public_key=\(peer.publicKey.hex)")
            if let carriedEndpoint { lines.append("endpoint=\(carriedEndpoint)") }
            lines.append("replace_allowed_ips=true")
            lines += peer.allowedIPs.map { "allowed_ip=\($0)" }
        }
        return lines.joined(separator: "\n") + "\n\n"
    }

    /// The same change as `wg set` arguments; the private key, when it changes, goes on standard input.
    func wgArguments(interface: String) -> (arguments: [String], standardInput: Data?) {
        var arguments = ["set", interface]
        var input: Data?
        if let privateKey {
            arguments += ["private-key", "/dev/stdin"]
            input = Data((privateKey.base64 + "\n").utf8)
        }
        if let listenPort { arguments += ["listen-port", String(listenPort)] }
        for key in removedPeers { arguments += ["peer", key.base64, "remove"] }
        if let peer {
            arguments += ["peer", peer.publicKey.base64]
            if let carriedEndpoint { arguments += ["endpoint", carriedEndpoint] }
            arguments += ["allowed-ips", peer.allowedIPs.map(\.description).joined(separator: ",")]
        }
        return (arguments, input)
    }
}
