/// The request header that carries a credential, and what is written before the token.
///
/// `Authorization` with `Bearer ` by default; Cloud Run also reads `X-Serverless-Authorization` (leaving
/// `Authorization` to the application) and IAP `Proxy-Authorization`.
public struct CredentialHeader: Sendable, Hashable {
    /// `Authorization`.
    public static let defaultName = "Authorization"
    /// `Bearer ` (with the space).
    public static let defaultPrefix = "Bearer "

    /// The header name.
    public var name: String
    /// Written before the token, e.g. `Bearer `; may be empty.
    public var prefix: String

    public init(name: String = CredentialHeader.defaultName, prefix: String = CredentialHeader.defaultPrefix) {
        self.name = name
        self.prefix = prefix
    }

    /// `prefix + token`.
    public func value(for token: String) -> String { prefix + token }
}
