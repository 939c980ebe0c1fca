/// Which addresses the gateway may send a tenant's requests to: the checks that hold whether an address
/// was written in a Route or came back from DNS at connect time.
///
/// Never allowed, whatever the exceptions: the Kubernetes API server's endpoints and the gateway's own
/// ports. Refused unless an allowed network covers them: loopback, unspecified (`0.0.0.0/8`, `::`),
/// link-local, the cloud metadata addresses, and the cluster's networks (pod and Service ranges the admin
/// names). IPv4-mapped IPv6 addresses are checked as the IPv4 address they carry.
public struct DestinationPolicy: Sendable, Hashable {
    /// Why an address is refused.
    public enum Refusal: Sendable, Hashable, CustomStringConvertible {
        case loopback
        case unspecified
        case linkLocal
        case metadata
        case clusterNetwork(IPNetwork)
        case apiServer
        case gatewayPort(Int)

        public var description: String {
            switch self {
            case .loopback: "a loopback address"
            case .unspecified: "an unspecified address"
            case .linkLocal: "a link-local address"
            case .metadata: "a cloud metadata address"
            case .clusterNetwork(let network): "in the cluster network \(network); reach a Service of this namespace with upstream.service"
            case .apiServer: "the Kubernetes API server"
            case .gatewayPort(let port): "the gateway's own port \(port)"
            }
        }
    }

    /// An address and port that is refused whatever the exceptions.
    public struct Endpoint: Sendable, Hashable {
        public var address: IPAddress
        /// `nil`: every port.
        public var port: Int?

        public init(address: IPAddress, port: Int?) {
            self.address = address
            self.port = port
        }
    }

    /// Networks a destination may be in even when a rule below refuses it (`--allow-upstream-network`).
    public var allowedNetworks: [IPNetwork]
    /// The pod and Service networks (`--cluster-network`): only a Service upstream, which the controller
    /// resolved itself, may connect into them.
    public var clusterNetworks: [IPNetwork]
    /// The Kubernetes API server's addresses (any port, or one).
    public var apiServer: Set<Endpoint>
    /// The gateway's own listening ports, refused on loopback and on ``localAddresses``.
    public var gatewayPorts: Set<Int>
    /// This host's own addresses, on which ``gatewayPorts`` are refused.
    public var localAddresses: Set<IPAddress>

    public init(
        allowedNetworks: [IPNetwork] = [],
        clusterNetworks: [IPNetwork] = [],
        apiServer: Set<Endpoint> = [],
        gatewayPorts: Set<Int> = [],
        localAddresses: Set<IPAddress> = []
    ) {
        self.allowedNetworks = allowedNetworks
        self.clusterNetworks = clusterNetworks
        self.apiServer = apiServer
        self.gatewayPorts = gatewayPorts
        self.localAddresses = Set(localAddresses.map(\.unmapped))
    }

    /// A policy that refuses nothing but the API server and the gateway's own ports: for tests of
    /// what lies behind the checks.
    public static let unrestricted = DestinationPolicy(allowedNetworks: [IPNetwork("0.0.0.0/0")!, IPNetwork("::/0")!])

    /// The cloud metadata services: AWS, GCP, Azure and OpenStack (169.254.169.254), AWS's IPv6 one,
    /// Azure's wire server, Alibaba Cloud's.
    public static let metadataAddresses: [IPNetwork] = ["169.254.169.254/32", "fd00:ec2::254/128", "168.63.129.16/32", "100.100.100.200/32"]
        .map { IPNetwork($0)! }
    /// Loopback: `127.0.0.0/8` and `::1`.
    public static let loopbackNetworks = ["127.0.0.0/8", "::1/128"].map { IPNetwork($0)! }
    static let unspecified = ["0.0.0.0/8", "::/128"].map { IPNetwork($0)! }
    static let linkLocal = ["169.254.0.0/16", "fe80::/10"].map { IPNetwork($0)! }

    /// Why the gateway may not connect to `address`:`port`, or `nil` when it may.
    ///
    /// - Parameter intoClusterNetwork: Whether the destination is a Service the controller resolved,
    ///   which may lie in a cluster network.
    public func refusal(_ address: IPAddress, port: Int, intoClusterNetwork: Bool = false) -> Refusal? {
        let address = address.unmapped
        if apiServer.contains(Endpoint(address: address, port: nil)) || apiServer.contains(Endpoint(address: address, port: port)) {
            return .apiServer
        }
        if gatewayPorts.contains(port), Self.loopbackNetworks.contains(where: { $0.contains(address) }) || localAddresses.contains(address) {
            return .gatewayPort(port)
        }
        if allowedNetworks.contains(where: { $0.contains(address) }) { return nil }
        if Self.metadataAddresses.contains(where: { $0.contains(address) }) { return .metadata }
        if Self.loopbackNetworks.contains(where: { $0.contains(address) }) { return .loopback }
        if Self.unspecified.contains(where: { $0.contains(address) }) { return .unspecified }
        if Self.linkLocal.contains(where: { $0.contains(address) }) { return .linkLocal }
        if !intoClusterNetwork, let network = clusterNetworks.first(where: { $0.contains(address) }) { return .clusterNetwork(network) }
        return nil
    }
}

extension IPAddress {
    /// The IPv4 address an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) carries; any other address as it is.
    public var unmapped: IPAddress {
        guard case .v6(let bytes) = self, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff else { return self }
        return .v4((bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
