/// Builders for writing a Swift type's schema next to the type, tied to its `CodingKeys` so the schema
/// and the Codable conformance cannot drift apart: ``object(_:keyedBy:required:_:)`` stops the
/// program when a coding key has no schema, and the property names come from the keys themselves.
extension JSONSchemaProps {
    /// An object whose properties are exactly the cases of `Keys`.
    ///
    /// - Parameters:
    ///   - description: What the object configures; shown by `kubectl explain`.
    ///   - keys: The type's `CodingKeys`; every case must have a schema in `properties`.
    ///   - required: The keys that must be present.
    ///   - properties: The schema of each property.
    public static func object<Keys: CodingKey & CaseIterable & Hashable>(
        _ description: String,
        keyedBy keys: Keys.Type,
        required: [Keys] = [],
        _ properties: [Keys: JSONSchemaProps]
    ) -> JSONSchemaProps {
        for key in Keys.allCases where properties[key] == nil {
            preconditionFailure("\(Keys.self).\(key.stringValue) has no schema")
        }
        var schema = JSONSchemaProps(type: "object", description: description)
        schema.properties = Dictionary(uniqueKeysWithValues: properties.map { ($0.key.stringValue, $0.value) })
        if !required.isEmpty { schema.required = required.map(\.stringValue) }
        return schema
    }

    /// A string, optionally limited to an enumeration, a pattern or a length.
    public static func string(
        _ description: String,
        enum values: [String]? = nil,
        pattern: String? = nil,
        minLength: Int? = nil,
        maxLength: Int? = nil,
        format: String? = nil,
        default defaultValue: String? = nil
    ) -> JSONSchemaProps {
        var schema = JSONSchemaProps(type: "string", description: description)
        schema.enum = values?.map(JSONValue.string)
        schema.pattern = pattern
        schema.minLength = minLength
        schema.maxLength = maxLength
        schema.format = format
        schema.default = defaultValue.map(JSONValue.string)
        return schema
    }

    /// A string drawn from a `String`-backed enumeration.
    public static func `enum`<Value: RawRepresentable & CaseIterable>(
        _ description: String,
        _ type: Value.Type,
        default defaultValue: Value? = nil
    ) -> JSONSchemaProps where Value.RawValue == String {
        .string(description, enum: type.allCases.map(\.rawValue), default: defaultValue?.rawValue)
    }

    /// A duration in Go syntax (`250ms`, `1m30s`); see ``APIDuration``.
    public static func duration(_ description: String, default defaultValue: String? = nil) -> JSONSchemaProps {
        .string(description + " A duration such as 250ms, 30s or 1m30s.", pattern: APIDuration.pattern, default: defaultValue)
    }

    /// An integer within optional bounds.
    public static func integer(
        _ description: String,
        minimum: Int64? = nil,
        maximum: Int64? = nil,
        format: String? = "int32",
        default defaultValue: Int64? = nil
    ) -> JSONSchemaProps {
        var schema = JSONSchemaProps(type: "integer", description: description)
        schema.format = format
        schema.minimum = minimum.map(Double.init)
        schema.maximum = maximum.map(Double.init)
        schema.default = defaultValue.map(JSONValue.integer)
        return schema
    }

    /// A boolean.
    public static func boolean(_ description: String, default defaultValue: Bool? = nil) -> JSONSchemaProps {
        var schema = JSONSchemaProps(type: "boolean", description: description)
        schema.default = defaultValue.map(JSONValue.bool)
        return schema
    }

    /// An array of `items`.
    public static func array(
        _ description: String,
        of items: JSONSchemaProps,
        minItems: Int? = nil,
        maxItems: Int? = nil,
        listType: String? = "atomic",
        default defaultValue: JSONValue? = nil
    ) -> JSONSchemaProps {
        var schema = JSONSchemaProps(type: "array", description: description)
        schema.items = items
        schema.minItems = minItems
        schema.maxItems = maxItems
        schema.xListType = listType
        schema.default = defaultValue
        return schema
    }

    /// A map from string keys to `values`.
    public static func map(_ description: String, of values: JSONSchemaProps, maxProperties: Int? = nil) -> JSONSchemaProps {
        var schema = JSONSchemaProps(type: "object", description: description)
        schema.additionalProperties = values
        schema.maxProperties = maxProperties
        return schema
    }

    /// The same schema with a CEL rule added (`x-kubernetes-validations`).
    public func rule(_ rule: String, message: String, fieldPath: String? = nil) -> JSONSchemaProps {
        var copy = self
        copy.xValidations = (xValidations ?? []) + [ValidationRule(rule: rule, message: message, fieldPath: fieldPath)]
        return copy
    }

    /// The same schema with a default value.
    public func defaulting(to value: JSONValue) -> JSONSchemaProps {
        var copy = self
        copy.default = value
        return copy
    }
}
