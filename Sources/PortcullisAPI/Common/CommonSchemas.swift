import Kubernetes

/// Schema pieces shared by the three resources.
enum CommonSchemas {
    /// An RFC 1123 subdomain, the syntax of most Kubernetes object names.
    static let dnsSubdomainPattern = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#
    /// An RFC 1035 label, the syntax of Service names.
    static let dnsLabelPattern = #"^[a-z]([-a-z0-9]*[a-z0-9])?$"#

    /// The name of an object in the same namespace.
    static func objectName(_ description: String) -> JSONSchemaProps {
        .string(description, pattern: dnsSubdomainPattern, minLength: 1, maxLength: 253)
    }

    /// A reference to an object of `kind` in the same namespace.
    static func localObjectReference(_ description: String, kind: String) -> JSONSchemaProps {
        .object(
            description,
            keyedBy: LocalObjectReference.CodingKeys.self,
            required: [.name],
            [.name: objectName("The name of the \(kind) in the same namespace.")]
        )
    }

    /// A key of a Secret in the same namespace.
    static func secretKeyReference(_ description: String, defaultKey: String?) -> JSONSchemaProps {
        .object(
            description,
            keyedBy: SecretKeyReference.CodingKeys.self,
            required: [.name],
            [
                .name: objectName("The name of the Secret in the same namespace."),
                .key: .string(
                    "The key within the Secret" + (defaultKey.map { "; defaults to \($0)." } ?? "."),
                    pattern: #"^[-._a-zA-Z0-9]+$"#,
                    maxLength: 253
                ),
            ]
        )
    }

    /// A list of status conditions, keyed by type.
    static func conditions(_ description: String) -> JSONSchemaProps {
        var conditions = JSONSchemaProps.array(
            description,
            of: .object(
                "A condition of the resource.",
                keyedBy: Condition.CodingKeys.self,
                required: [.type, .status, .reason, .message, .lastTransitionTime],
                [
                    .type: .string("The condition type, e.g. Ready.", maxLength: 316),
                    .status: .string("True, False or Unknown.", enum: ["True", "False", "Unknown"]),
                    .reason: .string("A machine-readable CamelCase reason for the last transition.", maxLength: 1024),
                    .message: .string("A human-readable explanation.", maxLength: 32768),
                    .observedGeneration: .integer("The generation this condition describes.", minimum: 0, format: "int64"),
                    .lastTransitionTime: .string("When the status last changed.", format: "date-time"),
                ]
            ),
            listType: "map"
        )
        conditions.xListMapKeys = ["type"]
        return conditions
    }

    /// `observedGeneration` as every status has it.
    static let observedGeneration = JSONSchemaProps.integer(
        "The metadata.generation the status describes.",
        minimum: 0,
        format: "int64"
    )

    /// An HTTP header name (an RFC 9110 token).
    static let headerNamePattern = #"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$"#
    /// Text the gateway writes into a header value: printable ASCII and spaces, nothing that ends a line.
    static let headerTextPattern = #"^[\x20-\x7E]*$"#
}
