/// The claims of the gateway's JWTs, validated and pre-escaped once, so minting only writes the times and `jti`.
///
/// Each token carries, in this order: `iss`, `sub`, `aud`, `iat`, `nbf` (= `iat`), `exp` (= `iat` + ``ttl``),
/// `jti` (a random UUID), then the ``extra`` string claims sorted by name. Extras cannot set a
/// ``reservedNames`` claim: the initializer rejects them.
public struct JWTClaims: Sendable, Hashable {
    /// Claims the signer sets itself; the same set as `GatewayJWT.reservedClaims` in the resource API.
    public static let reservedNames: Set<String> = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"]

    public let issuer: String
    public let subject: String
    public let audience: String
    /// The token lifetime, in whole seconds. Keep it within the key ring's `maxTokenTTL` (24 h by default, as
    /// `GatewayJWT.maximumTTL`), or a rotated key may leave the JWKS before its last token expires; GCP WIF
    /// rejects tokens whose `exp` is 48 h or more after `iat`.
    public let ttl: Duration
    public let extra: [String: String]

    let ttlSeconds: Int64
    /// `{"iss":…,"sub":…,"aud":…,"iat":`
    let prefix: [UInt8]
    /// `,"name":"value"…}`: the extras, then the closing brace.
    let suffix: [UInt8]

    /// Validates and pre-encodes the claims.
    ///
    /// - Parameters:
    ///   - issuer: `iss`; verifiers compare it with the discovery document's `issuer` byte for byte.
    ///   - subject: `sub`.
    ///   - audience: `aud`, a single string.
    ///   - ttl: How long the token is valid: at least one second, counted in whole seconds.
    ///   - extra: More string claims; names must not be reserved or empty.
    /// - Throws: ``PKIError/Code/invalidClaims`` for a reserved or empty extra name, an empty issuer, subject or
    ///   audience, or a TTL under a second.
    public init(issuer: String, subject: String, audience: String, ttl: Duration, extra: [String: String] = [:]) throws
    {
        for (name, value) in [("iss", issuer), ("sub", subject), ("aud", audience)] where value.isEmpty {
            throw PKIError(.invalidClaims, "\(name) must not be empty")
        }
        let ttlSeconds = ttl.components.seconds
        guard ttlSeconds >= 1 else {
            throw PKIError(.invalidClaims, "ttl must be at least one second, not \(ttl)")
        }
        for name in extra.keys {
            guard !Self.reservedNames.contains(name) else {
                throw PKIError(.invalidClaims, "claim \(name) is set by the gateway and cannot be overridden")
            }
            guard !name.isEmpty else { throw PKIError(.invalidClaims, "a claim name must not be empty") }
        }
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.ttl = .seconds(ttlSeconds)
        self.extra = extra
        self.ttlSeconds = ttlSeconds

        var prefix: [UInt8] = [UInt8(ascii: "{")]
        prefix.appendJSONKey("iss")
        prefix.appendJSONString(issuer)
        prefix.append(UInt8(ascii: ","))
        prefix.appendJSONKey("sub")
        prefix.appendJSONString(subject)
        prefix.append(UInt8(ascii: ","))
        prefix.appendJSONKey("aud")
        prefix.appendJSONString(audience)
        prefix.append(UInt8(ascii: ","))
        prefix.appendJSONKey("iat")
        self.prefix = prefix

        var suffix: [UInt8] = []
        for name in extra.keys.sorted() {
            suffix.append(UInt8(ascii: ","))
            suffix.appendJSONString(name)
            suffix.append(UInt8(ascii: ":"))
            suffix.appendJSONString(extra[name]!)
        }
        suffix.append(UInt8(ascii: "}"))
        self.suffix = suffix
    }

    public static func == (lhs: JWTClaims, rhs: JWTClaims) -> Bool {
        lhs.issuer == rhs.issuer && lhs.subject == rhs.subject && lhs.audience == rhs.audience
            && lhs.ttlSeconds == rhs.ttlSeconds && lhs.extra == rhs.extra
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(issuer)
        hasher.combine(subject)
        hasher.combine(audience)
        hasher.combine(ttlSeconds)
        hasher.combine(extra)
    }

    /// Writes the payload JSON for a token issued at `issuedAt`, with a new random `jti`.
    func appendPayload(issuedAt: Int64, to json: inout [UInt8]) {
        json.append(contentsOf: prefix)
        json.appendDecimal(issuedAt)
        json.append(contentsOf: #","nbf":"#.utf8)
        json.appendDecimal(issuedAt)
        json.append(contentsOf: #","exp":"#.utf8)
        json.appendDecimal(issuedAt + ttlSeconds)
        json.append(contentsOf: #","jti":""#.utf8)
        appendRandomUUID(to: &json)
        json.append(UInt8(ascii: "\""))
        json.append(contentsOf: suffix)
    }
}
