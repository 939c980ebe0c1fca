/// A status condition (metav1.Condition): what `kubectl wait --for=condition=X` and `describe` read.
public struct Condition: Sendable, Hashable, Codable {
    /// `True`, `False` or `Unknown`.
    public enum Status: String, Sendable, Hashable, Codable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    /// The condition type in CamelCase, e.g. `Ready`.
    public var type: String
    public var status: Status
    /// A CamelCase machine-readable reason for the last transition.
    public var reason: String
    /// A human-readable message; never secret material.
    public var message: String
    /// The `metadata.generation` this condition was computed from.
    public var observedGeneration: Int64?
    /// When `status` last changed (RFC 3339), not when the condition was last written.
    public var lastTransitionTime: String

    public init(type: String, status: Status, reason: String, message: String, observedGeneration: Int64?, lastTransitionTime: String) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case type, status, reason, message, observedGeneration, lastTransitionTime
    }
}
