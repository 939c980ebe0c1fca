import Kubernetes

/// A kind of object the API server serves: its names, scope and how it is stored, validated and printed.
struct ResourceType: Sendable, Hashable {
    var group: String
    var version: String
    var kind: String
    var plural: String
    var singular: String
    var namespaced: Bool
    var shortNames: [String] = []
    var categories: [String] = []
    /// Whether `/status` is a subresource (the main endpoint then ignores status, and status ignores the rest).
    var hasStatusSubresource: Bool = false
    /// Whether `metadata.generation` is kept (custom resources and CRDs).
    var hasGeneration: Bool = false
    /// The OpenAPI schema custom resources are validated, defaulted and pruned against.
    var schema: JSONSchemaProps?
    /// `kubectl get` columns after NAME; built-ins may instead have a computed table.
    var printerColumns: [CustomResourceDefinition.PrinterColumn] = []
    /// Whether this type comes from a CustomResourceDefinition.
    var isCustom: Bool = false
    /// The built-in table layout, for kinds the real server prints specially.
    var builtinTable: BuiltinTable?

    /// `v1` for the core group, else `group/version`.
    var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    var listKind: String { kind + "List" }
    /// Where objects of this type live in the store, independent of the version served.
    var storageKey: String { group.isEmpty ? plural : "\(plural).\(group)" }
    /// `routes.portcullis.io`, or `secrets` for the core group: the name error messages use.
    var qualifiedName: String { storageKey }

    static let standardVerbs = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

    /// Whether a strategic merge patch is accepted (built-ins kubectl knows), as the real server does.
    var acceptsStrategicMergePatch: Bool { !isCustom && group != "apiextensions.k8s.io" }
}

/// The tables kube-apiserver prints for the built-in kinds.
enum BuiltinTable: Sendable, Hashable {
    case secret, configMap, namespace, service, lease, event, eventsV1, customResourceDefinition
}

extension ResourceType {
    /// Every built-in kind the embedded server serves.
    static let builtins: [ResourceType] = [
        ResourceType(group: "", version: "v1", kind: "Namespace", plural: "namespaces", singular: "namespace", namespaced: false,
                     shortNames: ["ns"], hasStatusSubresource: true, builtinTable: .namespace),
        ResourceType(group: "", version: "v1", kind: "Secret", plural: "secrets", singular: "secret", namespaced: true,
                     builtinTable: .secret),
        ResourceType(group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", singular: "configmap", namespaced: true,
                     shortNames: ["cm"], builtinTable: .configMap),
        ResourceType(group: "", version: "v1", kind: "Service", plural: "services", singular: "service", namespaced: true,
                     shortNames: ["svc"], categories: ["all"], hasStatusSubresource: true, builtinTable: .service),
        ResourceType(group: "", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
                     shortNames: ["ev"], builtinTable: .event),
        ResourceType(group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", singular: "event", namespaced: true,
                     shortNames: ["ev"], builtinTable: .eventsV1),
        ResourceType(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", singular: "lease",
                     namespaced: true, builtinTable: .lease),
        ResourceType(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
                     plural: "customresourcedefinitions", singular: "customresourcedefinition", namespaced: false,
                     shortNames: ["crd", "crds"], categories: ["api-extensions"], hasStatusSubresource: true, hasGeneration: true,
                     builtinTable: .customResourceDefinition),
    ]
}
