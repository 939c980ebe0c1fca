import Crypto

extension SigningKey {
    /// The salt of ``namespaceKey(for:)``. Its version changes only when the derivation does (which changes
    /// every namespace key and `kid`).
    static let namespaceKeySalt = Array("portcullis.io namespace signing key v1".utf8)

    /// The order n of P-256's base point, big-endian: a private scalar is in 1 … n − 1.
    static let p256Order: [UInt8] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51,
    ]

    /// The ES256 key this installation key derives for `namespace`: what that namespace's private_key_jwt client
    /// assertions are signed with, so an authorization server that trusts the namespace's JWKS trusts no other
    /// namespace's assertions, whatever client ID they carry.
    ///
    /// ```
    /// okm(c) = HKDF-SHA256(ikm:  d, the installation key's private scalar (32 bytes, big-endian),
    ///                      salt: "portcullis.io namespace signing key v1",
    ///                      info: "namespace:" ‖ namespace ‖ 0x00 ‖ c,   c = 0, 1, …,
    ///                      L:    32)
    /// d(namespace) = okm(c) for the first c with 1 ≤ okm(c) ≤ n − 1 (n: P-256's order)
    /// ```
    ///
    /// An `okm` outside the scalar range (probability about 2⁻³²) is rejected and derived again with the next
    /// counter, so the key is uniform and the same on every replica. HKDF is a PRF keyed by `d`: the namespace
    /// keys reveal nothing of `d` or of each other. The key's `kid` is its own RFC 7638 thumbprint. Namespaces
    /// contain no NUL, so the info encoding is unambiguous.
    ///
    /// Cost: one HKDF and one P-256 public key (a scalar multiplication), tens of microseconds.
    ///
    /// - Parameter namespace: A Kubernetes namespace.
    /// - Returns: The derived ES256 key.
    /// - Throws: ``PKIError/Code/unsupportedKey`` when this is not an ES256 key, ``PKIError/Code/invalidRequest``
    ///   for an empty namespace or one with a NUL.
    public func namespaceKey(for namespace: String) throws -> SigningKey {
        guard case .p256(let key) = backing else {
            throw PKIError(.unsupportedKey, "namespace keys are derived from ES256 keys, not \(algorithm.rawValue)")
        }
        guard !namespace.isEmpty, !namespace.utf8.contains(0) else {
            throw PKIError(.invalidRequest, "a namespace key needs a namespace name without NUL")
        }
        let secret = SymmetricKey(data: key.rawRepresentation)
        for counter in UInt8.min...UInt8.max {
            let info = Array("namespace:".utf8) + Array(namespace.utf8) + [0, counter]
            let derived = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: secret,
                salt: Self.namespaceKeySalt,
                info: info,
                outputByteCount: 32
            )
            let scalar = derived.withUnsafeBytes { Array($0) }
            guard Self.isP256Scalar(scalar) else { continue }
            do {
                return try SigningKey(.p256(P256.Signing.PrivateKey(rawRepresentation: scalar)))
            } catch {
                throw PKIError(.unsupportedKey, "cannot make a P-256 key from the derived scalar: \(type(of: error))")
            }
        }
        // 256 rejections in a row: probability about 2⁻⁸¹⁹².
        throw PKIError(.invalidState, "no P-256 scalar in 256 derivations for namespace \(namespace)")
    }

    /// Whether 32 big-endian bytes are a P-256 private scalar: 1 ≤ k ≤ n − 1.
    static func isP256Scalar(_ bytes: [UInt8]) -> Bool {
        guard bytes.count == 32, bytes.contains(where: { $0 != 0 }) else { return false }
        for (byte, limit) in zip(bytes, p256Order) where byte != limit {
            return byte < limit
        }
        return false  // equal to n
    }
}
