import Foundation
import JWTKit
import PKI
import Testing

/// The claims jwt-kit decodes from the gateway's tokens.
struct GatewayClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var nbf: NotBeforeClaim
    var exp: ExpirationClaim
    var jti: IDClaim
    var route: String?
    var tenant: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try nbf.verifyNotBefore()
    }
}

@Suite struct JWTSignerTests {
    static let claims = try! JWTClaims(
        issuer: "https://gw.example.com",
        subject: "portcullis:payments:stripe",
        audience: "https://api.example.com",
        ttl: .seconds(300),
        extra: ["route": "payments/charge", "tenant": "acme"]
    )

    /// jwt-kit, an independent implementation, loaded with the JWKS JSON this module serves.
    static func verifier(trusting keys: [SigningKey]) async throws -> JWTKeyCollection {
        try await JWTKeyCollection().add(jwksJSON: JSONWebKeySet(keys).json)
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func tokensVerifyWithJWTKitAgainstTheJWKS(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        let others = try SigningKey.Algorithm.allCases.map(SigningKey.generate)
        let signer = JWTSigner(key: key)
        let now = Date()
        let minted = try signer.mint(Self.claims, now: now)
        #expect(minted.kid == key.kid)
        #expect(minted.expiresAt.timeIntervalSince(minted.issuedAt) == 300)
        #expect(abs(minted.issuedAt.timeIntervalSince(now)) < 1)

        let verifier = try await Self.verifier(trusting: others + [key])
        let payload = try await verifier.verify(minted.token, as: GatewayClaims.self)
        #expect(payload.iss.value == "https://gw.example.com")
        #expect(payload.sub.value == "portcullis:payments:stripe")
        #expect(payload.aud.value == ["https://api.example.com"])
        #expect(payload.exp.value == minted.expiresAt)
        #expect(payload.iat.value == minted.issuedAt)
        #expect(payload.nbf.value == minted.issuedAt)
        #expect(payload.route == "payments/charge")
        #expect(payload.tenant == "acme")
        #expect(UUID(uuidString: payload.jti.value) != nil)
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func tamperedTokensAndUnknownKeysFail(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        let minted = try JWTSigner(key: key).mint(Self.claims, now: Date())
        let verifier = try await Self.verifier(trusting: [key])
        let parts = minted.token.split(separator: ".").map(String.init)

        // Another subject in the payload, the original signature.
        var payload = try payloadObject(minted.token)
        payload["sub"] = "portcullis:payments:admin"
        let forged = try JSONSerialization.data(withJSONObject: payload)
        let forgedPayload = forged.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        await #expect(throws: (any Error).self) {
            try await verifier.verify(
                [parts[0], forgedPayload, parts[2]].joined(separator: "."),
                as: GatewayClaims.self
            )
        }
        // One bit of the signature flipped.
        var signature = try #require(base64URLDecode(parts[2]))
        signature[signature.count / 2] ^= 0x01
        let flipped = signature.base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        await #expect(throws: (any Error).self) {
            try await verifier.verify([parts[0], parts[1], flipped].joined(separator: "."), as: GatewayClaims.self)
        }
        // A JWKS without the signing key.
        let stranger = try await Self.verifier(trusting: [try SigningKey.generate(algorithm)])
        await #expect(throws: (any Error).self) { try await stranger.verify(minted.token, as: GatewayClaims.self) }
        // The untouched token still verifies.
        _ = try await verifier.verify(minted.token, as: GatewayClaims.self)
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func headerIsEncodedOnceWithAlgKidAndType(algorithm: SigningKey.Algorithm) throws {
        let key = try SigningKey.generate(algorithm)
        let signer = JWTSigner(key: key)
        let header = try #require(base64URLDecode(signer.encodedHeader))
        #expect(
            String(decoding: header, as: UTF8.self)
                == #"{"alg":"\#(algorithm.rawValue)","kid":"\#(key.kid)","typ":"JWT"}"#
        )
        let first = try signer.mint(Self.claims, now: referenceTime)
        let second = try signer.mint(Self.claims, now: referenceTime)
        #expect(first.token.hasPrefix(signer.encodedHeader + "."))
        #expect(first.token != second.token, "jti differs")
        #expect(!first.token.contains("="))
        let signature = try #require(base64URLDecode(first.token.split(separator: ".")[2]))
        switch algorithm {
        case .es256: #expect(signature.count == 64, "JWS r||s, not DER")
        case .rs256: #expect(signature.count == 256)
        case .edDSA: #expect(signature.count == 64)
        }
    }

