import Foundation
public import PKI

/// What the gateway signs its own JWTs with: the installation's issuer and the key ring's current signing keys, one
/// ``JWTSigner`` per algorithm (each encodes its header once).
///
/// The key ring lives in the controller; it hands a new context to ``SharedSigningContext/update(_:)`` whenever the
/// signing keys change. Providers read the current one at every exchange.
public struct SigningContext: Sendable {
    /// The `iss` of gateway JWTs and of federated assertions: the installation's issuer URL, byte for byte.
    public var issuer: String
    /// The signer for each algorithm that has an active key.
    public var signers: [SigningKey.Algorithm: JWTSigner]

    /// - Parameters:
    ///   - issuer: The installation's issuer URL.
    ///   - signingKeys: The active keys, at most one per algorithm (a later one of the same algorithm wins).
    public init(issuer: String, signingKeys: some Sequence<SigningKey>) {
        self.issuer = issuer
        var signers: [SigningKey.Algorithm: JWTSigner] = [:]
        for key in signingKeys { signers[key.algorithm] = JWTSigner(key: key) }
        self.signers = signers
    }

    /// The context for a key ring snapshot's signing keys.
    public init(issuer: String, snapshot: KeyRing.Snapshot) {
        self.init(issuer: issuer, signingKeys: snapshot.signingKeys.values)
    }

    /// The signer for `algorithm`.
    ///
    /// - Throws: ``CredentialError/Reason/signingKeyUnavailable`` when the key ring has no active key for it.
    public func signer(for algorithm: SigningKey.Algorithm) throws -> JWTSigner {
        guard let signer = signers[algorithm] else {
            throw CredentialError(
                .signingKeyUnavailable,
                "the key ring has no active \(algorithm.rawValue) key for issuer \(issuer)"
            )
        }
        return signer
    }

    /// Mints a JWT with the installation's key and issuer; used for federated assertions and subject tokens on the
    /// control plane.
    ///
    /// - Parameters:
    ///   - subject: The `sub`.
    ///   - audience: The `aud`.
    ///   - ttl: The lifetime.
    ///   - algorithm: Which key signs.
    ///   - now: The issue time.
    /// - Throws: ``CredentialError`` with ``CredentialError/Reason/signingKeyUnavailable`` or
    ///   ``CredentialError/Reason/invalidConfiguration`` (bad claims).
    func mint(
        subject: String,
        audience: String,
        ttl: Duration,
        algorithm: SigningKey.Algorithm,
        now: Date
    ) throws -> MintedToken {
        try mint(with: signer(for: algorithm), issuer: issuer, subject: subject, audience: audience, ttl: ttl, now: now)
    }

    /// The signer of `namespace`'s client assertions: the key the active ES256 key derives for it.
    ///
    /// - Throws: ``CredentialError/Reason/signingKeyUnavailable`` without an active ES256 key.
    public func namespaceSigner(for namespace: String) throws -> JWTSigner {
        do {
            return JWTSigner(key: try signer(for: .es256).key.namespaceKey(for: namespace))
        } catch let error as PKIError {
            throw CredentialError(
                .signingKeyUnavailable,
                "cannot derive the key of namespace \(namespace): \(error.message)"
            )
        }
    }

    /// Mints an RFC 7523 client assertion (`iss` = `sub` = the client ID) with `namespace`'s key
    /// (``namespaceSigner(for:)``, tens of microseconds to derive; assertions are minted per token request).
    ///
    /// - Throws: ``CredentialError`` with ``CredentialError/Reason/signingKeyUnavailable`` or
    ///   ``CredentialError/Reason/invalidConfiguration`` (bad claims).
    func mintClientAssertion(
        clientID: String,
        namespace: String,
        audience: String,
        ttl: Duration,
        now: Date
    ) throws -> MintedToken {
        let signer = try namespaceSigner(for: namespace)
        return try mint(with: signer, issuer: clientID, subject: clientID, audience: audience, ttl: ttl, now: now)
    }

    private func mint(
        with signer: JWTSigner,
        issuer: String,
        subject: String,
        audience: String,
        ttl: Duration,
        now: Date
    ) throws -> MintedToken {
        let claims: JWTClaims
        do {
            claims = try JWTClaims(issuer: issuer, subject: subject, audience: audience, ttl: ttl)
        } catch let error as PKIError {
            throw CredentialError(.invalidConfiguration, "cannot build the assertion's claims: \(error.message)")
        }
        do {
            return try signer.mint(claims, now: now)
        } catch {
            throw CredentialError(
                .signingKeyUnavailable,
                "signing with \(signer.key.algorithm.rawValue) failed: \(type(of: error))"
            )
        }
    }
}

extension SigningContext: CustomStringConvertible {
    public var description: String {
        let keys = signers.keys.sorted().map { "\($0.rawValue): \(signers[$0]!.key.kid)" }
        return "SigningContext(issuer: \(issuer), keys: [\(keys.joined(separator: ", "))])"
    }
}
