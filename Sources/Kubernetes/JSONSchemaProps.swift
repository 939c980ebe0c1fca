/// A structural OpenAPI v3 schema, as a CustomResourceDefinition's `openAPIV3Schema` holds it
/// (apiextensions.k8s.io/v1 `JSONSchemaProps`).
public struct JSONSchemaProps: Sendable, Hashable {
    public var type: String?
    public var format: String?
    public var description: String?
    public var properties: [String: JSONSchemaProps]?
    public var required: [String]?
    public var `enum`: [JSONValue]?
    public var `default`: JSONValue?
    public var pattern: String?
    public var minimum: Double?
    public var maximum: Double?
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    public var minProperties: Int?
    public var maxProperties: Int?
    public var nullable: Bool?
    public var xIntOrString: Bool?
    public var xPreserveUnknownFields: Bool?
    public var xEmbeddedResource: Bool?
    public var xListType: String?
    public var xListMapKeys: [String]?
    public var xMapType: String?
    public var xValidations: [ValidationRule]?
    /// Boxed so the schema can be a recursive value type.
    private var itemsStorage: [JSONSchemaProps]?
    private var additionalPropertiesStorage: [JSONSchemaProps]?

    /// A CEL validation rule (`x-kubernetes-validations`).
    public struct ValidationRule: Sendable, Hashable, Codable {
        public var rule: String
        public var message: String?
        public var fieldPath: String?
        public var reason: String?

        public init(rule: String, message: String? = nil, fieldPath: String? = nil, reason: String? = nil) {
            self.rule = rule
            self.message = message
            self.fieldPath = fieldPath
            self.reason = reason
        }
    }

    public init(type: String? = nil, description: String? = nil) {
        self.type = type
        self.description = description
    }

    /// The schema of an array's elements.
    public var items: JSONSchemaProps? {
        get { itemsStorage?.first }
        set { itemsStorage = newValue.map { [$0] } }
    }

    /// The schema of a map's values (a free-form object keyed by any string).
    public var additionalProperties: JSONSchemaProps? {
        get { additionalPropertiesStorage?.first }
        set { additionalPropertiesStorage = newValue.map { [$0] } }
    }
}

extension JSONSchemaProps: Codable {
    enum CodingKeys: String, CodingKey {
        case type, format, description, properties, required, `enum`, `default`, pattern
        case minimum, maximum, minLength, maxLength, minItems, maxItems, minProperties, maxProperties, nullable
        case items, additionalProperties
        case xIntOrString = "x-kubernetes-int-or-string"
        case xPreserveUnknownFields = "x-kubernetes-preserve-unknown-fields"
        case xEmbeddedResource = "x-kubernetes-embedded-resource"
        case xListType = "x-kubernetes-list-type"
        case xListMapKeys = "x-kubernetes-list-map-keys"
        case xMapType = "x-kubernetes-map-type"
        case xValidations = "x-kubernetes-validations"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        format = try container.decodeIfPresent(String.self, forKey: .format)
        description = try container.decodeIfPresent(String.self, forKey: .description)
        properties = try container.decodeIfPresent([String: JSONSchemaProps].self, forKey: .properties)
        required = try container.decodeIfPresent([String].self, forKey: .required)
        `enum` = try container.decodeIfPresent([JSONValue].self, forKey: .enum)
        `default` = try container.decodeIfPresent(JSONValue.self, forKey: .default)
        pattern = try container.decodeIfPresent(String.self, forKey: .pattern)
        minimum = try container.decodeIfPresent(Double.self, forKey: .minimum)
        maximum = try container.decodeIfPresent(Double.self, forKey: .maximum)
        minLength = try container.decodeIfPresent(Int.self, forKey: .minLength)
        maxLength = try container.decodeIfPresent(Int.self, forKey: .maxLength)
        minItems = try container.decodeIfPresent(Int.self, forKey: .minItems)
        maxItems = try container.decodeIfPresent(Int.self, forKey: .maxItems)
        minProperties = try container.decodeIfPresent(Int.self, forKey: .minProperties)
        maxProperties = try container.decodeIfPresent(Int.self, forKey: .maxProperties)
        nullable = try container.decodeIfPresent(Bool.self, forKey: .nullable)
        items = try container.decodeIfPresent(JSONSchemaProps.self, forKey: .items)
        // `additionalProperties: true` (any value) is legal; only a schema constrains the values.
        if (try? container.decodeIfPresent(Bool.self, forKey: .additionalProperties)) == nil {
            additionalProperties = try container.decodeIfPresent(JSONSchemaProps.self, forKey: .additionalProperties)
        }
        xIntOrString = try container.decodeIfPresent(Bool.self, forKey: .xIntOrString)
        xPreserveUnknownFields = try container.decodeIfPresent(Bool.self, forKey: .xPreserveUnknownFields)
        xEmbeddedResource = try container.decodeIfPresent(Bool.self, forKey: .xEmbeddedResource)
        xListType = try container.decodeIfPresent(String.self, forKey: .xListType)
        xListMapKeys = try container.decodeIfPresent([String].self, forKey: .xListMapKeys)
        xMapType = try container.decodeIfPresent(String.self, forKey: .xMapType)
        xValidations = try container.decodeIfPresent([ValidationRule].self, forKey: .xValidations)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(type, forKey: .type)
        try container.encodeIfPresent(format, forKey: .format)
        try container.encodeIfPresent(description, forKey: .description)
        try container.encodeIfPresent(properties, forKey: .properties)
        try container.encodeIfPresent(required, forKey: .required)
        try container.encodeIfPresent(`enum`, forKey: .enum)
        try container.encodeIfPresent(`default`, forKey: .default)
        try container.encodeIfPresent(pattern, forKey: .pattern)
        try container.encodeIfPresent(minimum, forKey: .minimum)
        try container.encodeIfPresent(maximum, forKey: .maximum)
        try container.encodeIfPresent(minLength, forKey: .minLength)
        try container.encodeIfPresent(maxLength, forKey: .maxLength)
        try container.encodeIfPresent(minItems, forKey: .minItems)
        try container.encodeIfPresent(maxItems, forKey: .maxItems)
        try container.encodeIfPresent(minProperties, forKey: .minProperties)
        try container.encodeIfPresent(maxProperties, forKey: .maxProperties)
        try container.encodeIfPresent(nullable, forKey: .nullable)
        try container.encodeIfPresent(items, forKey: .items)
        try container.encodeIfPresent(additionalProperties, forKey: .additionalProperties)
        try container.encodeIfPresent(xIntOrString, forKey: .xIntOrString)
        try container.encodeIfPresent(xPreserveUnknownFields, forKey: .xPreserveUnknownFields)
        try container.encodeIfPresent(xEmbeddedResource, forKey: .xEmbeddedResource)
        try container.encodeIfPresent(xListType, forKey: .xListType)
        try container.encodeIfPresent(xListMapKeys, forKey: .xListMapKeys)
        try container.encodeIfPresent(xMapType, forKey: .xMapType)
        try container.encodeIfPresent(xValidations, forKey: .xValidations)
    }
}