    @Test func payloadHasTheClaimsInOrderWithWholeSecondTimes() throws {
        let minted = try JWTSigner(key: try SigningKey.generate(.es256))
            .mint(Self.claims, now: referenceTime.addingTimeInterval(0.75))
        let payload = try #require(base64URLDecode(minted.token.split(separator: ".")[1]))
        let text = String(decoding: payload, as: UTF8.self)
        let jti = try #require(try payloadObject(minted.token)["jti"] as? String)
        #expect(
            text
                == #"{"iss":"https://gw.example.com","sub":"portcullis:payments:stripe","aud":"https://api.example.com","iat":1767225600,"nbf":1767225600,"exp":1767225900,"jti":"\#(jti)","route":"payments/charge","tenant":"acme"}"#
        )
        #expect(jti.count == 36)
        let uuid = try #require(UUID(uuidString: jti))
        #expect(uuid.uuidString.lowercased() == jti)
        #expect(Array(jti)[14] == "4", "version 4")
        #expect("89ab".contains(Array(jti)[19]), "RFC 4122 variant")
        #expect(minted.issuedAt == referenceTime)
        #expect(minted.expiresAt == referenceTime.addingTimeInterval(300))
        #expect(minted.refreshAt(before: .seconds(60)) == referenceTime.addingTimeInterval(240))
        #expect(minted.refreshAt(before: .seconds(600)) == referenceTime)
    }

    @Test func claimValuesAreEscapedAsJSON() throws {
        let tricky = "quote\" backslash\\ slash/ newline\n tab\t cr\r bell\u{07} nul\u{00} unit\u{1F} del\u{7F} é 日本 🚀"
        let claims = try JWTClaims(
            issuer: "https://gw.example.com",
            subject: "sub\"ject",
            audience: "aud\\ience",
            ttl: .seconds(60),
            extra: ["tricky": tricky, "ключ\"\n": "value"]
        )
        let minted = try JWTSigner(key: try SigningKey.generate(.edDSA)).mint(claims, now: referenceTime)
        let payload = try #require(base64URLDecode(minted.token.split(separator: ".")[1]))
        let text = String(decoding: payload, as: UTF8.self)
        #expect(
            text.contains(
                #""tricky":"quote\" backslash\\ slash/ newline\n tab\t cr\r bell\u0007 nul\u0000 unit\u001f del\#u{7F} é 日本 🚀""#
            )
        )
        #expect(text.contains(#""sub":"sub\"ject","aud":"aud\\ience""#))
        #expect(!text.utf8.contains { $0 < 0x20 }, "no raw control characters")
        // A standard parser reads back exactly what went in.
        let object = try payloadObject(minted.token)
        #expect(object["tricky"] as? String == tricky)
        #expect(object["sub"] as? String == "sub\"ject")
        #expect(object["aud"] as? String == "aud\\ience")
        #expect(object["ключ\"\n"] as? String == "value")
    }

    @Test(arguments: ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"])
    func reservedClaimsCannotBeOverridden(name: String) {
        #expect(JWTClaims.reservedNames.contains(name))
        #expect(throws: PKIError(.invalidClaims)) {
            try JWTClaims(issuer: "https://i", subject: "s", audience: "a", ttl: .seconds(60), extra: [name: "x"])
        }
    }

    @Test func malformedClaimsAreRejected() {
        for (issuer, subject, audience, ttl) in [
            ("", "s", "a", Duration.seconds(60)), ("https://i", "", "a", .seconds(60)),
            ("https://i", "s", "", .seconds(60)), ("https://i", "s", "a", .milliseconds(999)),
            ("https://i", "s", "a", .seconds(-5)),
        ] {
            #expect(throws: PKIError(.invalidClaims)) {
                try JWTClaims(issuer: issuer, subject: subject, audience: audience, ttl: ttl)
            }
        }
        #expect(throws: PKIError(.invalidClaims)) {
            try JWTClaims(issuer: "https://i", subject: "s", audience: "a", ttl: .seconds(60), extra: ["": "x"])
        }
    }

    @Test func signerIsSharedAcrossTasks() async throws {
        let key = try SigningKey.generate(.es256)
        let signer = JWTSigner(key: key)
        let tokens = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 { group.addTask { try signer.mint(Self.claims, now: Date()).token } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let verifier = try await Self.verifier(trusting: [key])
        for token in tokens { _ = try await verifier.verify(token, as: GatewayClaims.self) }
        #expect(Set(tokens).count == 8)
    }
}
