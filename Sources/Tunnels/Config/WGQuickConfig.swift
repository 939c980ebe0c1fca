public import IPAddresses

/// A `wg-quick` config for the private side of a tunnel: its own interface, and the gateway as its one peer.
///
/// ```
/// [Interface]
/// PrivateKey = <the private side's key>
/// Address = 10.44.0.2/32
///
/// [Peer]
/// PublicKey = <the gateway's key>
/// Endpoint = gw.example.com:51820
/// AllowedIPs = 10.44.0.1/32
/// PersistentKeepalive = 25
/// ```
///
/// It holds a private key: render it only into a Secret, never into a log.
public struct WGQuickConfig: Sendable, Hashable {
    /// The `[Interface] PrivateKey` line.
    public enum PrivateKey: Sendable, Hashable {
        /// A key the controller generated for the private side.
        case key(WireGuardPrivateKey)
        /// The private side brings its own key pair; the controller knows only this public key, so the
        /// line is a placeholder (which `wg-quick` refuses until it is replaced) with a comment saying so.
        case placeholder(forPublicKey: WireGuardPublicKey)
    }

    /// The text the placeholder line holds.
    public static let privateKeyPlaceholder = "REPLACE_WITH_YOUR_PRIVATE_KEY"

    /// Comment lines at the top (without `#`), such as which Tunnel the config belongs to.
    public var header: [String]
    public var privateKey: PrivateKey
    /// The private side's tunnel address (a host network).
    public var address: IPNetwork
    /// The gateway's public key.
    public var peerPublicKey: WireGuardPublicKey
    /// `host:port` the private side dials.
    public var endpoint: String
    /// What the private side routes to the gateway: the gateway's tunnel address.
    public var allowedIPs: [IPNetwork]
    /// Seconds between keepalives; 0 leaves the line out.
    public var persistentKeepalive: Int

    public init(
        header: [String] = [],
        privateKey: PrivateKey,
        address: IPNetwork,
        peerPublicKey: WireGuardPublicKey,
        endpoint: String,
        allowedIPs: [IPNetwork],
        persistentKeepalive: Int
    ) {
        self.header = header
        self.privateKey = privateKey
        self.address = address
        self.peerPublicKey = peerPublicKey
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
    }

    /// The config file's text.
    public func rendered() -> String {
        var lines = header.map { $0.isEmpty ? "#" : "# \($0)" }
        lines.append("[Interface]")
        switch privateKey {
        case .key(let key):
            lines.append("PrivateKey = \(key.base64)")
        case .placeholder(let publicKey):
            lines.append("# spec.wireGuard.peerPublicKey is set, so this side's private key never left it and the")
            lines.append("# controller does not know it: replace the placeholder with the private key whose public")
            lines.append("# key is \(publicKey.base64) (wg-quick refuses the file until you do).")
            lines.append("PrivateKey = \(Self.privateKeyPlaceholder)")
        }
        lines.append("Address = \(address)")
        lines.append("")
        lines.append("[Peer]")
        lines.append("PublicKey = \(peerPublicKey.base64)")
        lines.append("Endpoint = \(endpoint)")
        lines.append("AllowedIPs = \(allowedIPs.map(\.description).joined(separator: ", "))")
        if persistentKeepalive > 0 { lines.append("PersistentKeepalive = \(persistentKeepalive)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
