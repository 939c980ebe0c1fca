/// A client secret passed in by the caller (the reconciler reads it from a Secret). Its `description` and mirror
/// never show the value, so a configuration can be logged or dumped safely.
public struct ClientSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The secret value, as sent to the token endpoint.
    public let value: String

    public init(_ value: String) { self.value = value }

    public var description: String { "ClientSecret(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
