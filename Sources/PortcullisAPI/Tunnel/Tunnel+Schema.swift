public import Kubernetes

extension Tunnel {
    public static let kind = "Tunnel"
    public static let plural = "tunnels"
    public static let shortNames = ["tun"]
    public static let summary =
        "Tunnel is a WireGuard tunnel from the gateway to a private network. The controller manages the keys and addresses and writes a ready wg-quick config for the private side to the connector Secret; Routes reach private addresses through it with spec.upstream.tunnelRef."

    /// A WireGuard key: 32 bytes in standard base64.
    static let wireGuardKeyPattern = #"^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"#

    /// The CEL rule refusing a default route and networks written inside the loopback, unspecified,
    /// link-local, multicast and IPv4-mapped ranges, so a cluster answers 422. The semantic validation
    /// refuses every network that overlaps them, however written (`128.0.0.0/1`, `0:0::1/128`).
    static let reservedNetworkRule = """
        !self.endsWith('/0') && !self.matches('^(0[.]|127[.]|169[.]254[.]|22[4-9][.]|23[0-9][.]|::/|::1/|::[fF]{4}:|[fF][eE][89aAbB][0-9a-fA-F]:|[fF][fF][0-9a-fA-F]{2}:)')
        """
    static let reservedNetworkMessage = "must not be a default route, nor a loopback, unspecified, link-local, multicast or IPv4-mapped network"

    public static var printerColumns: [CustomResourceDefinition.PrinterColumn] {
        [
            .init(name: "Address", type: "string", jsonPath: ".status.address", description: "The gateway's tunnel address."),
            .init(name: "Handshake", type: "date", jsonPath: ".status.lastHandshakeTime", description: "The last WireGuard handshake."),
            conditionColumn("Connected"),
            ageColumn,
            .init(name: "Endpoint", type: "string", jsonPath: ".spec.wireGuard.endpoint", description: "What the private side dials.", priority: 1),
            .init(name: "Peer", type: "string", jsonPath: ".status.peerAddress", description: "The private side's tunnel address.", priority: 1),
        ]
    }

    public static var specSchema: JSONSchemaProps {
        .object(
            "The desired state of the Tunnel.",
            keyedBy: TunnelSpec.CodingKeys.self,
            required: [.wireGuard],
            [
                .wireGuard: .object(
                    "A WireGuard tunnel: the gateway's interface, and the private side that dials it.",
                    keyedBy: WireGuardTunnel.CodingKeys.self,
                    required: [.addressPool, .endpoint, .allowedIPs],
                    [
                        .addressPool: .string(
                            "The network (CIDR) tunnel addresses are drawn from, e.g. 10.44.0.0/24; the gateway and the peer get one each. Tunnels of a namespace sharing a pool never get the same address; no other namespace's Tunnel may overlap it.",
                            maxLength: 64
                        ).rule(reservedNetworkRule, message: reservedNetworkMessage),
                        .listenPort: .integer(
                            "The UDP port the gateway's WireGuard interface listens on.",
                            minimum: 1,
                            maximum: 65535,
                            default: Int64(WireGuardTunnel.defaultListenPort)
                        ),
                        .endpoint: .string(
                            "host:port the private side dials to reach the gateway (the public address of the WireGuard Service), e.g. gw.example.com:51820 or [2001:db8::1]:51820.",
                            maxLength: 261
                        ),
                        .allowedIPs: .array(
                            "The private networks behind the tunnel (CIDR), routed through it for the Routes that name the Tunnel only; never a default route, loopback, link-local, unspecified or multicast.",
                            of: .string("A network in CIDR notation.", maxLength: 64).rule(reservedNetworkRule, message: reservedNetworkMessage),
                            minItems: 1,
                            maxItems: 64,
                            listType: "set"
                        ),
                        .persistentKeepalive: .integer(
                            "Seconds between keepalives the private side sends, to keep NAT mappings open; 0 disables them.",
                            minimum: 0,
                            maximum: 65535,
                            default: Int64(WireGuardTunnel.defaultPersistentKeepalive)
                        ),
                        .connectorSecretName: CommonSchemas.objectName(
                            "The Secret the private side's wg-quick config is written to (key wg0.conf); defaults to <name>-connector."
                        ),
                        .peerPublicKey: .string(
                            "The private side's own WireGuard public key (base64). When set, no peer key pair is generated and the connector config leaves PrivateKey for you to fill in.",
                            pattern: wireGuardKeyPattern
                        ),
                    ]
                )
            ]
        )
    }

    public static var statusSchema: JSONSchemaProps {
        .object(
            "The observed state of the Tunnel, from the live interface.",
            keyedBy: TunnelStatus.CodingKeys.self,
            [
                .observedGeneration: CommonSchemas.observedGeneration,
                .conditions: CommonSchemas.conditions(
                    "Ready: the interface is configured. Connected: the last handshake is younger than 3 minutes."
                ),
                .publicKey: .string("The gateway's WireGuard public key."),
                .address: .string("The gateway's tunnel address (CIDR)."),
                .peerAddress: .string("The private side's tunnel address (CIDR)."),
                .lastHandshakeTime: .string("The last WireGuard handshake with the private side.", format: "date-time"),
                .transferRxBytes: .integer("Bytes received from the private side.", minimum: 0, format: "int64"),
                .transferTxBytes: .integer("Bytes sent to the private side.", minimum: 0, format: "int64"),
            ]
        )
    }
}
