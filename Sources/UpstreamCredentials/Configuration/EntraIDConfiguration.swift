public import PKI

/// Microsoft Entra ID (Azure AD) v2.0 client credentials; mirrors `spec.azureAD` of an UpstreamAuth.
///
/// `POST {authorityHost}/{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`, the client ID, the
/// `…/.default` scope, and either a federated client assertion (secretless) or a client secret.
public struct EntraIDConfiguration: Sendable, Hashable {
    /// How the gateway authenticates to Entra ID.
    public enum Credential: Sendable, Hashable {
        /// A gateway-signed assertion matching a federated identity credential on the app. No secret.
        case federated(FederatedAssertion)
        /// A client secret, sent in the form body. A long-lived secret: status says so.
        case clientSecret(ClientSecret)
    }

    /// The federated client assertion: `iss` the installation's issuer, `sub` and `aud` exactly as in the app's
    /// federated identity credential (case-sensitive), signed RS256 (the only algorithm Entra federated
    /// credentials are documented to take).
    public struct FederatedAssertion: Sendable, Hashable {
        /// `api://AzureADTokenExchange`, the only audience a federated identity credential may have.
        public static let defaultAudience = "api://AzureADTokenExchange"

        /// `sub`; the reconciler makes it `portcullis:<namespace>:<subject or name>`.
        public var subject: String
        /// `aud`; must equal the credential's audience.
        public var audience: String
        /// RS256 by default.
        public var algorithm: SigningKey.Algorithm
        /// The assertion's lifetime: 5 minutes (it is minted for one request; keep it ≤ 10 minutes).
        public var ttl: Duration

        public init(
            subject: String,
            audience: String = FederatedAssertion.defaultAudience,
            algorithm: SigningKey.Algorithm = .rs256,
            ttl: Duration = .seconds(300)
        ) {
            self.subject = subject
            self.audience = audience
            self.algorithm = algorithm
            self.ttl = ttl
        }
    }

    /// `https://login.microsoftonline.com`.
    public static let defaultAuthorityHost = "https://login.microsoftonline.com"

    /// The directory (tenant) ID or a verified domain.
    public var tenantID: String
    /// The application (client) ID.
    public var clientID: String
    /// The resource's scope, ending in `/.default`.
    public var scope: String
    /// The authority, without a path; sovereign clouds differ.
    public var authorityHost: String
    /// Federated assertion or client secret.
    public var credential: Credential

    /// - Throws: ``CredentialError/Reason/invalidConfiguration`` for a scope naming several resources or an empty
    ///   tenant or client ID.
    public init(
        tenantID: String,
        clientID: String,
        scope: String,
        authorityHost: String = EntraIDConfiguration.defaultAuthorityHost,
        credential: Credential
    ) throws {
        guard !tenantID.isEmpty, !clientID.isEmpty else {
            throw CredentialError(.invalidConfiguration, "tenantID and clientID must not be empty")
        }
        guard !scope.isEmpty, !scope.contains(" ") else {
            throw CredentialError(.invalidConfiguration, "scope must name a single resource, e.g. api://<app-id>/.default")
        }
        self.tenantID = tenantID
        self.clientID = clientID
        self.scope = scope
        self.authorityHost = authorityHost
        self.credential = credential
    }

    /// `{authorityHost}/{tenant}/oauth2/v2.0/token`.
    public var tokenURL: String {
        let host = authorityHost.hasSuffix("/") ? String(authorityHost.dropLast()) : authorityHost
        return "\(host)/\(tenantID)/oauth2/v2.0/token"
    }

    /// `false` with a client secret.
    public var isSecretless: Bool {
        if case .federated = credential { return true }
        return false
    }
}
