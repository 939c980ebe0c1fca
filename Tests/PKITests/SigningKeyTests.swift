import Crypto
import CryptoExtras
import Foundation
import PKI
import Testing

@Suite struct SigningKeyTests {
    /// RFC 7638 §3.1: the RSA key of RFC 7517 appendix A.1 and its thumbprint.
    static let rfc7638Modulus =
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    static let rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

    @Test func thumbprintMatchesRFC7638() async throws {
        let jwk = JSONWebKey(kty: "RSA", n: Self.rfc7638Modulus, e: "AQAB")
        #expect(try jwk.thumbprint() == Self.rfc7638Thumbprint)
        // Optional members do not change it.
        let decorated = JSONWebKey(
            kty: "RSA",
            use: "sig",
            alg: "RS256",
            kid: "2011-04-29",
            n: Self.rfc7638Modulus,
            e: "AQAB"
        )
        #expect(try decorated.thumbprint() == Self.rfc7638Thumbprint)
    }

    @Test func rfc7638KeyThroughSwiftCryptoGetsTheSameKid() async throws {
        // The same public key as a real swift-crypto key, exported as PEM and rendered as a JWK by this module.
        let modulus = try #require(base64URLDecode(Self.rfc7638Modulus))
        let key = try _RSA.Signing.PublicKey(n: modulus, e: Data([0x01, 0x00, 0x01]))
        let jwk = try JSONWebKey(publicKeyPEM: key.pemRepresentation)
        #expect(jwk.n == Self.rfc7638Modulus)
        #expect(jwk.e == "AQAB")
        #expect(jwk.kid == Self.rfc7638Thumbprint)
        #expect(jwk.alg == "RS256")
        #expect(jwk.use == "sig")
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func kidIsTheThumbprintOfTheCanonicalRequiredMembers(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        let jwk = key.publicJWK
        // Rebuild the canonical form independently, with Foundation's sorted-keys JSON writer.
        let required: [String: String] =
            switch jwk.kty {
            case "EC": ["crv": jwk.crv!, "kty": "EC", "x": jwk.x!, "y": jwk.y!]
            case "RSA": ["e": jwk.e!, "kty": "RSA", "n": jwk.n!]
            default: ["crv": jwk.crv!, "kty": "OKP", "x": jwk.x!]
            }
        let canonical = try JSONSerialization.data(withJSONObject: required, options: [.sortedKeys])
        let expected = Data(SHA256.hash(data: canonical)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        #expect(key.kid == expected)
        #expect(jwk.kid == key.kid)
        #expect(key.kid.count == 43)
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func publicJWKHasTheRightMembersAndNoPrivateOnes(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(key.publicJWK.json.utf8)) as? [String: String]
        )
        #expect(object["use"] == "sig")
        #expect(object["alg"] == algorithm.rawValue)
        #expect(object["kid"] == key.kid)
        #expect(object["d"] == nil && object["p"] == nil && object["x5c"] == nil)
        switch algorithm {
        case .es256:
            #expect(Set(object.keys) == ["kty", "use", "alg", "kid", "crv", "x", "y"])
            #expect(object["kty"] == "EC" && object["crv"] == "P-256")
            #expect(base64URLDecode(object["x"]!)?.count == 32 && base64URLDecode(object["y"]!)?.count == 32)
        case .rs256:
            #expect(Set(object.keys) == ["kty", "use", "alg", "kid", "n", "e"])
            #expect(object["e"] == "AQAB")
            #expect(base64URLDecode(object["n"]!)?.count == 256)
        case .edDSA:
            #expect(Set(object.keys) == ["kty", "use", "alg", "kid", "crv", "x"])
            #expect(object["kty"] == "OKP" && object["crv"] == "Ed25519")
            #expect(base64URLDecode(object["x"]!)?.count == 32)
        }
        // The public key PEM renders to the same JWK.
        #expect(try JSONWebKey(publicKeyPEM: key.publicKeyPEM) == key.publicJWK)
    }

    @Test(arguments: SigningKey.Algorithm.allCases)
    func storedFormsLoadBack(algorithm: SigningKey.Algorithm) async throws {
        let key = try SigningKey.generate(algorithm)
        #expect(key.pemRepresentation.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let loaded = try SigningKey(pemRepresentation: key.pemRepresentation)
        #expect(loaded == key)
        #expect(loaded.algorithm == algorithm)
        #expect(loaded.pemRepresentation == key.pemRepresentation)

        let json = try JSONEncoder().encode(key)
        let decoded = try JSONDecoder().decode(SigningKey.self, from: json)
        #expect(decoded == key)
        #expect(decoded.pemRepresentation == key.pemRepresentation)
    }

    @Test func loadsTheFormsOpenSSLWrites() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let cases: [([String], SigningKey.Algorithm?)] = [
            (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], .es256),
            (["ecparam", "-name", "prime256v1", "-genkey", "-noout"], .es256),  // SEC1, EC PRIVATE KEY
            (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], .rs256),
            (["genrsa", "-traditional", "2048"], .rs256),  // PKCS#1, RSA PRIVATE KEY
            (["genpkey", "-algorithm", "ED25519"], .edDSA),
            (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], nil),
            (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"], nil),
        ]
        for (index, (arguments, algorithm)) in cases.enumerated() {
            let name = "key\(index).pem"
            _ = try await openssl.succeed([arguments[0], "-out", openssl.path(name)] + arguments.dropFirst())
            let pem = try openssl.read(name)
            if let algorithm {
                let key = try SigningKey(pemRepresentation: pem)
                #expect(key.algorithm == algorithm, "\(arguments)")
                // openssl agrees on the public key.
                let publicPEM = try await openssl.succeed(["pkey", "-pubout", "-in", openssl.path(name)])
                #expect(try JSONWebKey(publicKeyPEM: publicPEM) == key.publicJWK)
            } else {
                #expect(throws: PKIError(.unsupportedKey), "\(arguments)") { try SigningKey(pemRepresentation: pem) }
            }
        }
        #expect(throws: PKIError(.invalidPEM)) { try SigningKey(pemRepresentation: "-----BEGIN NOTHING-----") }
    }

    @Test func descriptionsNeverShowTheKey() async throws {
        let key = try SigningKey.generate(.es256)
        for text in [
            String(describing: key), String(reflecting: key),
            {
                var s = ""
                dump(key, to: &s)
                return s
            }(),
        ] {
            #expect(text.contains(key.kid))
            #expect(!text.contains("PRIVATE"))
            #expect(!text.contains("impl"))
        }
    }

    @Test func jwksListsEveryKeyInOrder() async throws {
        let keys = try SigningKey.Algorithm.allCases.map(SigningKey.generate)
        let jwks = JSONWebKeySet(keys)
        let json = jwks.json
        #expect(json.hasPrefix(#"{"keys":[{"kty":"#))
        let decoded = try JSONDecoder().decode(JSONWebKeySet.self, from: Data(json.utf8))
        #expect(decoded == jwks)
        #expect(decoded.keys.map(\.kid) == keys.map(\.kid))
        #expect(JSONWebKeySet.mediaType == "application/jwk-set+json")
    }

    @Test func discoveryDocumentIsTheMinimalWorkloadIssuerShape() async throws {
        let document = try OIDCDiscoveryDocument(
            issuer: "https://gw.example.com",
            algorithms: [.es256, .rs256, .es256]
        )
        #expect(
            document.json
                == #"{"issuer":"https://gw.example.com","jwks_uri":"https://gw.example.com/.well-known/jwks.json","response_types_supported":["id_token"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["RS256","ES256"]}"#
        )
        let decoded = try JSONDecoder().decode(OIDCDiscoveryDocument.self, from: Data(document.json.utf8))
        #expect(decoded == document)

        let slash = try OIDCDiscoveryDocument(issuer: "https://gw.example.com/tenant/", algorithms: [.edDSA])
        #expect(slash.issuer == "https://gw.example.com/tenant/")
        #expect(slash.jwksURI == "https://gw.example.com/tenant/.well-known/jwks.json")
        #expect(slash.idTokenSigningAlgValuesSupported == ["EdDSA"])

        _ = try OIDCDiscoveryDocument(issuer: "http://127.0.0.1:8443", algorithms: [.es256])
        _ = try OIDCDiscoveryDocument(issuer: "http://localhost:8443", algorithms: [.es256])
        for issuer in [
            "http://gw.example.com", "https://gw.example.com?tenant=1", "https://gw.example.com#x", "gw.example.com",
            "https://user:pw@gw.example.com", "",
        ] {
            #expect(throws: PKIError(.invalidIssuer), "\(issuer)") {
                try OIDCDiscoveryDocument(issuer: issuer, algorithms: [.es256])
            }
        }
    }
}
