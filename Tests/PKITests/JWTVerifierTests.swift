import Foundation
import PKI
import Testing

/// The verifier `portcullis dev`'s demo upstream uses, against tokens the gateway's signer mints.
@Suite struct JWTVerifierTests {
    static let issuer = "https://gateway.example.com"

    @Test(arguments: SigningKey.Algorithm.allCases)
    func aMintedTokenVerifiesAndEveryCheckBites(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        let other = try SigningKey.generate(algorithm)
        let now = Date()
        let token = try JWTSigner(key: key).mint(
            try JWTClaims(issuer: Self.issuer, subject: "portcullis:default:demo", audience: "http://127.0.0.1:8090", ttl: .seconds(300)),
            now: now
        ).token
        let verifier = JWTVerifier(keys: JSONWebKeySet([key, other]), issuer: Self.issuer, audience: "http://127.0.0.1:8090")
        let verified = try verifier.verify(token, now: now)
        #expect(verified.keyID == key.kid)
        #expect(verified.claimsJSON.contains(#""sub":"portcullis:default:demo""#))

        #expect(throws: PKIError.self, "expired") { try verifier.verify(token, now: now.addingTimeInterval(400)) }
        var wrongAudience = verifier
        wrongAudience.audience = "http://elsewhere"
        #expect(throws: PKIError.self, "audience") { try wrongAudience.verify(token, now: now) }
        var wrongIssuer = verifier
        wrongIssuer.issuer = "https://other.example.com"
        #expect(throws: PKIError.self, "issuer") { try wrongIssuer.verify(token, now: now) }
        let withoutKey = JWTVerifier(keys: JSONWebKeySet([other]), issuer: Self.issuer, audience: "http://127.0.0.1:8090")
        #expect(!withoutKey.hasKey(for: token))
        #expect(throws: PKIError.self, "unknown kid") { try withoutKey.verify(token, now: now) }
        var parts = token.split(separator: ".").map(String.init)
        parts[1] = parts[1].replacingOccurrences(of: parts[1].prefix(4), with: "eyJz")
        #expect(throws: PKIError.self, "tampered payload") { try verifier.verify(parts.joined(separator: "."), now: now) }
    }
}
