public import PKI

/// A JWT signed by the gateway's own key, verifiable through the installation's JWKS; mirrors `spec.gatewayJWT` of
/// an UpstreamAuth. Its `iss` is always the installation's issuer, from the ``SigningContext``.
public struct GatewayJWTConfiguration: Sendable, Hashable {
    /// 5 minutes.
    public static let defaultTTL: Duration = .seconds(300)
    /// 30 seconds.
    public static let minimumTTL: Duration = .seconds(30)
    /// 24 hours.
    public static let maximumTTL: Duration = .seconds(86400)
    /// ES256.
    public static let defaultAlgorithm = SigningKey.Algorithm.es256

    /// The `sub`; the reconciler makes it `portcullis:<namespace>:<subject or name>` of the UpstreamAuth.
    public var subject: String
    /// The `aud`; `nil` for the audience the caller passes per request (the upstream origin).
    public var audience: String?
    /// The token lifetime, whole seconds, 30 s … 24 h.
    public var ttl: Duration
    /// Extra string claims; they cannot set `iss`, `sub`, `aud`, `exp`, `nbf`, `iat` or `jti`.
    public var claims: [String: String]
    /// Which of the key ring's keys signs.
    public var algorithm: SigningKey.Algorithm
    /// Mint a new token for every request instead of reusing one per audience.
    public var mintPerRequest: Bool
    /// How long before expiry a cached token is replaced; `nil` for a fifth of ``ttl``.
    public var refreshBefore: Duration?

    public init(
        subject: String,
        audience: String? = nil,
        ttl: Duration = GatewayJWTConfiguration.defaultTTL,
        claims: [String: String] = [:],
        algorithm: SigningKey.Algorithm = GatewayJWTConfiguration.defaultAlgorithm,
        mintPerRequest: Bool = false,
        refreshBefore: Duration? = nil
    ) {
        self.subject = subject
        self.audience = audience
        self.ttl = ttl
        self.claims = claims
        self.algorithm = algorithm
        self.mintPerRequest = mintPerRequest
        self.refreshBefore = refreshBefore
    }

    /// The refresh margin in effect: ``refreshBefore`` if it is shorter than ``ttl``, else a fifth of ``ttl``.
    public var effectiveRefreshBefore: Duration {
        if let refreshBefore, refreshBefore > .zero, refreshBefore < ttl { return refreshBefore }
        return ttl / 5
    }

    /// Checks what the signer would reject later.
    ///
    /// - Throws: ``CredentialError/Reason/invalidConfiguration``.
    public func validate() throws {
        guard ttl >= Self.minimumTTL, ttl <= Self.maximumTTL else {
            throw CredentialError(.invalidConfiguration, "gatewayJWT ttl \(ttl) is outside 30s…24h")
        }
        for name in claims.keys.sorted() where JWTClaims.reservedNames.contains(name) {
            throw CredentialError(.invalidConfiguration, "gatewayJWT claim \(name) is set by the gateway itself")
        }
        guard !subject.isEmpty else { throw CredentialError(.invalidConfiguration, "gatewayJWT subject is empty") }
    }
}
