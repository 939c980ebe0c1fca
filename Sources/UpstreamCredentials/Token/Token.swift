public import Foundation

/// A credential from a token service or minted by the gateway: the value to put in the request header and when it
/// stops being valid.
///
/// `description`, `debugDescription` and the mirror show the times only, never ``value``, so a token printed by a
/// test failure, `dump` or string interpolation in a log line leaks nothing.
public struct Token: Sendable, Hashable {
    /// The token itself (an opaque access token or a compact JWT), without any `Bearer ` prefix.
    public var value: String
    /// When the token stops being valid, from `expires_in`, `expireTime` or the JWT's `exp`.
    public var expiresAt: Date
    /// When the gateway obtained it; ``expiresAt`` minus this is the lifetime the refresh policy works from.
    public var issuedAt: Date

    /// - Parameters:
    ///   - value: The token.
    ///   - expiresAt: When it expires.
    ///   - issuedAt: When it was obtained.
    public init(value: String, expiresAt: Date, issuedAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
    }

    /// Whether `value` can be sent as a token: not empty, and printable ASCII and spaces only, as RFC 6749
    /// (Appendix A.12) defines access tokens; nothing that would end a header line.
    public static func isValidValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.allSatisfy { (0x20...0x7E).contains($0) }
    }

    /// The lifetime the token was issued with: `expiresAt - issuedAt`, never negative.
    public var lifetime: Duration {
        .seconds(max(0, expiresAt.timeIntervalSince(issuedAt)))
    }
}

extension Token: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "Token(issuedAt: \(issuedAt.timeIntervalSince1970), expiresAt: \(expiresAt.timeIntervalSince1970))"
    }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["issuedAt": issuedAt, "expiresAt": expiresAt]) }
}
