import Crypto
import CryptoExtras
import Foundation
import X509

/// A private key that signs gateway JWTs: ES256 (P-256), RS256 (RSA 2048) or EdDSA (Ed25519).
///
/// Its ``kid`` is the RFC 7638 JWK thumbprint of its public key, so the same key always has the same `kid`
/// and two keys never share one. Store it with ``pemRepresentation`` (PKCS#8) or as `Codable` (the
/// algorithm, `kid` and PKCS#8 PEM), and load it back with ``init(pemRepresentation:)``.
///
/// `description`, `debugDescription` and its mirror name the algorithm and `kid` only, never key material.
public struct SigningKey: Sendable {
    /// The JWS algorithms the gateway signs with (the `alg` header); raw values as in RFC 7518 and RFC 8037.
    public enum Algorithm: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
        /// ECDSA over P-256 with SHA-256; the signature is r‖s, 64 bytes. Accepted by GCP WIF.
        case es256 = "ES256"
        /// RSASSA-PKCS1-v1_5 with SHA-256. Accepted everywhere; the only choice for Entra federated credentials.
        case rs256 = "RS256"
        /// Ed25519 (RFC 8037). Small and fast, but not accepted by GCP WIF or Entra.
        case edDSA = "EdDSA"

        /// The order documents list algorithms in: RS256 first, as OIDC discovery expects it.
        public static func < (lhs: Algorithm, rhs: Algorithm) -> Bool { lhs.rank < rhs.rank }

