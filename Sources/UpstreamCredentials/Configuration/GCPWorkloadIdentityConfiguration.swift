public import PKI

/// Google Cloud workload identity federation; mirrors `spec.gcpWorkloadIdentity` of an UpstreamAuth.
///
/// A subject token (a gateway JWT, or a projected Kubernetes service account token) is exchanged at Google STS
/// (RFC 8693) for a federated access token; with ``serviceAccount`` that token then buys the service account's
/// access token (`generateAccessToken`) or ID token (`generateIdToken`) from IAM Credentials.
public struct GCPWorkloadIdentityConfiguration: Sendable, Hashable {
    /// What the gateway presents upstream.
    public enum TokenType: String, Sendable, Hashable, CaseIterable {
        /// An OAuth 2.0 access token, for `*.googleapis.com`.
        case accessToken = "AccessToken"
        /// A Google-signed OpenID Connect ID token, for Cloud Run, Cloud Functions and IAP; needs a service account.
        case idToken = "IDToken"
    }

    /// The token presented to STS.
    public enum SubjectToken: Sendable, Hashable {
        /// A JWT the gateway mints for every exchange.
        case gatewayJWT(GatewaySubjectToken)
        /// A projected Kubernetes service account token, read from the file again on every exchange (the kubelet
        /// rotates it in place).
        case serviceAccountTokenFile(path: String)
    }

    /// The gateway-minted subject token's claims: `iss` the installation's issuer (the provider's `issuerUri`),
    /// `sub` the configured subject, `aud` the provider's full resource name unless set.
    public struct GatewaySubjectToken: Sendable, Hashable {
        /// `sub`; what the provider's `google.subject` mapping reads (at most 127 bytes once mapped).
        public var subject: String
        /// `aud`; `nil` for the provider's full resource name, which STS accepts when the provider lists no
        /// allowed audiences.
        public var audience: String?
        /// RS256 or ES256: the only algorithms GCP accepts. ES256 by default.
        public var algorithm: SigningKey.Algorithm
        /// The subject token's lifetime; STS requires `exp - iat` under 48 hours. 5 minutes by default: it is
        /// minted for one exchange.
        public var ttl: Duration

        public init(
            subject: String,
            audience: String? = nil,
            algorithm: SigningKey.Algorithm = .es256,
            ttl: Duration = .seconds(300)
        ) {
            self.subject = subject
            self.audience = audience
            self.algorithm = algorithm
            self.ttl = ttl
        }
    }

    /// Google's endpoints, overridable for Private Service Connect and tests.
    public struct Endpoints: Sendable, Hashable {
        /// `https://sts.googleapis.com/v1/token`.
        public static let defaultSTS = "https://sts.googleapis.com/v1/token"
        /// `https://iamcredentials.googleapis.com`.
        public static let defaultIAMCredentials = "https://iamcredentials.googleapis.com"

        /// The STS token URL.
        public var sts: String
        /// The IAM Credentials base URL; `/v1/projects/-/serviceAccounts/…` is appended.
        public var iamCredentials: String

        public init(sts: String = Endpoints.defaultSTS, iamCredentials: String = Endpoints.defaultIAMCredentials) {
            self.sts = sts
            self.iamCredentials = iamCredentials
        }
    }

    /// `https://www.googleapis.com/auth/cloud-platform`.
    public static let cloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"
    /// `[cloud-platform]`.
    public static let defaultScopes = [cloudPlatformScope]
    /// 1 hour.
    public static let defaultLifetime: Duration = .seconds(3600)
    /// 12 hours (beyond 1 hour only with the organization policy `iam.allowServiceAccountCredentialLifetimeExtension`).
    public static let maximumLifetime: Duration = .seconds(43200)

    /// The provider's full resource name, `//iam.googleapis.com/projects/NUM/locations/global/workloadIdentityPools/POOL/providers/ID`:
    /// the STS `audience`.
    public let provider: String
    /// The service account's email; `nil` to use the federated STS token itself.
    public var serviceAccount: String?
    /// Access token or ID token.
    public var tokenType: TokenType
    /// The ID token's `aud`: the Cloud Run service URL or the IAP OAuth client ID.
    public var idTokenAudience: String?
    /// Whether the ID token carries `email` and `email_verified`.
    public var includeEmail: Bool
    /// The access token's scopes.
    public var scopes: [String]
    /// The impersonated access token's lifetime, sent as `"<seconds>s"`.
    public var lifetime: Duration
    /// The delegation chain, as emails or `projects/-/serviceAccounts/EMAIL`; sent in the latter form.
    public var delegates: [String]
    /// The token presented to STS.
    public var subjectToken: SubjectToken
    /// Google's endpoints.
    public var endpoints: Endpoints

