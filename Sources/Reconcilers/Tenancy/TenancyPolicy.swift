public import IPAddresses

/// What the cluster admin lets cross a namespace, from the controller's flags: the one place the
/// tenancy boundary of docs/security.md is configured. Tenants never write any of it.
public struct TenancyPolicy: Sendable {
    /// The token endpoints UpstreamAuths may name.
    public var tokenEndpoints: TokenEndpointPolicy
    /// The projected service account token presented to Google STS for `subjectToken.type:
    /// ServiceAccountToken` (`--gcp-subject-token-file`); `nil` refuses that type.
    public var gcpSubjectTokenFile: String?
    /// The namespaces whose UpstreamAuths may present ``gcpSubjectTokenFile``: it is the installation's
    /// identity, the same for each of them.
    public var gcpSubjectTokenNamespaces: Set<String>
    /// Which addresses upstreams may be at (checked at apply time and again at connect time).
    public var destinations: DestinationPolicy
    /// Host names an upstream URL may name although a rule refuses them (`--allow-upstream-host`):
    /// exact, or `*.suffix`.
    public var allowedUpstreamHosts: [String]
    /// The names of the Kubernetes API server, refused as upstream hosts.
    public var apiServerHosts: Set<String>
    /// Hostnames Routes of several namespaces may serve together (`--shared-hostname`).
    public var sharedHostnames: Set<String>
    /// The namespaces that may hold Routes without hostnames (`--catch-all-namespace`); `nil`: any,
    /// the oldest claim first.
    public var catchAllNamespaces: Set<String>?
    /// The trust domain of the SPIFFE IDs in client certificates (`--spiffe-trust-domain`).
    public var spiffeTrustDomain: String
    /// The cluster's DNS domain (`--cluster-domain`): `<service>.<namespace>.svc.<domain>` names a Service.
    public var clusterDomain: String
    /// Whether credentials may go over cleartext to a loopback upstream without the UpstreamAuth
    /// allowing cleartext: `portcullis dev` only.
    public var allowsCleartextCredentialsToLoopback: Bool

    public init(
        tokenEndpoints: TokenEndpointPolicy = TokenEndpointPolicy(),
        gcpSubjectTokenFile: String? = nil,
        gcpSubjectTokenNamespaces: Set<String> = [],
        destinations: DestinationPolicy = DestinationPolicy(),
        allowedUpstreamHosts: [String] = [],
        apiServerHosts: Set<String> = [],
        sharedHostnames: Set<String> = [],
        catchAllNamespaces: Set<String>? = nil,
        spiffeTrustDomain: String = TenancyPolicy.defaultSPIFFETrustDomain,
        clusterDomain: String = TenancyPolicy.defaultClusterDomain,
        allowsCleartextCredentialsToLoopback: Bool = false
    ) {
        self.tokenEndpoints = tokenEndpoints
        self.gcpSubjectTokenFile = gcpSubjectTokenFile
        self.gcpSubjectTokenNamespaces = gcpSubjectTokenNamespaces
        self.destinations = destinations
        self.allowedUpstreamHosts = allowedUpstreamHosts.map { $0.lowercased() }
        self.apiServerHosts = Set(apiServerHosts.map { $0.lowercased() }).union(Self.kubernetesServiceNames)
        self.sharedHostnames = Set(sharedHostnames.map { $0.lowercased() })
        self.catchAllNamespaces = catchAllNamespaces
        self.spiffeTrustDomain = spiffeTrustDomain
        self.clusterDomain = clusterDomain.lowercased()
        self.allowsCleartextCredentialsToLoopback = allowsCleartextCredentialsToLoopback
    }

    public static let defaultSPIFFETrustDomain = "cluster.local"
    public static let defaultClusterDomain = "cluster.local"

    /// What `portcullis dev` relaxes on a laptop: loopback upstreams, loopback token endpoints, and
    /// credentials over cleartext to loopback. Never the rest.
    public mutating func allowLoopback() {
        destinations.allowedNetworks += DestinationPolicy.loopbackNetworks
        allowedUpstreamHosts.append("localhost")
        tokenEndpoints.allowsLoopback = true
        allowsCleartextCredentialsToLoopback = true
    }

    /// The defaults with what `portcullis dev` relaxes (``allowLoopback()``): for tests of what lies
    /// behind the boundary, with their upstreams and token services on loopback.
    public static var development: TenancyPolicy {
        var policy = TenancyPolicy()
        policy.allowLoopback()
        return policy
    }

    /// The in-cluster names of the API server's Service.
    static let kubernetesServiceNames: Set<String> = [
        "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
    ]
}
