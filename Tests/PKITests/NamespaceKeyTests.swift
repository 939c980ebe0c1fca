import Crypto
import Foundation
import JWTKit
@testable import PKI
import Testing

/// The keys a namespace's private_key_jwt assertions are signed with: derived from the installation's ES256
/// keys, one per namespace, and checked by jwt-kit against each JWKS.
@Suite struct NamespaceKeyTests {
    static let claims = try! JWTClaims(issuer: "client-a", subject: "client-a", audience: "https://idp.example.com/token", ttl: .seconds(300))

    @Test func theDerivationIsTheDocumentedHKDFAndTheSameOnEveryReplica() throws {
        let installation = try SigningKey.generate(.es256)
        let derived = try installation.namespaceKey(for: "shop")
        #expect(derived.algorithm == .es256)

        // RFC 5869 by hand, with HMAC: extract, then one block of expand (counter 0 gives a scalar but for ~2⁻³²).
        let scalar = try P256.Signing.PrivateKey(pemRepresentation: installation.pemRepresentation).rawRepresentation
        let salt = SymmetricKey(data: Array("portcullis.io namespace signing key v1".utf8))
        let prk = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: scalar, using: salt)))
        let info = Array("namespace:shop".utf8) + [0, 0]
        let okm = Data(HMAC<SHA256>.authenticationCode(for: info + [1], using: prk))
        let expected = try P256.Signing.PrivateKey(rawRepresentation: okm)
        #expect(try JSONWebKey(publicKeyPEM: expected.publicKey.pemRepresentation).kid == derived.kid)

        // A replica that loads the installation key from its Secret derives the same key.
        let loaded = try SigningKey(pemRepresentation: installation.pemRepresentation)
        #expect(try loaded.namespaceKey(for: "shop").pemRepresentation == derived.pemRepresentation)
    }

    @Test func eachNamespaceAndEachInstallationKeyHasItsOwnKey() throws {
        let installation = try SigningKey.generate(.es256)
        let next = try SigningKey.generate(.es256)
        let kids = try [
            installation.kid, installation.namespaceKey(for: "shop").kid, installation.namespaceKey(for: "finance").kid,
            installation.namespaceKey(for: "shop2").kid, next.namespaceKey(for: "shop").kid,
        ]
        #expect(Set(kids).count == kids.count, "\(kids)")
    }

    @Test func onlyES256KeysDeriveAndTheNamespaceMustBeAName() throws {
        #expect(throws: PKIError(.unsupportedKey)) { try SigningKey.generate(.rs256).namespaceKey(for: "shop") }
        #expect(throws: PKIError(.unsupportedKey)) { try SigningKey.generate(.edDSA).namespaceKey(for: "shop") }
        #expect(throws: PKIError(.invalidRequest)) { try SigningKey.generate(.es256).namespaceKey(for: "") }
    }

    @Test func anAssertionOfOneNamespaceVerifiesOnlyAgainstThatNamespacesJWKS() async throws {
        let installation = try SigningKey.generate(.es256)
        let a = try installation.namespaceKey(for: "team-a")
        let b = try installation.namespaceKey(for: "team-b")
        let assertion = try JWTSigner(key: a).mint(Self.claims, now: Date()).token

        let againstA = try await JWTKeyCollection().add(jwksJSON: JSONWebKeySet([a]).json)
        let payload = try await againstA.verify(assertion, as: GatewayClaims.self)
        #expect(payload.sub.value == "client-a")
        for (name, keys) in [("team-b", [b]), ("the installation", [installation]), ("team-b and the installation", [b, installation])] {
            let verifier = try await JWTKeyCollection().add(jwksJSON: JSONWebKeySet(keys).json)
            await #expect(throws: (any Error).self, "\(name)'s JWKS must not verify team-a's assertion") {
                try await verifier.verify(assertion, as: GatewayClaims.self)
            }
        }
    }

    @Test func scalarsOutsideOneToNMinusOneAreRejected() {
        let order = SigningKey.p256Order
        var belowOrder = order
        belowOrder[31] -= 1
        var aboveOrder = order
        aboveOrder[31] += 1
        #expect(SigningKey.isP256Scalar(belowOrder))
        #expect(SigningKey.isP256Scalar([UInt8](repeating: 0, count: 31) + [1]))
        #expect(!SigningKey.isP256Scalar(order), "n itself")
        #expect(!SigningKey.isP256Scalar(aboveOrder))
        #expect(!SigningKey.isP256Scalar([UInt8](repeating: 0xFF, count: 32)))
        #expect(!SigningKey.isP256Scalar([UInt8](repeating: 0, count: 32)))
        #expect(!SigningKey.isP256Scalar([1]))
    }

    @Test func theNamespaceJWKSPathIsBelowTheIssuer() {
        #expect(OIDCDiscoveryDocument.namespaceJWKSPath("shop") == "/namespaces/shop/jwks.json")
    }
}
