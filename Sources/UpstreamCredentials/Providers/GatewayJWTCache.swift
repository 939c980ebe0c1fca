public import Foundation
public import PKI
import Synchronization

/// Gateway JWTs for one UpstreamAuth, minted with PKI's ``JWTSigner`` and cached per audience until
/// `refreshBefore` (a fifth of the TTL by default) ahead of expiry, or minted for every request.
///
/// Minting is local and synchronous (ES256 ≈ 20 µs, EdDSA ≈ 12 µs, RS256 ≈ 430 µs here), so there is no background
/// refresh: the first request after `refreshAt` mints the next token outside the lock. A warm read is one atomic load
/// (has the signing context changed?), one `Mutex` and a dictionary lookup by audience, and returns a prebuilt header
/// value: no JSON, no allocation. When the signing context changes, tokens whose `kid` no longer signs, or whose
/// issuer changed, are minted again.
public final class GatewayJWTCache: Sendable {
    private struct Entry {
        var claims: JWTClaims
        var token: MintedToken?
        var headerValue: String
        var refreshAt: Date
    }

    private struct State {
        var version: UInt64 = .max
        var entries: [String: Entry] = [:]
        var lastMint: MintedToken?
        var lastMintTime: Date?
        var consecutiveFailures = 0
        var lastError: CredentialError?
    }

    /// More audiences than this (a misconfiguration) empties the cache rather than growing it.
    static let maximumAudiences = 1024

    public let configuration: GatewayJWTConfiguration
    public let header: CredentialHeader
    private let signing: SharedSigningContext
    private let state = Mutex(State())

    /// - Parameters:
    ///   - configuration: Claims, TTL, algorithm, caching.
    ///   - header: Where the token goes.
    ///   - signing: The gateway's issuer and signing keys.
    /// - Throws: ``CredentialError/Reason/invalidConfiguration`` (see ``GatewayJWTConfiguration/validate()``).
    public init(configuration: GatewayJWTConfiguration, header: CredentialHeader = CredentialHeader(), signing: SharedSigningContext) throws {
        try configuration.validate()
        self.configuration = configuration
        self.header = header
        self.signing = signing
    }

    /// The header value (`prefix + JWT`) for a request to `audience`.
    ///
    /// - Parameters:
    ///   - audience: The upstream origin; ignored when the configuration fixes the audience.
    ///   - now: The request's time.
    /// - Throws: ``CredentialError/Reason/signingKeyUnavailable`` when the key ring has no key for the algorithm.
    public func headerValue(audience: String, now: Date) throws -> String {
        try token(audience: audience, now: now).headerValue
    }

    /// The token for a request to `audience`.
    public func token(audience: String, now: Date) throws -> (token: MintedToken, headerValue: String) {
        let audience = configuration.audience ?? audience
        let version = signing.version
        if !configuration.mintPerRequest {
            let hit: (MintedToken, String)? = state.withLock { state in
                guard state.version == version, let entry = state.entries[audience], let token = entry.token,
                    now < entry.refreshAt
                else { return nil }
                return (token, entry.headerValue)
            }
            if let hit { return hit }
        }
        return try mint(audience: audience, now: now)
    }

    private func mint(audience: String, now: Date) throws -> (token: MintedToken, headerValue: String) {
        let (version, context) = signing.snapshot()
        // A new signing context: keep the tokens it would sign the same way, drop the rest.
        if let context, let signer = context.signers[configuration.algorithm] {
            let issuer = context.issuer
            let kept: (MintedToken, String)? = state.withLock { state in
                if state.version != version {
                    state.entries = state.entries.filter { _, entry in
                        entry.token?.kid == signer.key.kid && entry.claims.issuer == issuer
                    }
                    state.version = version
                }
                guard !configuration.mintPerRequest, let entry = state.entries[audience], let token = entry.token,
                    now < entry.refreshAt
                else { return nil }
                return (token, entry.headerValue)
            }
            if let kept { return kept }
        }
        do {
            guard let context else {
                throw CredentialError(.signingKeyUnavailable, "the gateway's signing keys are not loaded yet")
            }
            let signer = try context.signer(for: configuration.algorithm)
            let claims = try claims(for: audience, issuer: context.issuer)
            let token: MintedToken
            do {
                token = try signer.mint(claims, now: now)
            } catch {
                throw CredentialError(.signingKeyUnavailable, "signing failed: \(type(of: error))")
            }
            let headerValue = header.value(for: token.token)
            let refreshAt = token.refreshAt(before: configuration.effectiveRefreshBefore)
            state.withLock { state in
                // Cache only what the current context signed (another thread may have seen a newer one).
                if state.version == version {
                    if state.entries.count >= Self.maximumAudiences && state.entries[audience] == nil {
                        state.entries.removeAll()
                    }
                    state.entries[audience] = Entry(claims: claims, token: token, headerValue: headerValue, refreshAt: refreshAt)
                }
                state.lastMint = token
                state.lastMintTime = now
                state.consecutiveFailures = 0
                state.lastError = nil
            }
            return (token, headerValue)
        } catch let error as CredentialError {
            state.withLock { state in
                state.consecutiveFailures += 1
                state.lastError = error
            }
            throw error
        }
    }

    /// The cached claims for `audience`, or new ones.
    private func claims(for audience: String, issuer: String) throws -> JWTClaims {
        if let cached = state.withLock({ $0.entries[audience]?.claims }), cached.issuer == issuer { return cached }
        do {
            return try JWTClaims(
                issuer: issuer,
                subject: configuration.subject,
                audience: audience,
                ttl: configuration.ttl,
                extra: configuration.claims
            )
        } catch let error as PKIError {
            throw CredentialError(.invalidConfiguration, "cannot build the gateway JWT's claims: \(error.message)")
        }
    }

    /// The status for UpstreamAuth: the newest token's expiry, when it was minted, the earliest refresh due.
    public func status(now: Date) -> CredentialStatusSnapshot {
        state.withLock { state in
            let ready = state.lastMint.map { now < $0.expiresAt } ?? false
            return CredentialStatusSnapshot(
                ready: ready && state.lastError == nil,
                expiresAt: state.lastMint?.expiresAt,
                lastRefreshTime: state.lastMintTime,
                nextRefreshTime: configuration.mintPerRequest ? nil : state.entries.values.map(\.refreshAt).min(),
                consecutiveFailures: state.consecutiveFailures,
                lastError: state.lastError
            )
        }
    }
}
