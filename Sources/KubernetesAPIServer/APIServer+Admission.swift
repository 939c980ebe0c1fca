import Foundation
import Kubernetes

extension APIServer {
    /// Validates and defaults an object about to be stored: metadata, the kind's own rules, and for
    /// custom resources the CRD schema (pruning, defaults, every violation in one 422).
    ///
    /// - Returns: The object to store, and warnings for the client (unknown fields under `Warn`).
    func admit(_ type: ResourceType, _ object: JSONValue, old: JSONValue?, options: WriteOptions) throws -> (JSONValue, [String]) {
        var object = object
        var warnings: [String] = []
        let name = object[path: ["metadata", "name"]]?.stringValue ?? ""
        var errors = Self.validateMetadata(type, object, old: old)

        if let schema = type.schema {
            let result = SchemaValidator(schema: schema).validate(object)
            if !result.unknownFields.isEmpty {
                switch options.fieldValidation {
                case .strict:
                    let fields = result.unknownFields.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
                    throw APIError.badRequest(
                        "\(type.kind) in version \"\(type.version)\" cannot be handled as a \(type.kind): strict decoding error: \(fields)"
                    )
                case .warn:
                    warnings += result.unknownFields.map { "unknown field \"\($0)\"" }
                case .ignore:
                    break
                }
            }
            errors += result.errors
            object = result.value
        }

        switch type.builtinTable {
        case .secret: errors += Self.admitSecret(&object, old: old)
        case .configMap: errors += Self.validateDataKeys(object, fields: ["data", "binaryData"])
        case .namespace:
            if object[path: ["status", "phase"]] == nil { object["status"] = ["phase": "Active"] }
        case .service:
            if object[path: ["spec", "type"]] == nil { object[path: ["spec"]]?["type"] = "ClusterIP" }
        case .customResourceDefinition: errors += Self.admitCustomResourceDefinition(&object)
        default: break
        }
        if !errors.isEmpty { throw APIError.invalid(type, name: name, errors) }
        return (object, warnings)
    }

    // MARK: - Metadata

    static let dnsSubdomain = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#
    static let dnsLabel = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#
    static let qualifiedNamePart = #"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"#

