public import Kubernetes

/// How the gateway proves its identity to an upstream without a long-lived secret: exactly one
/// credential source, and where the credential goes on the request.
public struct UpstreamAuth: CustomResource {
    public var apiVersion: String = PortcullisAPIGroup.apiVersion
    public var kind: String = UpstreamAuth.kind
    public var metadata: ObjectMeta
    public var spec: UpstreamAuthSpec
    public var status: UpstreamAuthStatus?

    public init(metadata: ObjectMeta, spec: UpstreamAuthSpec, status: UpstreamAuthStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The desired state of an UpstreamAuth: exactly one of the credential sources.
public struct UpstreamAuthSpec: Sendable, Hashable, Codable {
    public var gatewayJWT: GatewayJWT?
    public var gcpWorkloadIdentity: GCPWorkloadIdentity?
    public var azureAD: AzureAD?
    public var oauth2ClientCredentials: OAuth2ClientCredentials?
    public var mutualTLS: MutualTLS?
    /// Where the token goes; not used with mutualTLS.
    public var header: CredentialHeader?
    /// When tokens are refreshed; not used with mutualTLS.
    public var refresh: RefreshPolicy?
    /// Where the credential may be sent; absent: to the upstream of any Route in this namespace.
    public var allowedDestinations: [CredentialDestination]?
    /// Whether the credential may be sent over cleartext (an `http` upstream). Default false.
    public var allowCleartext: Bool?
    /// Whether the credential may be sent to an upstream whose certificate is not verified
    /// (`tls.insecureSkipVerify`). Default false.
    public var allowUnverifiedTLS: Bool?

    public init(
        gatewayJWT: GatewayJWT? = nil,
        gcpWorkloadIdentity: GCPWorkloadIdentity? = nil,
        azureAD: AzureAD? = nil,
        oauth2ClientCredentials: OAuth2ClientCredentials? = nil,
        mutualTLS: MutualTLS? = nil,
        header: CredentialHeader? = nil,
        refresh: RefreshPolicy? = nil,
        allowedDestinations: [CredentialDestination]? = nil,
        allowCleartext: Bool? = nil,
        allowUnverifiedTLS: Bool? = nil
    ) {
        self.gatewayJWT = gatewayJWT
        self.gcpWorkloadIdentity = gcpWorkloadIdentity
        self.azureAD = azureAD
        self.oauth2ClientCredentials = oauth2ClientCredentials
        self.mutualTLS = mutualTLS
        self.header = header
        self.refresh = refresh
        self.allowedDestinations = allowedDestinations
        self.allowCleartext = allowCleartext
        self.allowUnverifiedTLS = allowUnverifiedTLS
    }

    /// Which credential source is set, or `nil` when none or several are.
    public var credentialType: CredentialType? {
        let set: [CredentialType] = [
            gatewayJWT.map { _ in .gatewayJWT }, gcpWorkloadIdentity.map { _ in .gcpWorkloadIdentity },
            azureAD.map { _ in .azureAD }, oauth2ClientCredentials.map { _ in .oauth2ClientCredentials },
            mutualTLS.map { _ in .mutualTLS },
        ].compactMap { $0 }
        return set.count == 1 ? set[0] : nil
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case gatewayJWT, gcpWorkloadIdentity, azureAD, oauth2ClientCredentials, mutualTLS, header, refresh, allowedDestinations, allowCleartext,
            allowUnverifiedTLS
    }
}

/// An upstream an UpstreamAuth's credential may be sent to: an origin, or a Service of its namespace.
public struct CredentialDestination: Sendable, Hashable, Codable {
    /// An origin, `https://host[:port]`; the host may start with `*.` for any name under a domain.
    public var url: String?
    public var service: CredentialDestinationService?

    public init(url: String? = nil, service: CredentialDestinationService? = nil) {
        self.url = url
        self.service = service
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case url, service }
}

/// A Service of the UpstreamAuth's namespace, as a credential destination.
public struct CredentialDestinationService: Sendable, Hashable, Codable {
    public var name: String
    /// The port; absent: any port of the Service.
    public var port: Int?

    public init(name: String, port: Int? = nil) {
        self.name = name
        self.port = port
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, port }
}

/// The kinds of credential an UpstreamAuth can produce, as `status.type` names them.
public enum CredentialType: String, Sendable, Hashable, Codable, CaseIterable {
    case gatewayJWT = "GatewayJWT"
    case gcpWorkloadIdentity = "GCPWorkloadIdentity"
    case azureAD = "AzureAD"
    case oauth2ClientCredentials = "OAuth2ClientCredentials"
    case mutualTLS = "MutualTLS"
}

/// A JWT signed by the gateway's own key, verifiable through the installation's JWKS.
public struct GatewayJWT: Sendable, Hashable, Codable {
    public enum Algorithm: String, Sendable, Hashable, Codable, CaseIterable {
        case es256 = "ES256"
        case rs256 = "RS256"
        case edDSA = "EdDSA"
    }

    public static let defaultTTL = APIDuration(.seconds(300))
    public static let minimumTTL = APIDuration(.seconds(30))
    public static let maximumTTL = APIDuration(.seconds(86400))
    public static let defaultAlgorithm = Algorithm.es256
    /// Claims the gateway sets itself, which `claims` cannot override.
    public static let reservedClaims: Set<String> = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]

    /// What `sub` says after `portcullis:<namespace>:`, without `:`; defaults to the UpstreamAuth's name. The `iss`
    /// is always the installation's issuer URL, and the namespace always the UpstreamAuth's.
    public var subject: String?
    /// The `aud` claim; defaults to the upstream origin (`https://api.example.com`).
    public var audience: String?
    public var ttl: APIDuration?
    /// Extra string claims.
    public var claims: [String: String]?
    public var algorithm: Algorithm?
    /// Mint a fresh token for every request instead of reusing one per audience until it nears expiry.
    public var mintPerRequest: Bool?

    public init(
        subject: String? = nil,
        audience: String? = nil,
        ttl: APIDuration? = nil,
        claims: [String: String]? = nil,
        algorithm: Algorithm? = nil,
        mintPerRequest: Bool? = nil
    ) {
        self.subject = subject
        self.audience = audience
        self.ttl = ttl
        self.claims = claims
        self.algorithm = algorithm
        self.mintPerRequest = mintPerRequest
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case subject, audience, ttl, claims, algorithm, mintPerRequest }
}

/// Google Cloud workload identity federation: a subject token exchanged at Google STS, then
/// optionally a service account's access or ID token from IAM Credentials.
public struct GCPWorkloadIdentity: Sendable, Hashable, Codable {
    public enum TokenType: String, Sendable, Hashable, Codable, CaseIterable {
        case accessToken = "AccessToken"
        /// An OpenID Connect ID token, for Cloud Run and IAP; needs serviceAccount.
        case idToken = "IDToken"
    }

