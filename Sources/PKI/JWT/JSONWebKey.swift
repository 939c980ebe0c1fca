import Crypto
import CryptoExtras
import SwiftASN1
import X509

/// A public JSON Web Key (RFC 7517) as a JWKS publishes it: `kty`, then `crv`/`x`/`y` (EC, OKP) or
/// `n`/`e` (RSA), and `use`, `alg`, `kid`. Never private members, never `x5c` (GCP WIF rejects it).
public struct JSONWebKey: Sendable, Hashable, Codable {
    /// `EC`, `RSA` or `OKP`.
    public var kty: String
    public var use: String?
    public var alg: String?
    public var kid: String?
    /// `P-256` for EC, `Ed25519` for OKP.
    public var crv: String?
    public var x: String?
    public var y: String?
    /// The RSA modulus, unsigned big-endian without leading zero bytes, base64url.
    public var n: String?
    /// The RSA public exponent, likewise.
    public var e: String?

    public init(
        kty: String,
        use: String? = nil,
        alg: String? = nil,
        kid: String? = nil,
        crv: String? = nil,
        x: String? = nil,
        y: String? = nil,
        n: String? = nil,
        e: String? = nil
    ) {
        self.kty = kty
        self.use = use
        self.alg = alg
        self.kid = kid
        self.crv = crv
        self.x = x
        self.y = y
        self.n = n
        self.e = e
    }

    /// The JWK of a public key in PEM (`-----BEGIN PUBLIC KEY-----`): P-256, RSA or Ed25519, with `use: sig`, the
    /// algorithm the gateway would sign with and the RFC 7638 thumbprint as `kid`.
    ///
    /// - Parameter publicKeyPEM: SubjectPublicKeyInfo PEM.
    /// - Throws: ``PKIError/Code/invalidPEM`` or ``PKIError/Code/unsupportedKey``.
    public init(publicKeyPEM: String) throws {
        let publicKey: Certificate.PublicKey
        do {
            publicKey = try Certificate.PublicKey(pemEncoded: publicKeyPEM)
        } catch {
            throw PKIError(.invalidPEM, "not a public key in PEM form: \(error)")
        }
        let algorithm: SigningKey.Algorithm
        if let p256 = P256.Signing.PublicKey(publicKey) {
            self.init(p256: p256)
            algorithm = .es256
        } else if let rsa = _RSA.Signing.PublicKey(publicKey) {
            try self.init(rsa: rsa)
            algorithm = .rs256
        } else if let ed25519 = Curve25519.Signing.PublicKey(publicKey) {
            self.init(ed25519: ed25519)
            algorithm = .edDSA
        } else {
            throw PKIError(.unsupportedKey, "JWT keys are P-256, RSA or Ed25519, not \(publicKey)")
        }
        use = "sig"
        alg = algorithm.rawValue
        kid = try thumbprint()
    }

    init(p256 key: P256.Signing.PublicKey) {
        // x9.63: 0x04 ‖ x ‖ y, each coordinate exactly 32 bytes (RFC 7518 §6.2.1.2 wants the full length).
        let point = Array(key.x963Representation)
        self.init(
            kty: "EC",
            crv: "P-256",
            x: Base64URL.encodedString(point[1..<33]),
            y: Base64URL.encodedString(point[33..<65])
        )
    }

    init(rsa key: _RSA.Signing.PublicKey) throws {
        let primitives: _RSA.Signing.PublicKey.Primitives
        do {
            primitives = try key.getKeyPrimitives()
        } catch {
            throw PKIError(.unsupportedKey, "cannot read the RSA key's modulus and exponent: \(error)")
        }
        self.init(
            kty: "RSA",
            n: Base64URL.encodedString(primitives.modulus.drop(while: { $0 == 0 })),
            e: Base64URL.encodedString(primitives.publicExponent.drop(while: { $0 == 0 }))
        )
    }

    init(ed25519 key: Curve25519.Signing.PublicKey) {
        self.init(kty: "OKP", crv: "Ed25519", x: Base64URL.encodedString(key.rawRepresentation))
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256) of the required members in lexicographic order without
    /// whitespace — `{"crv","kty","x","y"}` for EC, `{"e","kty","n"}` for RSA, `{"crv","kty","x"}` for OKP
    /// (RFC 8037 §2). Optional members (`use`, `alg`, `kid`) do not change it.
    ///
    /// - Returns: The 43-character base64url thumbprint.
    /// - Throws: ``PKIError/Code/unsupportedKey`` for another `kty` or a missing member.
    public func thumbprint() throws -> String {
        Base64URL.encodedString(SHA256.hash(data: try thumbprintInput()))
    }

    /// The canonical JSON the thumbprint hashes.
    func thumbprintInput() throws -> [UInt8] {
        func required(_ value: String?, _ name: String) throws -> String {
            guard let value else { throw PKIError(.unsupportedKey, "a \(kty) JWK needs \(name)") }
            return value
        }
        var json: [UInt8] = []
        switch kty {
        case "EC":
            json.append(contentsOf: #"{"crv":"#.utf8)
            json.appendJSONString(try required(crv, "crv"))
            json.append(contentsOf: #","kty":"EC","x":"#.utf8)
            json.appendJSONString(try required(x, "x"))
            json.append(contentsOf: #","y":"#.utf8)
            json.appendJSONString(try required(y, "y"))
        case "RSA":
            json.append(contentsOf: #"{"e":"#.utf8)
            json.appendJSONString(try required(e, "e"))
            json.append(contentsOf: #","kty":"RSA","n":"#.utf8)
            json.appendJSONString(try required(n, "n"))
        case "OKP":
            json.append(contentsOf: #"{"crv":"#.utf8)
            json.appendJSONString(try required(crv, "crv"))
            json.append(contentsOf: #","kty":"OKP","x":"#.utf8)
            json.appendJSONString(try required(x, "x"))
        default:
            throw PKIError(.unsupportedKey, "no RFC 7638 thumbprint for kty \(kty)")
        }
        json.append(UInt8(ascii: "}"))
        return json
    }

    /// Appends the key as a JSON object, members in the order `kty, use, alg, kid, crv, x, y, n, e`.
    func appendJSON(to json: inout [UInt8]) {
        json.append(UInt8(ascii: "{"))
        json.appendJSONKey("kty")
        json.appendJSONString(kty)
        let members: [(StaticString, String?)] = [
            ("use", use), ("alg", alg), ("kid", kid), ("crv", crv), ("x", x), ("y", y), ("n", n), ("e", e),
        ]
        for case (let name, let value?) in members {
            json.append(UInt8(ascii: ","))
            json.appendJSONKey(name)
            json.appendJSONString(value)
        }
        json.append(UInt8(ascii: "}"))
    }

    /// The key as compact JSON, members in a fixed order.
    public var json: String {
        var bytes: [UInt8] = []
        appendJSON(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}