    static func validateMetadata(_ type: ResourceType, _ object: JSONValue, old: JSONValue?) -> [FieldError] {
        var errors: [FieldError] = []
        let metadata = object["metadata"] ?? [:]
        let name = metadata["name"]?.stringValue ?? ""
        let labelNames = ["namespaces", "services"].contains(type.plural) && type.group.isEmpty
        if name.isEmpty {
            errors.append(FieldError(.required, field: "metadata.name", detail: "name or generateName is required"))
        } else if labelNames {
            if name.count > 63 || !SchemaValidator.matches(name, pattern: dnsLabel) {
                errors.append(
                    FieldError(
                        .invalid,
                        field: "metadata.name",
                        value: .string(name),
                        detail: "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
                    )
                )
            }
        } else if name.count > 253 || !SchemaValidator.matches(name, pattern: dnsSubdomain) {
            errors.append(
                FieldError(
                    .invalid,
                    field: "metadata.name",
                    value: .string(name),
                    detail: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                )
            )
        }
        for (key, value) in metadata["labels"]?.objectValue ?? [:] {
            if !isQualifiedName(key) {
                errors.append(FieldError(.invalid, field: "metadata.labels", value: .string(key), detail: "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
            }
            guard let text = value.stringValue else {
                errors.append(FieldError(.typeInvalid, field: "metadata.labels[\(key)]", value: value, detail: "must be a string"))
                continue
            }
            if !text.isEmpty && (text.count > 63 || !SchemaValidator.matches(text, pattern: qualifiedNamePart)) {
                errors.append(FieldError(.invalid, field: "metadata.labels", value: .string(text), detail: "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
            }
        }
        for (key, value) in metadata["annotations"]?.objectValue ?? [:] {
            if !isQualifiedName(key) {
                errors.append(FieldError(.invalid, field: "metadata.annotations", value: .string(key), detail: "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"))
            }
            if value.stringValue == nil {
                errors.append(FieldError(.typeInvalid, field: "metadata.annotations[\(key)]", value: value, detail: "must be a string"))
            }
        }
        if let old, old[path: ["metadata", "deletionTimestamp"]] != nil {
            let before = Set(old[path: ["metadata", "finalizers"]]?.arrayValue ?? [])
            let after = metadata["finalizers"]?.arrayValue ?? []
            if after.contains(where: { !before.contains($0) }) {
                errors.append(FieldError(.forbidden, field: "metadata.finalizers", detail: "no new finalizers can be added if the object is being deleted"))
            }
        }
        return errors
    }

    /// A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
    static func isQualifiedName(_ key: String) -> Bool {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let namePart = parts.last, namePart.count <= 63,
            SchemaValidator.matches(String(namePart), pattern: qualifiedNamePart)
        else { return false }
        if parts.count == 2 {
            let prefix = String(parts[0])
            return !prefix.isEmpty && prefix.count <= 253 && SchemaValidator.matches(prefix, pattern: dnsSubdomain)
        }
        return true
    }

    // MARK: - Kinds

    static func admitSecret(_ object: inout JSONValue, old: JSONValue?) -> [FieldError] {
        var data = object["data"]?.objectValue ?? [:]
        var errors: [FieldError] = []
        if let stringData = object["stringData"]?.objectValue {
            for (key, value) in stringData {
                data[key] = .string(Data((value.stringValue ?? value.description).utf8).base64EncodedString())
            }
            object["stringData"] = nil
        }
        for (key, value) in data.sorted(by: { $0.key < $1.key }) {
            if value.stringValue.flatMap({ Data(base64Encoded: $0) }) == nil {
                errors.append(FieldError(.invalid, field: "data[\(key)]", value: "<secret contents redacted>", detail: "illegal base64 data"))
            }
        }
        if !data.isEmpty || object["data"] != nil { object["data"] = .object(data) }
        if object["type"] == nil { object["type"] = "Opaque" }
        errors += validateDataKeys(object, fields: ["data"])
        if let old, old["immutable"] == .bool(true) {
            if old["data"] != object["data"] {
                errors.append(FieldError(.forbidden, field: "data", detail: "field is immutable when `immutable` is set"))
            }
        }
        if let old, old["type"] != object["type"] {
            errors.append(FieldError(.invalid, field: "type", value: object["type"], detail: "field is immutable"))
        }
        return errors
    }

    static func validateDataKeys(_ object: JSONValue, fields: [String]) -> [FieldError] {
        var errors: [FieldError] = []
        for field in fields {
            for key in (object[field]?.objectValue ?? [:]).keys.sorted() where key.count > 253 || !SchemaValidator.matches(key, pattern: #"^[-._a-zA-Z0-9]+$"#) {
                errors.append(FieldError(.invalid, field: "\(field)[\(key)]", value: .string(key), detail: "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"))
            }
        }
        return errors
    }

    /// Checks a CRD's names and schema and records it as accepted and established.
    static func admitCustomResourceDefinition(_ object: inout JSONValue) -> [FieldError] {
        let crd: CustomResourceDefinition
        do {
            crd = try object.decode(as: CustomResourceDefinition.self)
        } catch {
            return [FieldError(.invalid, field: "spec", value: nil, detail: describe(error))]
        }
        var errors: [FieldError] = []
        let expected = "\(crd.spec.names.plural).\(crd.spec.group)"
        if crd.metadata.name != expected {
            errors.append(FieldError(.invalid, field: "metadata.name", value: .string(crd.metadata.name ?? ""), detail: "must be spec.names.plural+\".\"+spec.group"))
        }
        if !crd.spec.group.contains(".") {
            errors.append(FieldError(.invalid, field: "spec.group", value: .string(crd.spec.group), detail: "should be a domain with at least one dot"))
        }
        if !["Namespaced", "Cluster"].contains(crd.spec.scope) {
            errors.append(FieldError(.notSupported, field: "spec.scope", value: .string(crd.spec.scope), detail: #"supported values: "Cluster", "Namespaced""#))
        }
        if crd.spec.versions.filter(\.storage).count != 1 {
            errors.append(FieldError(.invalid, field: "spec.versions", value: nil, detail: "must have exactly one version marked as storage version"))
        }
        for (index, version) in crd.spec.versions.enumerated() where version.schema == nil {
            errors.append(FieldError(.required, field: "spec.versions[\(index)].schema.openAPIV3Schema", detail: "schemas are required"))
        }
        for (index, version) in crd.spec.versions.enumerated() {
            if let schema = version.schema?.openAPIV3Schema {
                for problem in structuralProblems(schema, path: "spec.versions[\(index)].schema.openAPIV3Schema") {
                    errors.append(FieldError(.required, field: problem, detail: "must not be empty for specified object fields"))
                }
            }
        }
        guard errors.isEmpty else { return errors }
        let now = RFC3339.string(from: Date())
        let names = (try? JSONValue(encoding: crd.spec.names)) ?? [:]
        var status = object["status"] ?? [:]
        status["acceptedNames"] = names
        status["storedVersions"] = .array(crd.spec.versions.filter(\.storage).map { .string($0.name) })
        status["conditions"] = [
            ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": .string(now)],
            ["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": .string(now)],
        ]
        object["status"] = status
        return []
    }

    /// Paths of schema nodes without a type, which a structural schema forbids.
    static func structuralProblems(_ schema: JSONSchemaProps, path: String) -> [String] {
        var problems: [String] = []
        if schema.type == nil && schema.xIntOrString != true && schema.xPreserveUnknownFields != true { problems.append(path + ".type") }
        for (name, property) in schema.properties ?? [:] {
            problems += structuralProblems(property, path: "\(path).properties[\(name)]")
        }
        if let items = schema.items { problems += structuralProblems(items, path: path + ".items") }
        if let values = schema.additionalProperties { problems += structuralProblems(values, path: path + ".additionalProperties") }
        return problems
    }
}
