/// An apiextensions.k8s.io/v1 CustomResourceDefinition, as far as Portcullis generates and serves them.
public struct CustomResourceDefinition: Sendable, Hashable, Codable {
    public var apiVersion: String = "apiextensions.k8s.io/v1"
    public var kind: String = "CustomResourceDefinition"
    public var metadata: ObjectMeta
    public var spec: Spec

    public init(spec: Spec) {
        self.metadata = ObjectMeta(name: "\(spec.names.plural).\(spec.group)")
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var group: String
        public var names: Names
        /// `Namespaced` or `Cluster`.
        public var scope: String
        public var versions: [Version]

        public init(group: String, names: Names, scope: String, versions: [Version]) {
            self.group = group
            self.names = names
            self.scope = scope
            self.versions = versions
        }
    }

    public struct Names: Sendable, Hashable, Codable {
        public var plural: String
        public var singular: String?
        public var kind: String
        public var listKind: String?
        public var shortNames: [String]?
        public var categories: [String]?

        public init(
            plural: String,
            singular: String? = nil,
            kind: String,
            listKind: String? = nil,
            shortNames: [String]? = nil,
            categories: [String]? = nil
        ) {
            self.plural = plural
            self.singular = singular
            self.kind = kind
            self.listKind = listKind
            self.shortNames = shortNames
            self.categories = categories
        }
    }

    public struct Version: Sendable, Hashable, Codable {
        public var name: String
        public var served: Bool
        public var storage: Bool
        public var schema: Validation?
        public var subresources: Subresources?
        public var additionalPrinterColumns: [PrinterColumn]?

        public init(
            name: String,
            served: Bool = true,
            storage: Bool = true,
            schema: Validation?,
            subresources: Subresources? = nil,
            additionalPrinterColumns: [PrinterColumn]? = nil
        ) {
            self.name = name
            self.served = served
            self.storage = storage
            self.schema = schema
            self.subresources = subresources
            self.additionalPrinterColumns = additionalPrinterColumns
        }
    }

    public struct Validation: Sendable, Hashable, Codable {
        public var openAPIV3Schema: JSONSchemaProps

        public init(openAPIV3Schema: JSONSchemaProps) { self.openAPIV3Schema = openAPIV3Schema }
    }

    public struct Subresources: Sendable, Hashable, Codable {
        /// Present (as an empty object) when the resource has a `/status` subresource.
        public var status: [String: JSONValue]?

        public init(status: Bool) { self.status = status ? [:] : nil }
    }

    /// A column of `kubectl get` output, filled from a JSONPath into the object.
    public struct PrinterColumn: Sendable, Hashable, Codable {
        public var name: String
        /// `string`, `integer`, `number`, `boolean` or `date`.
        public var type: String
        public var jsonPath: String
        public var description: String?
        /// 0 shows in `kubectl get`; higher priorities only with `-o wide`.
        public var priority: Int?
        public var format: String?

        public init(name: String, type: String, jsonPath: String, description: String? = nil, priority: Int? = nil) {
            self.name = name
            self.type = type
            self.jsonPath = jsonPath
            self.description = description
            self.priority = priority
        }
    }
}
