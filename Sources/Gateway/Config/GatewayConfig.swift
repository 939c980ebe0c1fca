public import IPAddresses
public import Resilience

/// Everything the gateway serves, as one immutable value: the reconcilers build it from Routes,
/// UpstreamAuths and Tunnels, and the gateway swaps it in atomically. It holds no Kubernetes types.
public struct GatewayConfig: Sendable, Hashable {
    /// Increases with every config the reconcilers produce.
    public var generation: Int64
    public var routes: [RouteConfig]
    /// The discovery document and JWKS of the gateway's JWT issuer, served on the gateway's port.
    public var issuer: IssuerDocuments?
    /// The addresses upstream connections may go to, checked on every address a name resolves to. The
    /// controller sets the installation's policy; unset, only the API server and the gateway's own ports it
    /// names are refused, which here is nothing.
    public var destinations: DestinationPolicy

    public init(generation: Int64 = 0, routes: [RouteConfig] = [], issuer: IssuerDocuments? = nil, destinations: DestinationPolicy = .unrestricted) {
        self.generation = generation
        self.routes = routes
        self.issuer = issuer
        self.destinations = destinations
    }
}

/// Identifies a route by the namespace and name of the Route it came from.
public struct RouteKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String

    public init(namespace: String, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: RouteKey, rhs: RouteKey) -> Bool { (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name) }
}

/// One route: which requests it takes, where they go, and the policies on the way.
///
/// A value with its fields in one shared, immutable box: copying a route (into the router, the
/// controller's cache, each request) is a reference count, not a copy of a kilobyte of fields; setting
/// a field makes a new box.
public struct RouteConfig: Sendable, Hashable {
    private struct Fields: Sendable, Hashable {
        var key: RouteKey
        var generation: Int64
        var createdAt: Int64
        var match: RouteMatchRule
        var upstream: UpstreamTarget
        var rewritePrefix: String?
        var forwardClientCredentials: Bool
        var timeouts: TimeoutConfiguration
        var retry: RetryConfiguration
        var circuitBreaker: CircuitBreakerConfiguration?
        var bulkhead: BulkheadConfiguration
        var fallback: Fallback?
        var credentials: [RouteCredential]
        var maxRequestBodyBytes: Int64?
    }

    private final class Storage: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var storage: Storage

    private mutating func update(_ change: (inout Fields) -> Void) {
        var fields = storage.fields
        change(&fields)
        storage = Storage(fields)
    }

    public var key: RouteKey {
        get { storage.fields.key }
        set { update { $0.key = newValue } }
    }
    /// The Route's `metadata.generation`, reported back so status can say which generation is served.
    public var generation: Int64 {
        get { storage.fields.generation }
        set { update { $0.generation = newValue } }
    }
    /// When the Route was created, seconds since 1970: older routes win ties, as in the Gateway API.
    public var createdAt: Int64 {
        get { storage.fields.createdAt }
        set { update { $0.createdAt = newValue } }
    }
    public var match: RouteMatchRule {
        get { storage.fields.match }
        set { update { $0.match = newValue } }
    }
    public var upstream: UpstreamTarget {
        get { storage.fields.upstream }
        set { update { $0.upstream = newValue } }
    }
    /// Replaces the matched path prefix before the request goes upstream.
    public var rewritePrefix: String? {
        get { storage.fields.rewritePrefix }
        set { update { $0.rewritePrefix = newValue } }
    }
    /// Whether the client's Authorization and Proxy-Authorization headers reach the upstream.
    public var forwardClientCredentials: Bool {
        get { storage.fields.forwardClientCredentials }
        set { update { $0.forwardClientCredentials = newValue } }
    }
    public var timeouts: TimeoutConfiguration {
        get { storage.fields.timeouts }
        set { update { $0.timeouts = newValue } }
    }
    public var retry: RetryConfiguration {
        get { storage.fields.retry }
        set { update { $0.retry = newValue } }
    }
    /// `nil`: no circuit breaker.
    public var circuitBreaker: CircuitBreakerConfiguration? {
        get { storage.fields.circuitBreaker }
        set { update { $0.circuitBreaker = newValue } }
    }
    public var bulkhead: BulkheadConfiguration {
        get { storage.fields.bulkhead }
        set { update { $0.bulkhead = newValue } }
    }
    public var fallback: Fallback? {
        get { storage.fields.fallback }
        set { update { $0.fallback = newValue } }
    }
    /// The credentials put on every upstream request, in order; a mutual TLS identity is in the
    /// upstream's ``UpstreamTarget/TLS`` instead.
    public var credentials: [RouteCredential] {
        get { storage.fields.credentials }
        set { update { $0.credentials = newValue } }
    }
    /// The largest request body taken, in bytes; a larger one gets 413. `nil`: no limit.
    public var maxRequestBodyBytes: Int64? {
        get { storage.fields.maxRequestBodyBytes }
        set { update { $0.maxRequestBodyBytes = newValue } }
    }

