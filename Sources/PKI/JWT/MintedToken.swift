public import Foundation

/// A signed JWT and what a token cache needs to keep it: when it expires and which key signed it.
public struct MintedToken: Sendable, Hashable {
    /// The compact JWS, `header.payload.signature`.
    public var token: String
    /// The `kid` of the signing key; a cache drops tokens whose key has left the key ring.
    public var kid: String
    /// The `iat` (and `nbf`) claim.
    public var issuedAt: Date
    /// The `exp` claim.
    public var expiresAt: Date

    public init(token: String, kid: String, issuedAt: Date, expiresAt: Date) {
        self.token = token
        self.kid = kid
        self.issuedAt = issuedAt
        self.expiresAt = expiresAt
    }

    /// When a cache should replace the token: `before` ahead of expiry, but never before it was issued.
    ///
    /// - Parameter before: How long before expiry to refresh (for gateway JWTs the resource API's default is a
    ///   fifth of the TTL).
    /// - Returns: `max(issuedAt, expiresAt - before)`.
    public func refreshAt(before: Duration) -> Date {
        max(issuedAt, expiresAt.addingTimeInterval(-before.timeInterval))
    }
}