    public static let defaultTokenType = TokenType.accessToken
    public static let defaultScopes = ["https://www.googleapis.com/auth/cloud-platform"]
    public static let defaultLifetime = APIDuration(.seconds(3600))
    public static let maximumLifetime = APIDuration(.seconds(43200))
    public static let defaultSTSEndpoint = "https://sts.googleapis.com/v1/token"
    public static let defaultIAMCredentialsEndpoint = "https://iamcredentials.googleapis.com"

    /// The workload identity pool provider, as `projects/NUM/locations/global/workloadIdentityPools/POOL/providers/ID`
    /// or `//iam.googleapis.com/projects/...`.
    public var provider: String
    /// The service account to impersonate; without it the federated STS token itself is used.
    public var serviceAccount: String?
    public var token: TokenType?
    /// The ID token's audience: the Cloud Run service URL or the IAP OAuth client ID.
    public var idTokenAudience: String?
    /// Whether the ID token carries the service account's email.
    public var includeEmail: Bool?
    public var scopes: [String]?
    /// The access token's lifetime when impersonating (more than 1h needs an organization policy).
    public var lifetime: APIDuration?
    /// Service accounts in the delegation chain.
    public var delegates: [String]?
    public var subjectToken: SubjectToken?
    public var endpoints: GCPEndpoints?