    public init(
        key: RouteKey,
        generation: Int64 = 1,
        createdAt: Int64 = 0,
        match: RouteMatchRule = RouteMatchRule(),
        upstream: UpstreamTarget,
        rewritePrefix: String? = nil,
        forwardClientCredentials: Bool = false,
        timeouts: TimeoutConfiguration = TimeoutConfiguration(),
        retry: RetryConfiguration = RetryConfiguration(),
        circuitBreaker: CircuitBreakerConfiguration? = nil,
        bulkhead: BulkheadConfiguration = BulkheadConfiguration(),
        fallback: Fallback? = nil,
        credentials: [RouteCredential] = [],
        maxRequestBodyBytes: Int64? = nil
    ) {
        storage = Storage(
            Fields(
                key: key,
                generation: generation,
                createdAt: createdAt,
                match: match,
                upstream: upstream,
                rewritePrefix: rewritePrefix,
                forwardClientCredentials: forwardClientCredentials,
                timeouts: timeouts,
                retry: retry,
                circuitBreaker: circuitBreaker,
                bulkhead: bulkhead,
                fallback: fallback,
                credentials: credentials,
                maxRequestBodyBytes: maxRequestBodyBytes
            )
        )
    }

    public static func == (lhs: RouteConfig, rhs: RouteConfig) -> Bool {
        lhs.storage === rhs.storage || lhs.storage.fields == rhs.storage.fields
    }

    public func hash(into hasher: inout Hasher) { storage.fields.hash(into: &hasher) }

    /// What the gateway serves when the breaker is open or every attempt failed.
    public enum Fallback: Sendable, Hashable {
        case upstream(UpstreamTarget)
        case response(status: Int, contentType: String, body: String)
    }
}

/// Which requests a route takes; every condition given must hold.
public struct RouteMatchRule: Sendable, Hashable {
    /// Lowercase host names, exact or `*.suffix`; empty means any host.
    public var hostnames: [String]
    public var path: PathRule
    /// Uppercase methods; empty means any.
    public var methods: [String]
    /// Headers that must be present with exactly these values; names are matched case-insensitively.
    public var headers: [HeaderRule]

    public init(hostnames: [String] = [], path: PathRule = .prefix("/"), methods: [String] = [], headers: [HeaderRule] = []) {
        self.hostnames = hostnames
        self.path = path
        self.methods = methods
        self.headers = headers
    }

    /// A match on the request path.
    public enum PathRule: Sendable, Hashable {
        /// The path alone.
        case exact(String)
        /// Whole path segments: `/api` matches `/api` and `/api/v1`, not `/apis`.
        case prefix(String)
        /// An anchored regular expression over the whole path.
        case regularExpression(String)
    }

    /// A header that must be present with an exact value.
    public struct HeaderRule: Sendable, Hashable {
        /// Lowercase.
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name.lowercased()
            self.value = value
        }
    }
}

/// Where a route's requests go.
public struct UpstreamTarget: Sendable, Hashable, CustomStringConvertible {
    public enum Scheme: String, Sendable, Hashable {
        case http
        case https
    }

    /// The HTTP version spoken to the upstream.
    public enum HTTPProtocol: String, Sendable, Hashable {
        /// HTTP/1.1 on keep-alive connections, one request at a time per connection.
        case http1 = "HTTP/1.1"
        /// HTTP/2: over https only when the upstream selects `h2` by ALPN, over http with prior
        /// knowledge (h2c). Requests are streams multiplexed on as few connections as the upstream's
        /// `SETTINGS_MAX_CONCURRENT_STREAMS` allows.
        case http2 = "HTTP/2"
    }

    public var scheme: Scheme
    public var host: String
    public var port: Int
    /// A path put in front of the request path (from a URL upstream), without a trailing slash.
    public var basePath: String
    public var tls: TLS?
    /// The Tunnel the upstream is reached through, if any: connections to it leave from the tunnel's
    /// address, and only they.
    public var tunnel: Tunnel?
    /// The HTTP version spoken to the upstream. Default: HTTP/1.1.
    public var httpProtocol: HTTPProtocol
    /// The name or address connected to when it is not ``host``: an absolute DNS name (ending in `.`), so
    /// that the resolver's search domains cannot turn a short name into a cluster name.
    public var connectHost: String?
    /// Whether the destination is a cluster Service the controller resolved itself, which may lie in a
    /// cluster network (``DestinationPolicy/clusterNetworks``).
    public var intoClusterNetwork: Bool

