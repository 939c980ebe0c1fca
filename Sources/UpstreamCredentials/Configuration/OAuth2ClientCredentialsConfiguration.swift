/// A generic OAuth 2.0 client credentials grant (RFC 6749 §4.4); mirrors `spec.oauth2ClientCredentials`.
public struct OAuth2ClientCredentialsConfiguration: Sendable, Hashable {
    /// How the client authenticates (RFC 6749 §2.3, RFC 7523 §2.2).
    public enum ClientAuthentication: Sendable, Hashable {
        /// `Authorization: Basic base64(urlencode(client_id):urlencode(secret))`.
        case clientSecretBasic(ClientSecret)
        /// `client_id` and `client_secret` in the form body.
        case clientSecretPost(ClientSecret)
        /// An RFC 7523 JWT signed with the namespace's key: `iss` = `sub` = client ID, `aud` the token URL. No secret.
        case privateKeyJWT(PrivateKeyJWT)
    }

    /// The RFC 7523 client assertion's settings.
    ///
    /// The client ID is `iss` and `sub` (RFC 7523 §3), so the claims cannot say whose assertion it is: the key does.
    /// It is signed ES256 with the key the installation's active ES256 key derives for ``namespace``
    /// (``SigningKey/namespaceKey(for:)``), which only that namespace's JWKS publishes.
    public struct PrivateKeyJWT: Sendable, Hashable {
        /// The UpstreamAuth's namespace, whose key signs.
        public var namespace: String
        /// `aud`; `nil` for the token URL (RFC 7523 §3 allows it; some servers want their issuer URL).
        public var audience: String?
        /// The assertion's lifetime, 5 minutes by default.
        public var ttl: Duration

        public init(namespace: String, audience: String? = nil, ttl: Duration = .seconds(300)) {
            self.namespace = namespace
            self.audience = audience
            self.ttl = ttl
        }
    }

    /// Form parameters the gateway sets itself, which ``extraParams`` cannot set.
    public static let reservedParameters: Set<String> = [
        "grant_type", "client_id", "client_secret", "client_assertion", "client_assertion_type", "scope", "audience",
        "resource",
    ]

    public var tokenURL: String
    public var clientID: String
    public var clientAuthentication: ClientAuthentication
    /// Sent space-separated as `scope` when not empty.
    public var scopes: [String]
    /// Sent as `audience` (Auth0 and others).
    public var audience: String?
    /// Sent as `resource` (RFC 8707).
    public var resource: String?
    /// More form parameters.
    public var extraParams: [String: String]

    /// - Throws: ``CredentialError/Reason/invalidConfiguration`` when an extra parameter is one the gateway sets.
    public init(
        tokenURL: String,
        clientID: String,
        clientAuthentication: ClientAuthentication,
        scopes: [String] = [],
        audience: String? = nil,
        resource: String? = nil,
        extraParams: [String: String] = [:]
    ) throws {
        for name in extraParams.keys.sorted() where Self.reservedParameters.contains(name) {
            throw CredentialError(.invalidConfiguration, "extra parameter \(name) is set by the gateway itself")
        }
        guard !clientID.isEmpty else { throw CredentialError(.invalidConfiguration, "clientID must not be empty") }
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientAuthentication = clientAuthentication
        self.scopes = scopes
        self.audience = audience
        self.resource = resource
        self.extraParams = extraParams
    }

    /// `false` with a client secret.
    public var isSecretless: Bool {
        if case .privateKeyJWT = clientAuthentication { return true }
        return false
    }
}
