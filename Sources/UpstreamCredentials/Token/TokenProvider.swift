public import Foundation

/// Something that obtains a token from a token service: Google STS (and IAM Credentials), Entra ID, or a generic
/// OAuth 2.0 authorization server.
///
/// Providers are called by a ``TokenCache`` off the request path, one call at a time per cache entry. They hold no
/// token state of their own: each call does the whole exchange again.
public protocol TokenProvider: Sendable {
    /// Obtains a new token.
    ///
    /// - Parameter now: The time by the cache's clock; assertions are minted with it and relative lifetimes
    ///   (`expires_in`) are counted from it.
    /// - Returns: The token and when it expires.
    /// - Throws: ``CredentialError`` for every failure the token service or the network can produce;
    ///   `CancellationError` when the task is cancelled.
    func fetch(now: Date) async throws -> Token
}
