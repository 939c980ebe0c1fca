/// Validates, defaults and prunes an object against a structural OpenAPI v3 schema, the way
/// kube-apiserver treats a custom resource: every violation is collected (not just the first), each
/// with its field path and a message worded as kube-apiserver words it.
///
/// `x-kubernetes-validations` (CEL) rules are not evaluated here; the semantic validation of each
/// resource covers what they express.
public struct SchemaValidator: Sendable {
    /// The outcome of validating one object.
    public struct Result: Sendable, Hashable {
        /// The object with schema defaults applied and unknown fields removed.
        public var value: JSONValue
        /// Every schema violation, in field order.
        public var errors: [FieldError]
        /// Paths of fields the schema does not know (pruned from ``value``), for `fieldValidation`.
        public var unknownFields: [String]
    }

    public let schema: JSONSchemaProps

    /// Top-level fields the API server validates itself rather than through the schema.
    static let objectMetaFields: Set<String> = ["apiVersion", "kind", "metadata"]

    public init(schema: JSONSchemaProps) {
        self.schema = schema
    }

    /// Validates a whole object. At the top level `apiVersion`, `kind` and `metadata` are kept as
    /// they are, since the API server validates them apart from the schema.
    public func validate(_ object: JSONValue) -> Result {
        var state = Result(value: object, errors: [], unknownFields: [])
        state.value = visit(object, schema: schema, path: FieldPath(""), isRoot: true, state: &state)
        return state
    }

    private func visit(
        _ value: JSONValue,
        schema: JSONSchemaProps,
        path: FieldPath,
        isRoot: Bool = false,
        state: inout Result
    ) -> JSONValue {
        let field = path.description
        if value == .null {
            if schema.nullable == true { return value }
            if schema.type != nil || schema.xIntOrString == true {
                let expected = schema.xIntOrString == true ? "integer,string" : schema.type!
                state.errors.append(
                    FieldError(.typeInvalid, field: field, value: "null", detail: "\(field) in body must be of type \(expected): \"null\"")
                )
            }
            return value
        }
        guard matchesType(value, schema: schema) else {
            let expected = schema.xIntOrString == true ? "integer,string" : (schema.type ?? "object")
            state.errors.append(
                FieldError(
                    .typeInvalid,
                    field: field,
                    value: .string(value.typeName),
                    detail: "\(field) in body must be of type \(expected): \"\(value.typeName)\""
                )
            )
            return value
        }
        checkConstraints(value, schema: schema, field: field, errors: &state.errors)

        switch value {
        case .object(var members):
            if let properties = schema.properties {
                for name in members.keys.sorted() where properties[name] == nil && schema.additionalProperties == nil {
                    if isRoot && SchemaValidator.objectMetaFields.contains(name) { continue }
                    if schema.xPreserveUnknownFields == true { continue }
                    state.unknownFields.append(path.child(name).description)
                    members[name] = nil
                }
                for (name, propertySchema) in properties where members[name] == nil {
                    if let defaultValue = propertySchema.default { members[name] = defaultValue }
                }
                for name in members.keys.sorted() {
                    if isRoot && SchemaValidator.objectMetaFields.contains(name) { continue }
                    guard let propertySchema = properties[name] else { continue }
                    members[name] = visit(members[name]!, schema: propertySchema, path: path.child(name), state: &state)
                }
                for name in (schema.required ?? []) where members[name] == nil {
                    state.errors.append(FieldError(.required, field: path.child(name).description))
                }
            } else if let valueSchema = schema.additionalProperties {
                for name in members.keys.sorted() {
                    members[name] = visit(members[name]!, schema: valueSchema, path: path.key(name), state: &state)
                }
            } else if schema.xPreserveUnknownFields != true && schema.type == "object" && !isRoot {
                // An object with neither properties nor additionalProperties holds nothing.
                for name in members.keys.sorted() { state.unknownFields.append(path.child(name).description) }
                members = [:]
            }
            return .object(members)
        case .array(var elements):
            if let itemSchema = schema.items {
                for index in elements.indices {
                    elements[index] = visit(elements[index], schema: itemSchema, path: path.index(index), state: &state)
                }
            }
            if schema.xListType == "set" {
                var seen = Set<JSONValue>()
                for (index, element) in elements.enumerated() where !seen.insert(element).inserted {
                    state.errors.append(FieldError(.duplicate, field: path.index(index).description, value: element))
                }
            }
            return .array(elements)
        default:
            return value
        }
    }

