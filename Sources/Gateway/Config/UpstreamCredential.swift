/// A credential the gateway puts on requests to an upstream: a token in a header, obtained without a
/// long-lived secret. The credential runtime implements it; the data plane only asks for header values.
///
/// The request path calls ``currentHeaderValue(audience:)`` first: with a warm cache that is a lock and
/// a lookup, no `await`. Only when it answers `nil` does the request wait in ``headerValue(audience:)``.
public protocol UpstreamCredential: AnyObject, Sendable {
    /// Which credential this is, for problem details and logs: the UpstreamAuth's `namespace/name`.
    var name: String { get }
    /// The request header the credential goes in, lowercase.
    var headerName: String { get }
    /// The header value for a request to `audience` if one is ready now, else `nil`.
    ///
    /// - Throws: When no valid credential can be had (the error's description must hold no token material).
    func currentHeaderValue(audience: String) throws -> String?
    /// Waits for a header value for a request to `audience`.
    ///
    /// - Throws: When no valid credential can be had (the error's description must hold no token material).
    func headerValue(audience: String) async throws -> String
    /// The upstream answered 401 to `headerValue`: drop it, so the next request gets a new one.
    ///
    /// - Returns: Whether a new value will differ, so that sending the request again can help.
    func rejected(headerValue: String) -> Bool
}

/// One of a route's credentials, applied in the order of the Route's `authRefs`.
public struct RouteCredential: Sendable, Hashable {
    public let credential: any UpstreamCredential
    /// The audience of tokens minted per upstream (gateway JWTs): the upstream's origin.
    public let audience: String

    public init(_ credential: any UpstreamCredential, audience: String) {
        self.credential = credential
        self.audience = audience
    }

    public static func == (lhs: RouteCredential, rhs: RouteCredential) -> Bool {
        lhs.credential === rhs.credential && lhs.audience == rhs.audience
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(ObjectIdentifier(credential))
        hasher.combine(audience)
    }
}

/// A client certificate the gateway presents to an upstream (mutual TLS).
public struct ClientIdentity: Sendable, Hashable, CustomStringConvertible {
    /// The certificate and its chain, PEM.
    public var certificateChainPEM: String
    /// The private key, PEM. Never printed.
    public var privateKeyPEM: String

    public init(certificateChainPEM: String, privateKeyPEM: String) {
        self.certificateChainPEM = certificateChainPEM
        self.privateKeyPEM = privateKeyPEM
    }

    public var description: String { "ClientIdentity(redacted)" }
}

/// What the gateway publishes for its JWT issuer: the OpenID discovery document and the JWKS, served
/// at `<issuer path>/.well-known/openid-configuration` and the discovery document's `jwks_uri` path, and
/// the namespaces' own JWKS (their private_key_jwt keys) at `<issuer path>/namespaces/<namespace>/jwks.json`.
public struct IssuerDocuments: Sendable, Hashable {
    /// The request path of the discovery document.
    public var discoveryPath: String
    public var discoveryJSON: String
    /// The request path of the JWKS.
    public var jwksPath: String
    public var jwksJSON: String
    /// The prefix every path of ``namespaceJWKS`` starts with.
    public var namespaceJWKSPrefix: String
    /// Each namespace's JWKS, by request path; only the namespaces that need one.
    public var namespaceJWKS: [String: String]
    /// How long clients may cache them.
    public var maxAge: Duration

    public init(
        discoveryPath: String,
        discoveryJSON: String,
        jwksPath: String,
        jwksJSON: String,
        namespaceJWKSPrefix: String = "/namespaces/",
        namespaceJWKS: [String: String] = [:],
        maxAge: Duration = .seconds(300)
    ) {
        self.discoveryPath = discoveryPath
        self.discoveryJSON = discoveryJSON
        self.jwksPath = jwksPath
        self.jwksJSON = jwksJSON
        self.namespaceJWKSPrefix = namespaceJWKSPrefix
        self.namespaceJWKS = namespaceJWKS
        self.maxAge = maxAge
    }

    /// The document served at `path`, if it is one of these.
    func document(at path: String) -> String? {
        if path == jwksPath { return jwksJSON }
        if path == discoveryPath { return discoveryJSON }
        guard !namespaceJWKS.isEmpty, path.hasPrefix(namespaceJWKSPrefix) else { return nil }
        return namespaceJWKS[path]
    }
}
