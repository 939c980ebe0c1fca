public import Kubernetes

/// A WireGuard tunnel from the gateway to a private network: the private side dials out, and Routes
/// with a `tunnelRef` reach private addresses through it.
public struct Tunnel: CustomResource {
    public var apiVersion: String = PortcullisAPIGroup.apiVersion
    public var kind: String = Tunnel.kind
    public var metadata: ObjectMeta
    public var spec: TunnelSpec
    public var status: TunnelStatus?

    public init(metadata: ObjectMeta, spec: TunnelSpec, status: TunnelStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The desired state of a Tunnel.
public struct TunnelSpec: Sendable, Hashable, Codable {
    public var wireGuard: WireGuardTunnel

    public init(wireGuard: WireGuardTunnel) { self.wireGuard = wireGuard }

    enum CodingKeys: String, CodingKey, CaseIterable { case wireGuard }
}

/// A WireGuard peer pair: the gateway's interface and the private side's connector.
public struct WireGuardTunnel: Sendable, Hashable, Codable {
    public static let defaultListenPort = 51820
    public static let defaultPersistentKeepalive = 25

    /// The network tunnel addresses are drawn from; the gateway and the peer get one each.
    public var addressPool: String
    /// The UDP port the gateway listens on.
    public var listenPort: Int?
    /// `host:port` the private side dials to reach the gateway.
    public var endpoint: String
    /// Private networks behind the tunnel, routed through it.
    public var allowedIPs: [String]
    /// Seconds between keepalives the private side sends; 0 disables them.
    public var persistentKeepalive: Int?
    /// The Secret the private side's wg-quick config is written to; defaults to `<name>-connector`.
    public var connectorSecretName: String?
    /// The private side's own public key; when set, no peer key pair is generated.
    public var peerPublicKey: String?

    public init(
        addressPool: String,
        listenPort: Int? = nil,
        endpoint: String,
        allowedIPs: [String],
        persistentKeepalive: Int? = nil,
        connectorSecretName: String? = nil,
        peerPublicKey: String? = nil
    ) {
        self.addressPool = addressPool
        self.listenPort = listenPort
        self.endpoint = endpoint
        self.allowedIPs = allowedIPs
        self.persistentKeepalive = persistentKeepalive
        self.connectorSecretName = connectorSecretName
        self.peerPublicKey = peerPublicKey
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case addressPool, listenPort, endpoint, allowedIPs, persistentKeepalive, connectorSecretName, peerPublicKey
    }
}

/// What the controller and the live interface report about a Tunnel.
public struct TunnelStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    /// Ready (the interface is configured) and Connected (a handshake within the last 3 minutes).
    public var conditions: [Condition]?
    /// The gateway's WireGuard public key.
    public var publicKey: String?
    /// The gateway's tunnel address, in CIDR notation.
    public var address: String?
    /// The private side's tunnel address, in CIDR notation.
    public var peerAddress: String?
    public var lastHandshakeTime: String?
    public var transferRxBytes: Int64?
    public var transferTxBytes: Int64?

    public init(
        observedGeneration: Int64? = nil,
        conditions: [Condition]? = nil,
        publicKey: String? = nil,
        address: String? = nil,
        peerAddress: String? = nil,
        lastHandshakeTime: String? = nil,
        transferRxBytes: Int64? = nil,
        transferTxBytes: Int64? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.publicKey = publicKey
        self.address = address
        self.peerAddress = peerAddress
        self.lastHandshakeTime = lastHandshakeTime
        self.transferRxBytes = transferRxBytes
        self.transferTxBytes = transferTxBytes
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case observedGeneration, conditions, publicKey, address, peerAddress, lastHandshakeTime, transferRxBytes, transferTxBytes
    }
}