    public init(
        provider: String,
        serviceAccount: String? = nil,
        token: TokenType? = nil,
        idTokenAudience: String? = nil,
        includeEmail: Bool? = nil,
        scopes: [String]? = nil,
        lifetime: APIDuration? = nil,
        delegates: [String]? = nil,
        subjectToken: SubjectToken? = nil,
        endpoints: GCPEndpoints? = nil
    ) {
        self.provider = provider
        self.serviceAccount = serviceAccount
        self.token = token
        self.idTokenAudience = idTokenAudience
        self.includeEmail = includeEmail
        self.scopes = scopes
        self.lifetime = lifetime
        self.delegates = delegates
        self.subjectToken = subjectToken
        self.endpoints = endpoints
    }

    /// The provider's full resource name, `//iam.googleapis.com/projects/...`, the STS audience; `nil` if malformed.
    public static func normalizedProvider(_ provider: String) -> String? {
        let bare = provider.hasPrefix("//iam.googleapis.com/") ? String(provider.dropFirst("//iam.googleapis.com/".count)) : provider
        guard SchemaValidator.matches(bare, pattern: providerResourcePattern) else { return nil }
        return "//iam.googleapis.com/" + bare
    }

    static let providerResourcePattern =
        #"^projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}$"#

    enum CodingKeys: String, CodingKey, CaseIterable {
        case provider, serviceAccount, token, idTokenAudience, includeEmail, scopes, lifetime, delegates, subjectToken, endpoints
    }
}

/// The token presented to Google STS.
public struct SubjectToken: Sendable, Hashable, Codable {
    public enum TokenSource: String, Sendable, Hashable, Codable, CaseIterable {
        /// A JWT signed by the gateway, with the provider as audience.
        case gatewayJWT = "GatewayJWT"
        /// The installation's projected Kubernetes service account token, which the cluster admin configures
        /// (`--gcp-subject-token-file`) and lets namespaces present (`--gcp-subject-token-namespace`).
        case serviceAccountToken = "ServiceAccountToken"
    }

    public static let defaultType = TokenSource.gatewayJWT

    public var type: TokenSource?
    /// The subject token's audience (GatewayJWT only); defaults to the provider's full resource name.
    public var audience: String?

    public init(type: TokenSource? = nil, audience: String? = nil) {
        self.type = type
        self.audience = audience
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, audience }
}

/// Overrides of Google's endpoints, for private service connect or tests.
public struct GCPEndpoints: Sendable, Hashable, Codable {
    /// The STS token URL.
    public var sts: String?
    /// The IAM Credentials base URL.
    public var iamCredentials: String?

    public init(sts: String? = nil, iamCredentials: String? = nil) {
        self.sts = sts
        self.iamCredentials = iamCredentials
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case sts, iamCredentials }
}

/// Microsoft Entra ID (Azure AD) v2.0 client credentials.
public struct AzureAD: Sendable, Hashable, Codable {
    public static let defaultAuthorityHost = "https://login.microsoftonline.com"

    /// The directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com.
    public var tenantID: String
    /// The application (client) ID.
    public var clientID: String
    /// The resource's scope, ending in `/.default`, e.g. `api://<app-id>/.default`.
    public var scope: String
    public var authorityHost: String?
    public var credential: AzureCredential

    public init(tenantID: String, clientID: String, scope: String, authorityHost: String? = nil, credential: AzureCredential) {
        self.tenantID = tenantID
        self.clientID = clientID
        self.scope = scope
        self.authorityHost = authorityHost
        self.credential = credential
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case tenantID, clientID, scope, authorityHost, credential }
}

/// How the gateway authenticates to Entra ID: a federated assertion (secretless) or a client secret.
public struct AzureCredential: Sendable, Hashable, Codable {
    public var federated: FederatedCredential?
    /// A client secret from a Secret. Works, but is a long-lived secret: status says so.
    public var clientSecretRef: SecretKeyReference?

    public init(federated: FederatedCredential? = nil, clientSecretRef: SecretKeyReference? = nil) {
        self.federated = federated
        self.clientSecretRef = clientSecretRef
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case federated, clientSecretRef }
}

/// A client assertion signed by the gateway (RS256), matching a federated identity credential on the app.
public struct FederatedCredential: Sendable, Hashable, Codable {
    public static let defaultAudience = "api://AzureADTokenExchange"

