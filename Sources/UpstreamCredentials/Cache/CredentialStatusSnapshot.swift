public import Foundation

/// What UpstreamAuth status reports about a credential: the `credential` block and the `CredentialReady`
/// condition. Never token material.
public struct CredentialStatusSnapshot: Sendable, Hashable {
    /// Whether a valid token is in hand now (`CredentialReady=True`).
    public var ready: Bool
    /// The current token's expiry.
    public var expiresAt: Date?
    /// When the current token was obtained.
    public var lastRefreshTime: Date?
    /// When the next fetch is due (refresh ahead, a retry, or the next round after a failure).
    public var nextRefreshTime: Date?
    /// Failed fetch attempts since the last success.
    public var consecutiveFailures: Int
    /// The last failure since the last success; its `description` is what status shows.
    public var lastError: CredentialError?

    public init(
        ready: Bool,
        expiresAt: Date? = nil,
        lastRefreshTime: Date? = nil,
        nextRefreshTime: Date? = nil,
        consecutiveFailures: Int = 0,
        lastError: CredentialError? = nil
    ) {
        self.ready = ready
        self.expiresAt = expiresAt
        self.lastRefreshTime = lastRefreshTime
        self.nextRefreshTime = nextRefreshTime
        self.consecutiveFailures = consecutiveFailures
        self.lastError = lastError
    }

    /// The `CredentialReady` condition's reason: `TokenReady`, the last error's reason, or `Pending` before the first
    /// fetch has finished.
    public var reason: String {
        if ready { return "TokenReady" }
        return lastError?.reason.rawValue ?? "Pending"
    }
}