        private var rank: Int {
            switch self {
            case .rs256: 0
            case .es256: 1
            case .edDSA: 2
            }
        }
    }

    enum Backing: Sendable {
        case p256(P256.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    /// The RSA modulus size ``generate(_:)`` uses.
    public static let rsaKeySize = 2048

    public let algorithm: Algorithm
    /// The RFC 7638 thumbprint of the public key (base64url SHA-256), the `kid` header and JWK member.
    public let kid: String
    /// The public key as the JWKS publishes it, with `use`, `alg` and `kid`.
    public let publicJWK: JSONWebKey
    let backing: Backing

    init(_ backing: Backing) throws {
        self.backing = backing
        let algorithm: Algorithm
        var jwk: JSONWebKey
        switch backing {
        case .p256(let key):
            algorithm = .es256
            jwk = JSONWebKey(p256: key.publicKey)
        case .rsa(let key):
            algorithm = .rs256
            jwk = try JSONWebKey(rsa: key.publicKey)
        case .ed25519(let key):
            algorithm = .edDSA
            jwk = JSONWebKey(ed25519: key.publicKey)
        }
        let kid = try jwk.thumbprint()
        jwk.use = "sig"
        jwk.alg = algorithm.rawValue
        jwk.kid = kid
        self.algorithm = algorithm
        self.kid = kid
        self.publicJWK = jwk
    }

    /// Generates a new key for `algorithm`.
    ///
    /// - Parameter algorithm: ES256 makes a P-256 key, RS256 a 2048-bit RSA key (tens of milliseconds), EdDSA an
    ///   Ed25519 key.
    /// - Returns: The new key.
    /// - Throws: ``PKIError`` if the RSA key cannot be generated.
    public static func generate(_ algorithm: Algorithm) throws -> SigningKey {
        switch algorithm {
        case .es256:
            return try SigningKey(.p256(P256.Signing.PrivateKey(compactRepresentable: false)))
        case .rs256:
            do {
                return try SigningKey(.rsa(_RSA.Signing.PrivateKey(keySize: .init(bitCount: rsaKeySize))))
            } catch let error as PKIError {
                throw error
            } catch {
                throw PKIError(.unsupportedKey, "cannot generate an RSA key: \(error)")
            }
        case .edDSA:
            return try SigningKey(.ed25519(Curve25519.Signing.PrivateKey()))
        }
    }

    /// Loads a key from PEM: PKCS#8 (`PRIVATE KEY`) for all three, or the older `EC PRIVATE KEY` (SEC1) and
    /// `RSA PRIVATE KEY` (PKCS#1) forms. The algorithm follows from the key: P-256 signs ES256, RSA (2048 bits
    /// or more) RS256, Ed25519 EdDSA.
    ///
    /// - Parameter pemRepresentation: The private key's PEM text.
    /// - Throws: ``PKIError/Code/invalidPEM`` if it is not a private key, ``PKIError/Code/unsupportedKey`` for
    ///   any other curve or a short RSA key.
    public init(pemRepresentation: String) throws {
        let parsed = try PEMCertificates.privateKey(pemRepresentation, what: "the signing key")
        let publicKey = parsed.publicKey
        do {
            if P256.Signing.PublicKey(publicKey) != nil {
                try self.init(.p256(P256.Signing.PrivateKey(pemRepresentation: pemRepresentation)))
            } else if _RSA.Signing.PublicKey(publicKey) != nil {
                try self.init(.rsa(_RSA.Signing.PrivateKey(pemRepresentation: pemRepresentation)))
            } else if Curve25519.Signing.PublicKey(publicKey) != nil {
                try self.init(.ed25519(Curve25519.Signing.PrivateKey(pemRepresentation: pemRepresentation)))
            } else {
                throw PKIError(.unsupportedKey, "JWT keys are P-256, RSA or Ed25519, not \(parsed)")
            }
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError(.unsupportedKey, "cannot load the \(parsed) key: \(error)")
        }
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), for storage in a Secret.
    public var pemRepresentation: String {
        let pem =
            switch backing {
            case .p256(let key): key.pemRepresentation
            case .rsa(let key): key.pkcs8PEMRepresentation
            case .ed25519(let key): key.pemRepresentation
            }
        return pem.withTrailingNewline
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    public var publicKeyPEM: String {
        let pem =
            switch backing {
            case .p256(let key): key.publicKey.pemRepresentation
            case .rsa(let key): key.publicKey.pemRepresentation
            case .ed25519(let key): key.publicKey.pemRepresentation
            }
        return pem.withTrailingNewline
    }

    /// Signs `signingInput` and returns the signature in JWS form: r‖s (64 bytes) for ES256, the PKCS#1 v1.5
    /// signature for RS256, the 64-byte Ed25519 signature for EdDSA.
    func signature(for signingInput: UnsafeRawBufferPointer) throws -> Data {
        switch backing {
        case .p256(let key):
            try key.signature(for: signingInput).rawRepresentation
        case .rsa(let key):
            try key.signature(for: signingInput, padding: .insecurePKCS1v1_5).rawRepresentation
        case .ed25519(let key):
            try key.signature(for: signingInput)
        }
    }
}

extension SigningKey: Hashable {
    /// Keys are equal when their public keys are: the `kid` is a hash of the public key.
    public static func == (lhs: SigningKey, rhs: SigningKey) -> Bool {
        lhs.algorithm == rhs.algorithm && lhs.kid == rhs.kid
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(algorithm)
        hasher.combine(kid)
    }
}

extension SigningKey: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "SigningKey(\(algorithm.rawValue), kid: \(kid))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["algorithm": algorithm, "kid": kid]) }
}

extension SigningKey: Codable {
    enum CodingKeys: String, CodingKey {
        case algorithm = "alg"
        case kid
        case privateKey
    }

    /// Decodes `{"alg","kid","privateKey"}` and checks that the key matches both.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let algorithm = try container.decode(Algorithm.self, forKey: .algorithm)
        let kid = try container.decode(String.self, forKey: .kid)
        try self.init(pemRepresentation: container.decode(String.self, forKey: .privateKey))
        guard self.algorithm == algorithm, self.kid == kid else {
            throw PKIError(
                .invalidState,
                "stored key \(kid) (\(algorithm.rawValue)) is really \(self.kid) (\(self.algorithm.rawValue))"
            )
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(algorithm, forKey: .algorithm)
        try container.encode(kid, forKey: .kid)
        try container.encode(pemRepresentation, forKey: .privateKey)
    }
}