    /// The assertion's `aud`; must equal the federated credential's audience.
    public var audience: String?
    /// What the assertion's `sub` says after `portcullis:<namespace>:`, without `:`; defaults to the UpstreamAuth's
    /// name. The federated credential's subject must equal the whole `sub` exactly (case-sensitive).
    public var subject: String?

    public init(audience: String? = nil, subject: String? = nil) {
        self.audience = audience
        self.subject = subject
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case audience, subject }
}

/// A generic OAuth 2.0 client credentials grant (RFC 6749 §4.4).
public struct OAuth2ClientCredentials: Sendable, Hashable, Codable {
    public enum ClientAuthentication: String, Sendable, Hashable, Codable, CaseIterable {
        case clientSecretBasic = "client_secret_basic"
        case clientSecretPost = "client_secret_post"
        /// RFC 7523: a JWT signed with the gateway's key; no secret.
        case privateKeyJWT = "private_key_jwt"
    }

    public static let defaultClientAuthentication = ClientAuthentication.clientSecretBasic
    /// Form parameters the gateway sets itself, which `extraParams` cannot override.
    public static let reservedParameters: Set<String> = [
        "grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "audience",
        "resource",
    ]

    public var tokenURL: String
    public var clientID: String
    public var clientAuth: ClientAuthentication?
    public var clientSecretRef: SecretKeyReference?
    public var scopes: [String]?
    public var audience: String?
    /// RFC 8707 resource indicator.
    public var resource: String?
    public var extraParams: [String: String]?

    public init(
        tokenURL: String,
        clientID: String,
        clientAuth: ClientAuthentication? = nil,
        clientSecretRef: SecretKeyReference? = nil,
        scopes: [String]? = nil,
        audience: String? = nil,
        resource: String? = nil,
        extraParams: [String: String]? = nil
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientAuth = clientAuth
        self.clientSecretRef = clientSecretRef
        self.scopes = scopes
        self.audience = audience
        self.resource = resource
        self.extraParams = extraParams
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case tokenURL, clientID, clientAuth, clientSecretRef, scopes, audience, resource, extraParams
    }
}

/// A client certificate for mutual TLS, issued by the installation's CA or taken from a Secret.
public struct MutualTLS: Sendable, Hashable, Codable {
    public static let defaultDuration = APIDuration(.seconds(86400))
    public static let minimumDuration = APIDuration(.seconds(3600))
    public static let maximumDuration = APIDuration(.seconds(8760 * 3600))

    /// A `kubernetes.io/tls` Secret with the certificate to present (for example from cert-manager);
    /// when set, the controller issues nothing.
    public var secretRef: LocalObjectReference?
    /// The issued certificate's validity.
    public var duration: APIDuration?
    /// How long before expiry the certificate is renewed; defaults to a third of duration.
    public var renewBefore: APIDuration?
    public var dnsNames: [String]?
    /// URI SANs, such as a SPIFFE ID.
    public var uris: [String]?

    public init(
        secretRef: LocalObjectReference? = nil,
        duration: APIDuration? = nil,
        renewBefore: APIDuration? = nil,
        dnsNames: [String]? = nil,
        uris: [String]? = nil
    ) {
        self.secretRef = secretRef
        self.duration = duration
        self.renewBefore = renewBefore
        self.dnsNames = dnsNames
        self.uris = uris
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case secretRef, duration, renewBefore, dnsNames, uris }
}

/// The request header that carries the credential.
public struct CredentialHeader: Sendable, Hashable, Codable {
    public static let defaultName = "Authorization"
    public static let defaultPrefix = "Bearer "

    /// Authorization, X-Serverless-Authorization (Cloud Run), Proxy-Authorization (IAP), or any other.
    public var name: String?
    /// Written before the token, e.g. `Bearer `.
    public var prefix: String?

    public init(name: String? = nil, prefix: String? = nil) {
        self.name = name
        self.prefix = prefix
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, prefix }
}

/// When a cached token is replaced.
public struct RefreshPolicy: Sendable, Hashable, Codable {
    /// How long before expiry to refresh; defaults to max(5m, 20% of the token's lifetime),
    /// and for gateway JWTs to a fifth of ttl.
    public var before: APIDuration?

    public init(before: APIDuration? = nil) { self.before = before }

    enum CodingKeys: String, CodingKey, CaseIterable { case before }
}
