public import Kubernetes

/// What the controller and the gateway report about an UpstreamAuth. Never token material.
public struct UpstreamAuthStatus: Sendable, Hashable, Codable {
    public var observedGeneration: Int64?
    /// Ready (the spec is valid and usable) and CredentialReady (a credential is in hand).
    public var conditions: [Condition]?
    /// Which credential source the spec uses.
    public var type: CredentialType?
    /// False when a long-lived secret (a client secret from a Secret) is in use.
    public var secretless: Bool?
    public var credential: CredentialStatus?
    public var certificate: CertificateStatus?
    public var jwks: JWKSStatus?

    public init(
        observedGeneration: Int64? = nil,
        conditions: [Condition]? = nil,
        type: CredentialType? = nil,
        secretless: Bool? = nil,
        credential: CredentialStatus? = nil,
        certificate: CertificateStatus? = nil,
        jwks: JWKSStatus? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.type = type
        self.secretless = secretless
        self.credential = credential
        self.certificate = certificate
        self.jwks = jwks
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case observedGeneration, conditions, type, secretless, credential, certificate, jwks
    }
}

/// The lifecycle of the current token.
public struct CredentialStatus: Sendable, Hashable, Codable {
    public var expiresAt: String?
    public var lastRefreshTime: String?
    public var nextRefreshTime: String?
    public var consecutiveFailures: Int?
    /// The last failure, with the token service's error code; never token material.
    public var lastError: String?

    public init(
        expiresAt: String? = nil,
        lastRefreshTime: String? = nil,
        nextRefreshTime: String? = nil,
        consecutiveFailures: Int? = nil,
        lastError: String? = nil
    ) {
        self.expiresAt = expiresAt
        self.lastRefreshTime = lastRefreshTime
        self.nextRefreshTime = nextRefreshTime
        self.consecutiveFailures = consecutiveFailures
        self.lastError = lastError
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case expiresAt, lastRefreshTime, nextRefreshTime, consecutiveFailures, lastError }
}

/// The client certificate issued for mutualTLS.
public struct CertificateStatus: Sendable, Hashable, Codable {
    public var secretName: String?
    public var notAfter: String?
    public var renewalTime: String?
    public var serialNumber: String?

    public init(secretName: String? = nil, notAfter: String? = nil, renewalTime: String? = nil, serialNumber: String? = nil) {
        self.secretName = secretName
        self.notAfter = notAfter
        self.renewalTime = renewalTime
        self.serialNumber = serialNumber
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case secretName, notAfter, renewalTime, serialNumber }
}

/// The signing key a gateway JWT, or a private_key_jwt client assertion, is verified with.
public struct JWKSStatus: Sendable, Hashable, Codable {
    /// The `kid` of the key currently signing.
    public var keyID: String?
    /// Where the JWKS is published: the installation's, or for private_key_jwt the namespace's own.
    public var uri: String?

    public init(keyID: String? = nil, uri: String? = nil) {
        self.keyID = keyID
        self.uri = uri
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case keyID, uri }
}
