extension StrategicMergePatch.Schema {
    /// `metav1.ObjectMeta`: `ownerReferences` merge by `uid`, `finalizers` merge as a set;
    /// `labels` and `annotations` are maps and merge like any object; `managedFields` is replaced.
    public static let objectMeta = StrategicMergePatch.Schema(
        fields: [
            "ownerReferences": .init(.merge(mergeKey: "uid")),
            "finalizers": .init(.merge(mergeKey: nil)),
        ]
    )

    /// A kind whose only patch strategies are those of its `metadata` (ConfigMap, Secret, Lease, Events).
    public static let metadataOnly = StrategicMergePatch.Schema(fields: ["metadata": .objectMeta])

    /// core/v1 Namespace: `status.conditions` merge by `type`; `spec.finalizers` is replaced.
    public static let namespace = StrategicMergePatch.Schema(
        fields: [
            "metadata": .objectMeta,
            "status": .init(fields: ["conditions": .init(.merge(mergeKey: "type"))]),
        ]
    )

    /// core/v1 Service: `spec.ports` merge by `port`, `status.conditions` by `type`; the other
    /// lists (`clusterIPs`, `externalIPs`, `ipFamilies`, `status.loadBalancer.ingress`, ...) are replaced.
    public static let service = StrategicMergePatch.Schema(
        fields: [
            "metadata": .objectMeta,
            "spec": .init(fields: ["ports": .init(.merge(mergeKey: "port"))]),
            "status": .init(fields: ["conditions": .init(.merge(mergeKey: "type"))]),
        ]
    )
}

extension StrategicMergePatch {
    /// The patch strategies of a built-in kind the embedded API server serves, or `nil` for any
    /// other kind (custom resources included), for which the server answers a strategic merge
    /// patch with 415 Unsupported Media Type.
    ///
    /// | Group                 | Kinds                                 |
    /// |-----------------------|---------------------------------------|
    /// | `""` (core/v1)        | ConfigMap, Secret, Namespace, Service, Event |
    /// | `coordination.k8s.io` | Lease                                 |
    /// | `events.k8s.io`       | Event                                 |
    ///
    /// - Parameters:
    ///   - group: The API group, `""` for the core group.
    ///   - kind: The kind, `ConfigMap`.
    /// - Returns: The schema, or `nil` when the kind does not support strategic merge patch here.
    public static func schema(group: String, kind: String) -> Schema? {
        switch (group, kind) {
        case ("", "ConfigMap"), ("", "Secret"), ("", "Event"), ("coordination.k8s.io", "Lease"),
            ("events.k8s.io", "Event"):
            return .metadataOnly
        case ("", "Namespace"):
            return .namespace
        case ("", "Service"):
            return .service
        default:
            return nil
        }
    }

    /// Applies a strategic merge patch document to an object of a built-in kind.
    ///
    /// - Parameters:
    ///   - patch: The patch document.
    ///   - original: The object.
    ///   - group: The kind's API group, or `nil` to find the kind among all the kinds served
    ///     (kind names are unique there except Event, whose two groups patch alike).
    ///   - kind: The kind, `Secret`.
    /// - Returns: The patched object.
    /// - Throws: ``PatchError``: ``PatchError/Code/unsupportedMediaType`` (HTTP 415) for a kind
    ///   without a schema, such as a custom resource; otherwise as ``apply(to:schema:)``.
    public static func apply(
        _ patch: JSONValue,
        to original: JSONValue,
        group: String? = nil,
        kind: String
    ) throws(PatchError) -> JSONValue {
        let groups = group.map { [$0] } ?? ["", "coordination.k8s.io", "events.k8s.io"]
        guard let schema = groups.lazy.compactMap({ schema(group: $0, kind: kind) }).first else {
            let groupVersionKind = group.map { $0.isEmpty ? kind : "\(kind).\($0)" } ?? kind
            throw PatchError(
                .unsupportedMediaType,
                "application/strategic-merge-patch+json is not supported by \(groupVersionKind): the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            )
        }
        return try StrategicMergePatch(patch).apply(to: original, schema: schema)
    }

    /// ``schema(group:kind:)`` for an `apiVersion` such as `v1` or `coordination.k8s.io/v1`.
    public static func schema(apiVersion: String, kind: String) -> Schema? {
        let group = apiVersion.contains("/") ? String(apiVersion.prefix { $0 != "/" }) : ""
        return schema(group: group, kind: kind)
    }
}
