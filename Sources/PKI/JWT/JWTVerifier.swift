import Crypto
import CryptoExtras
public import Foundation

/// Verifies a compact JWS against a JWKS, as a backend that trusts the gateway does: the key is
/// found by `kid`, the `alg` must be the key's, the signature must hold, and `iss`, `aud`, `exp` and
/// `nbf` must fit.
public struct JWTVerifier: Sendable {
    /// What a verified token says.
    public struct Verified: Sendable {
        /// The `kid` of the key that signed it.
        public var keyID: String
        /// The payload, as JSON text.
        public var claimsJSON: String
    }

    public var keys: JSONWebKeySet
    /// The `iss` required.
    public var issuer: String
    /// The `aud` required.
    public var audience: String
    /// How far `exp` and `nbf` may be off.
    public var leeway: TimeInterval

    public init(keys: JSONWebKeySet, issuer: String, audience: String, leeway: TimeInterval = 30) {
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
    }

    /// Whether the token names a key this set lacks (fetch the JWKS again, then retry).
    public func hasKey(for token: String) -> Bool {
        guard let header = try? Self.decodeSegment(token.split(separator: ".", omittingEmptySubsequences: false).first ?? "") else { return false }
        return keys.keys.contains { $0.kid == header["kid"] as? String }
    }

    /// - Throws: ``PKIError`` with ``PKIError/Code/invalidClaims`` (or ``PKIError/Code/unknownKey``) saying what failed.
    public func verify(_ token: String, now: Date = Date()) throws -> Verified {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw PKIError(.invalidClaims, "not a compact JWS: \(parts.count) segments") }
        let header = try Self.decodeSegment(parts[0])
        guard let kid = header["kid"] as? String, let alg = header["alg"] as? String else {
            throw PKIError(.invalidClaims, "the header has no kid or alg")
        }
        guard let key = keys.keys.first(where: { $0.kid == kid }) else { throw PKIError(.unknownKey, "no key \(kid) in the JWKS") }
        guard key.alg == alg else { throw PKIError(.invalidClaims, "alg \(alg) is not key \(kid)'s \(key.alg ?? "-")") }
        guard let signature = Base64URL.decode(parts[2]) else { throw PKIError(.invalidClaims, "the signature is not base64url") }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        guard try Self.isValid(signature: signature, of: signed, key: key) else { throw PKIError(.invalidClaims, "the signature does not verify") }

        let claims = try Self.decodeSegment(parts[1])
        guard claims["iss"] as? String == issuer else { throw PKIError(.invalidClaims, "iss is not \(issuer)") }
        let audiences = (claims["aud"] as? [String]) ?? [(claims["aud"] as? String)].compactMap { $0 }
        guard audiences.contains(audience) else { throw PKIError(.invalidClaims, "aud does not include \(audience)") }
        guard let exp = claims["exp"] as? Double, now.timeIntervalSince1970 < exp + leeway else {
            throw PKIError(.invalidClaims, "the token has expired or has no exp")
        }
        if let nbf = claims["nbf"] as? Double, now.timeIntervalSince1970 + leeway < nbf {
            throw PKIError(.invalidClaims, "the token is not valid yet")
        }
        return Verified(keyID: kid, claimsJSON: String(decoding: Base64URL.decode(parts[1]) ?? Data(), as: UTF8.self))
    }

    private static func decodeSegment(_ segment: Substring) throws -> [String: Any] {
        guard let data = Base64URL.decode(segment), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw PKIError(.invalidClaims, "a segment is not base64url JSON")
        }
        return object
    }

    private static func isValid(signature: Data, of signed: Data, key: JSONWebKey) throws -> Bool {
        func bytes(_ value: String?) throws -> Data {
            guard let value, let data = Base64URL.decode(Substring(value)) else { throw PKIError(.unsupportedKey, "key \(key.kid ?? "-") is incomplete") }
            return data
        }
        switch key.alg {
        case "ES256":
            let publicKey = try P256.Signing.PublicKey(x963Representation: Data([0x04]) + (try bytes(key.x)) + (try bytes(key.y)))
            guard let ecdsa = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return publicKey.isValidSignature(ecdsa, for: signed)
        case "RS256":
            let publicKey = try _RSA.Signing.PublicKey(n: try bytes(key.n), e: try bytes(key.e))
            return publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: signed, padding: .insecurePKCS1v1_5)
        case "EdDSA":
            return try Curve25519.Signing.PublicKey(rawRepresentation: try bytes(key.x)).isValidSignature(signature, for: signed)
        default:
            throw PKIError(.unsupportedKey, "alg \(key.alg ?? "-") is not supported")
        }
    }
}

extension Base64URL {
    /// The bytes of unpadded base64url text, or `nil` if it is not base64url.
    static func decode(_ text: Substring) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }
}
