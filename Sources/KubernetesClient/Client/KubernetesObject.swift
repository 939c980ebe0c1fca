public import Kubernetes

/// Anything the client can read and write: a Codable object with standard metadata.
///
/// Typed objects (``CoreV1/Secret``, `PortcullisAPI.Route`, your own structs) and unstructured
/// `JSONValue`s both conform, so the client, the informers and the caches work with either.
public protocol KubernetesObject: Codable, Sendable {
    /// The object's metadata; the client reads its name, namespace and resourceVersion.
    var metadata: ObjectMeta { get }
}

/// A typed object that knows its resource, so `client.resources(Route.self)` needs nothing else.
public protocol KubernetesResource: KubernetesObject {
    static var resource: ResourceDescriptor { get }
}

extension KubernetesObject {
    /// `namespace/name` (or `name` for cluster-scoped objects), the key informers, caches and work queues use.
    public var objectKey: ObjectKey {
        ObjectKey(namespace: metadata.namespace ?? "", name: metadata.name ?? "")
    }
}

extension JSONValue: KubernetesObject {
    /// The standard fields of `metadata`, read straight from the unstructured object (unknown ones are skipped).
    public var metadata: ObjectMeta {
        guard let members = self["metadata"]?.objectValue else { return ObjectMeta() }
        var meta = ObjectMeta(name: members["name"]?.stringValue, namespace: members["namespace"]?.stringValue)
        meta.generateName = members["generateName"]?.stringValue
        meta.uid = members["uid"]?.stringValue
        meta.resourceVersion = members["resourceVersion"]?.stringValue
        meta.generation = members["generation"]?.integerValue
        meta.creationTimestamp = members["creationTimestamp"]?.stringValue
        meta.deletionTimestamp = members["deletionTimestamp"]?.stringValue
        meta.deletionGracePeriodSeconds = members["deletionGracePeriodSeconds"]?.integerValue
        meta.labels = members["labels"]?.objectValue?.compactMapValues(\.stringValue)
        meta.annotations = members["annotations"]?.objectValue?.compactMapValues(\.stringValue)
        meta.finalizers = members["finalizers"]?.arrayValue?.compactMap(\.stringValue)
        meta.ownerReferences = try? members["ownerReferences"]?.decode(as: [OwnerReference].self)
        return meta
    }
}