    public init(
        scheme: Scheme,
        host: String,
        port: Int,
        basePath: String = "",
        tls: TLS? = nil,
        tunnel: Tunnel? = nil,
        httpProtocol: HTTPProtocol = .http1,
        connectHost: String? = nil,
        intoClusterNetwork: Bool = false
    ) {
        self.scheme = scheme
        self.host = host
        self.port = port
        self.basePath = basePath
        self.tls = tls
        self.tunnel = tunnel
        self.httpProtocol = httpProtocol
        self.connectHost = connectHost
        self.intoClusterNetwork = intoClusterNetwork
    }

    /// A Tunnel the upstream is reached through. The gateway binds the upstream connections to the
    /// tunnel's address, which a routing rule sends to the tunnel's own table, so they go through the tunnel
    /// (and nowhere else) while no other connection does. Connections pool per target, so those of a route
    /// through a tunnel and those of a route to the same origin without one never share a connection.
    public struct Tunnel: Sendable, Hashable, CustomStringConvertible {
        /// The Tunnel's name, for descriptions.
        public var name: String
        /// The gateway's address on the tunnel, which upstream connections are bound to.
        public var sourceAddress: IPAddress

        public init(name: String, sourceAddress: IPAddress) {
            self.name = name
            self.sourceAddress = sourceAddress
        }

        /// `name (from address)`.
        public var description: String { "\(name) (from \(sourceAddress))" }
    }

    /// How an https upstream is verified.
    public struct TLS: Sendable, Hashable {
        /// PEM CA bundle to trust instead of the system roots.
        public var trustedCAPEM: String? { didSet { fingerprint = Self.fingerprint(self) } }
        /// SNI and the name verified; the upstream host when `nil`.
        public var serverName: String? { didSet { fingerprint = Self.fingerprint(self) } }
        public var insecureSkipVerify: Bool { didSet { fingerprint = Self.fingerprint(self) } }
        /// The client certificate presented to the upstream, if any. Connections are pooled per
        /// identity, so two routes to one origin with different identities never share one.
        public var clientIdentity: ClientIdentity? { didSet { fingerprint = Self.fingerprint(self) } }
        /// A digest of the fields, computed once: connection pools look targets up per request, and
        /// hashing kilobytes of PEM each time would cost more than the lookup.
        private var fingerprint: UInt64 = 0

        public init(trustedCAPEM: String? = nil, serverName: String? = nil, insecureSkipVerify: Bool = false, clientIdentity: ClientIdentity? = nil) {
            self.trustedCAPEM = trustedCAPEM
            self.serverName = serverName
            self.insecureSkipVerify = insecureSkipVerify
            self.clientIdentity = clientIdentity
            self.fingerprint = Self.fingerprint(self)
        }

        public static func == (lhs: TLS, rhs: TLS) -> Bool {
            lhs.fingerprint == rhs.fingerprint && lhs.trustedCAPEM == rhs.trustedCAPEM && lhs.serverName == rhs.serverName
                && lhs.insecureSkipVerify == rhs.insecureSkipVerify && lhs.clientIdentity == rhs.clientIdentity
        }

        public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

        /// FNV-1a over every field.
        private static func fingerprint(_ tls: TLS) -> UInt64 {
            var state: UInt64 = 0xcbf2_9ce4_8422_2325
            for field in [tls.trustedCAPEM, tls.serverName, tls.clientIdentity?.certificateChainPEM, tls.clientIdentity?.privateKeyPEM] {
                for byte in (field ?? "").utf8 {
                    state = (state ^ UInt64(byte)) &* 0x100_0000_01b3
                }
                state = (state ^ (field == nil ? 0xfe : 0xff)) &* 0x100_0000_01b3
            }
            return (state ^ (tls.insecureSkipVerify ? 1 : 0)) &* 0x100_0000_01b3
        }
    }

    /// The upstream's origin as a browser writes it (RFC 6454): `scheme://host`, with `:port` only
    /// when it is not the scheme's default. The default audience of gateway JWTs.
    public var origin: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        let defaultPort = scheme == .https ? 443 : 80
        return port == defaultPort ? "\(scheme.rawValue)://\(bracketed)" : "\(scheme.rawValue)://\(bracketed):\(port)"
    }

    /// `scheme://host:port`, the origin requests go to.
    public var description: String {
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return "\(scheme.rawValue)://\(bracketed):\(port)"
    }
}