    /// - Parameters:
    ///   - provider: `projects/NUM/locations/global/workloadIdentityPools/POOL/providers/ID`, optionally prefixed with
    ///     `//iam.googleapis.com/`.
    ///   - serviceAccount: The service account to impersonate, if any.
    ///   - tokenType: Access token (default) or ID token.
    ///   - idTokenAudience: The ID token's audience; required for an ID token.
    ///   - includeEmail: Whether the ID token carries the email.
    ///   - scopes: The access token's scopes; cloud-platform by default.
    ///   - lifetime: The impersonated access token's lifetime, 1 hour by default.
    ///   - delegates: The delegation chain.
    ///   - subjectToken: What is presented to STS.
    ///   - endpoints: Google's endpoints.
    /// - Throws: ``CredentialError/Reason/invalidConfiguration`` for a malformed provider, an ID token without
    ///   a service account or audience, a lifetime outside 1 s … 12 h, or no scopes.
    public init(
        provider: String,
        serviceAccount: String? = nil,
        tokenType: TokenType = .accessToken,
        idTokenAudience: String? = nil,
        includeEmail: Bool = false,
        scopes: [String] = GCPWorkloadIdentityConfiguration.defaultScopes,
        lifetime: Duration = GCPWorkloadIdentityConfiguration.defaultLifetime,
        delegates: [String] = [],
        subjectToken: SubjectToken,
        endpoints: Endpoints = Endpoints()
    ) throws {
        guard let normalized = Self.normalizedProvider(provider) else {
            throw CredentialError(
                .invalidConfiguration,
                "provider \(provider) must be projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>, optionally prefixed with //iam.googleapis.com/"
            )
        }
        if tokenType == .idToken {
            guard serviceAccount != nil else {
                throw CredentialError(.invalidConfiguration, "an IDToken is issued for a service account: set serviceAccount")
            }
            guard let idTokenAudience, !idTokenAudience.isEmpty else {
                throw CredentialError(.invalidConfiguration, "an IDToken needs idTokenAudience")
            }
        }
        guard !scopes.isEmpty else { throw CredentialError(.invalidConfiguration, "scopes must not be empty") }
        guard lifetime >= .seconds(1), lifetime <= Self.maximumLifetime else {
            throw CredentialError(.invalidConfiguration, "lifetime \(lifetime) is outside 1s…12h")
        }
        if case .gatewayJWT(let subject) = subjectToken, subject.algorithm == .edDSA {
            throw CredentialError(.invalidConfiguration, "GCP workload identity accepts RS256 and ES256 subject tokens, not EdDSA")
        }
        self.provider = normalized
        self.serviceAccount = serviceAccount
        self.tokenType = tokenType
        self.idTokenAudience = idTokenAudience
        self.includeEmail = includeEmail
        self.scopes = scopes
        self.lifetime = lifetime
        self.delegates = delegates
        self.subjectToken = subjectToken
        self.endpoints = endpoints
    }

    /// The provider's full resource name (`//iam.googleapis.com/projects/...`), or `nil` if `provider` is neither
    /// that nor the bare `projects/...` form.
    public static func normalizedProvider(_ provider: String) -> String? {
        let prefix = "//iam.googleapis.com/"
        let bare = provider.hasPrefix(prefix) ? String(provider.dropFirst(prefix.count)) : provider
        let parts = bare.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 8, parts[0] == "projects", !parts[1].isEmpty, parts[1].allSatisfy(\.isASCIIDigit),
            parts[2] == "locations", parts[3] == "global", parts[4] == "workloadIdentityPools",
            isResourceID(parts[5]), parts[6] == "providers", isResourceID(parts[7])
        else { return nil }
        return prefix + bare
    }

    /// `[a-z0-9-]{4,32}`.
    static func isResourceID(_ text: Substring) -> Bool {
        (4...32).contains(text.count) && text.allSatisfy { $0.isASCIIDigit || ("a"..."z").contains($0) || $0 == "-" }
    }

    /// `projects/-/serviceAccounts/EMAIL` for an email or an already qualified name; IAM Credentials requires the
    /// `-` project wildcard.
    public static func serviceAccountResourceName(_ account: String) -> String {
        let prefix = "projects/-/serviceAccounts/"
        if account.hasPrefix(prefix) { return account }
        if account.hasPrefix("projects/"), let range = account.firstRange(of: "/serviceAccounts/") {
            return prefix + account[range.upperBound...]
        }
        return prefix + account
    }

    /// ``delegates`` as IAM Credentials wants them.
    public var normalizedDelegates: [String] { delegates.map(Self.serviceAccountResourceName) }

    /// The subject token type URN sent to STS: always `urn:ietf:params:oauth:token-type:jwt` (both sources are JWTs).
    public var subjectTokenType: String { "urn:ietf:params:oauth:token-type:jwt" }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