    private func matchesType(_ value: JSONValue, schema: JSONSchemaProps) -> Bool {
        if schema.xIntOrString == true {
            if case .string = value { return true }
            return value.integerValue != nil
        }
        switch schema.type {
        case nil: return true
        case "object": if case .object = value { return true }
        case "array": if case .array = value { return true }
        case "string": if case .string = value { return true }
        case "boolean": if case .bool = value { return true }
        case "integer": return value.integerValue != nil
        case "number": return value.doubleValue != nil
        default: return false
        }
        return false
    }

    private func checkConstraints(_ value: JSONValue, schema: JSONSchemaProps, field: String, errors: inout [FieldError]) {
        if let allowed = schema.enum, !allowed.contains(where: { $0 == value || ($0.doubleValue != nil && $0.doubleValue == value.doubleValue) }) {
            let supported = allowed.map(\.description).joined(separator: ", ")
            errors.append(FieldError(.notSupported, field: field, value: value, detail: "supported values: \(supported)"))
        }
        switch value {
        case .integer, .double:
            let number = value.doubleValue!
            if let maximum = schema.maximum, number > maximum {
                errors.append(
                    FieldError(.invalid, field: field, value: value, detail: "\(field) in body should be less than or equal to \(JSONValue.double(maximum))")
                )
            }
            if let minimum = schema.minimum, number < minimum {
                errors.append(
                    FieldError(.invalid, field: field, value: value, detail: "\(field) in body should be greater than or equal to \(JSONValue.double(minimum))")
                )
            }
        case .string(let string):
            let length = string.count
            if let maxLength = schema.maxLength, length > maxLength {
                errors.append(FieldError(.tooLong, field: field, value: value, detail: "may not be longer than \(maxLength)"))
            }
            if let minLength = schema.minLength, length < minLength {
                errors.append(
                    FieldError(.invalid, field: field, value: value, detail: "\(field) in body should be at least \(minLength) chars long")
                )
            }
            if let pattern = schema.pattern, !SchemaValidator.matches(string, pattern: pattern) {
                errors.append(FieldError(.invalid, field: field, value: value, detail: "\(field) in body should match '\(pattern)'"))
            }
        case .array(let elements):
            if let maxItems = schema.maxItems, elements.count > maxItems {
                errors.append(
                    FieldError(.tooMany, field: field, value: .integer(Int64(elements.count)), detail: "must have at most \(maxItems) items")
                )
            }
            if let minItems = schema.minItems, elements.count < minItems {
                errors.append(
                    FieldError(.invalid, field: field, value: value, detail: "\(field) in body should have at least \(minItems) items")
                )
            }
        case .object(let members):
            if let maxProperties = schema.maxProperties, members.count > maxProperties {
                errors.append(
                    FieldError(.tooMany, field: field, value: .integer(Int64(members.count)), detail: "must have at most \(maxProperties) items")
                )
            }
            if let minProperties = schema.minProperties, members.count < minProperties {
                errors.append(
                    FieldError(.invalid, field: field, value: value, detail: "\(field) in body should have at least \(minProperties) properties")
                )
            }
        default:
            break
        }
    }

    /// Whether `string` contains a match of the ECMAScript-style `pattern` (OpenAPI patterns are unanchored).
    public static func matches(_ string: String, pattern: String) -> Bool {
        guard let regex = try? Regex(pattern) else { return false }
        return (try? regex.firstMatch(in: string)) != nil
    }
}
