import CredentialFakes
import Foundation
import JWTKit
import PKI
import Testing
@testable import UpstreamCredentials

@Suite struct GatewayJWTCacheTests {
    let now = referenceTime
    let issuer = "https://gw.example.com"

    func signing(_ keys: [SigningKey] = [TestKeys.es256, TestKeys.rs256]) -> SharedSigningContext {
        SharedSigningContext(SigningContext(issuer: issuer, signingKeys: keys))
    }

    @Test func tokensAreCachedPerAudienceUntilAFifthOfTheTTLRemains() throws {
        let cache = try GatewayJWTCache(
            configuration: GatewayJWTConfiguration(subject: "portcullis:payments:stripe", claims: ["route": "payments/charge"]),
            signing: signing()
        )
        let a1 = try cache.token(audience: "https://a.example.com", now: now)
        #expect(a1.headerValue == "Bearer " + a1.token.token)
        #expect(a1.token.kid == TestKeys.es256.kid)
        // Same audience, before refreshAt (ttl 300 s, refresh 60 s before expiry): the same token.
        #expect(try cache.token(audience: "https://a.example.com", now: now.addingTimeInterval(239)).token == a1.token)
        // Another audience: another token.
        let b = try cache.token(audience: "https://b.example.com", now: now.addingTimeInterval(10))
        #expect(b.token.token != a1.token.token)
        // At refreshAt: a new token.
        let a2 = try cache.token(audience: "https://a.example.com", now: now.addingTimeInterval(240))
        #expect(a2.token.token != a1.token.token)
        #expect(a2.token.issuedAt == now.addingTimeInterval(240))
        let status = cache.status(now: now.addingTimeInterval(240))
        #expect(status.ready)
        #expect(status.expiresAt == now.addingTimeInterval(540))
    }

    @Test func claimsVerifyWithJWTKitAgainstTheIssuersJWKS() async throws {
        let cache = try GatewayJWTCache(
            configuration: GatewayJWTConfiguration(subject: "portcullis:payments:stripe", ttl: .seconds(120), algorithm: .rs256),
            header: CredentialHeader(name: "X-Gateway-Token", prefix: ""),
            signing: signing()
        )
        let minted = try cache.token(audience: "https://api.example.com", now: now)
        #expect(minted.headerValue == minted.token.token)
        let claims = try await verifiedClaims(minted.token.token, jwksJSON: JSONWebKeySet([TestKeys.es256, TestKeys.rs256]).json)
        #expect(claims.iss == issuer)
        #expect(claims.sub == "portcullis:payments:stripe")
        #expect(claims.aud.value == ["https://api.example.com"])
        #expect(claims.exp - claims.iat == 120)
        #expect(try jwtHeader(minted.token.token)["kid"] as? String == TestKeys.rs256.kid)
    }

    @Test func aFixedAudienceAndTheInstallationsIssuer() throws {
        let cache = try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "s", audience: "urn:backend"), signing: signing())
        let token = try cache.token(audience: "https://ignored.example.com", now: now)
        let payload = try #require(String(data: Data(base64Encoded: padded(token.token.token.split(separator: ".")[1]))!, encoding: .utf8))
        #expect(payload.contains(#""iss":"\#(issuer)""#))
        #expect(payload.contains(#""aud":"urn:backend""#))
    }

    @Test func mintPerRequestMintsEveryTime() throws {
        let cache = try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "s", mintPerRequest: true), signing: signing())
        let first = try cache.token(audience: "https://a", now: now)
        let second = try cache.token(audience: "https://a", now: now)
        #expect(first.token.token != second.token.token)
        #expect(cache.status(now: now).nextRefreshTime == nil)
    }

    @Test func aNewSigningKeyReplacesCachedTokens() throws {
        let shared = signing([TestKeys.rs256])
        let cache = try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "s", algorithm: .rs256), signing: shared)
        let before = try cache.token(audience: "https://a", now: now)
        #expect(before.token.kid == TestKeys.rs256.kid)
        // The same key again (another replica's snapshot): the cached token stays.
        shared.update(SigningContext(issuer: issuer, signingKeys: [TestKeys.rs256]))
        #expect(try cache.token(audience: "https://a", now: now.addingTimeInterval(1)).token == before.token)
        // Rotation: the new key signs from now on.
        shared.update(SigningContext(issuer: issuer, signingKeys: [TestKeys.otherRS256]))
        let after = try cache.token(audience: "https://a", now: now.addingTimeInterval(2))
        #expect(after.token.kid == TestKeys.otherRS256.kid)
        // No key for the algorithm: a typed error, counted in status.
        shared.update(SigningContext(issuer: issuer, signingKeys: [TestKeys.es256]))
        #expect(throws: CredentialError(.signingKeyUnavailable)) { try cache.token(audience: "https://a", now: now.addingTimeInterval(3)) }
        #expect(cache.status(now: now.addingTimeInterval(3)).consecutiveFailures == 1)
        #expect(cache.status(now: now.addingTimeInterval(3)).ready == false)
    }

    @Test func reservedClaimsAndTTLBoundsAreRejected() {
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "s", claims: ["exp": "1"]), signing: signing())
        }
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "s", ttl: .seconds(10)), signing: signing())
        }
        #expect(GatewayJWTConfiguration(subject: "s", ttl: .seconds(600), refreshBefore: .seconds(30)).effectiveRefreshBefore == .seconds(30))
        #expect(GatewayJWTConfiguration(subject: "s", ttl: .seconds(600), refreshBefore: .seconds(600)).effectiveRefreshBefore == .seconds(120))
    }

    func padded(_ text: Substring) -> String {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return base64
    }
}
