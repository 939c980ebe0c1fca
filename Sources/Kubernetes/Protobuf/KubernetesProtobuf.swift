import Foundation

/// Decoding of `application/vnd.kubernetes.protobuf` request bodies into the JSON form of the object.
///
/// kubectl 1.32 and later send typed-client writes in protobuf (`kubectl create secret`,
/// `create configmap`, `create namespace`), with no JSON fallback. A body is the magic number
/// `6b 38 73 00` (`k8s\0`) followed by a `runtime.Unknown`:
///
/// | Field | `runtime.Unknown`  | Content                                            |
/// |-------|--------------------|----------------------------------------------------|
/// | 1     | `typeMeta`         | `{1: apiVersion, 2: kind}`                         |
/// | 2     | `raw`              | the object, a `Secret`, `ConfigMap` or `Namespace` |
/// | 3     | `contentEncoding`  | must be empty                                      |
/// | 4     | `contentType`      | ignored                                            |
///
/// The objects (from `k8s.io/api/core/v1/generated.proto`; a map is a repeated `{1: key, 2: value}`):
///
/// | Message           | Fields decoded                                                                 |
/// |-------------------|--------------------------------------------------------------------------------|
/// | `ObjectMeta`      | 1 name, 2 generateName, 3 namespace, 4 selfLink, 5 uid, 6 resourceVersion, 7 generation, 8 creationTimestamp, 9 deletionTimestamp, 10 deletionGracePeriodSeconds, 11 labels, 12 annotations, 13 ownerReferences, 14 finalizers |
/// | `OwnerReference`  | 1 kind, 3 name, 4 uid, 5 apiVersion, 6 controller, 7 blockOwnerDeletion      |
/// | `Secret`          | 1 metadata, 2 data (bytes, written base64 as in JSON), 3 type, 4 stringData, 5 immutable |
/// | `ConfigMap`       | 1 metadata, 2 data, 3 binaryData (base64), 4 immutable                        |
/// | `Namespace`       | 1 metadata, 2 spec `{1: finalizers}`, 3 status `{1: phase}`                   |
///
/// Other fields (`managedFields`, namespace conditions, fields added later) are skipped, whatever
/// their wire type. Empty strings, zero generations and empty maps and lists are left out, as
/// `omitempty` leaves them out of JSON; timestamps are written as RFC 3339 seconds, as
/// `metav1.Time` is.
public enum KubernetesProtobuf {
    /// The media type of the encoding.
    public static let mediaType = "application/vnd.kubernetes.protobuf"

    /// The four bytes every body starts with: `k8s\0`.
    public static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// The kinds of `v1` this decoder handles.
    public static let supportedKinds: [String] = ["ConfigMap", "Namespace", "Secret"]

    /// Decodes a request body into the object's JSON form, `apiVersion` and `kind` included.
    ///
    /// - Parameter body: The whole request body, magic number first.
    /// - Returns: The object, as the same request in JSON would have carried it.
    /// - Throws: ``KubernetesProtobufError``: ``KubernetesProtobufError/Code/missingMagic``,
    ///   ``KubernetesProtobufError/Code/truncated`` or ``KubernetesProtobufError/Code/malformed``
    ///   for bytes that are not a valid body, ``KubernetesProtobufError/Code/unsupported`` for
    ///   another kind or a content encoding.
    public static func decode(_ body: [UInt8]) throws(KubernetesProtobufError) -> JSONValue {
        guard body.starts(with: magic) else {
            throw KubernetesProtobufError(
                .missingMagic,
                "the body does not start with the Kubernetes protobuf magic number \"k8s\\0\""
            )
        }
        var reader = ProtobufReader(body[magic.count...], messageName: "runtime.Unknown")
        var apiVersion = ""
        var kind = ""
        var raw: ArraySlice<UInt8>?
        var contentEncoding = ""
        while let field = try reader.nextField() {
            switch field.number {
            case 1:
                var typeMeta = ProtobufReader(try reader.bytes(field, "typeMeta"), messageName: "runtime.TypeMeta")
                while let inner = try typeMeta.nextField() {
                    switch inner.number {
                    case 1: apiVersion = try typeMeta.string(inner, "apiVersion")
                    case 2: kind = try typeMeta.string(inner, "kind")
                    default: try typeMeta.skip(inner)
                    }
                }
            case 2: raw = try reader.bytes(field, "raw")
            case 3: contentEncoding = try reader.string(field, "contentEncoding")
            default: try reader.skip(field)
            }
        }
        guard contentEncoding.isEmpty else {
            throw KubernetesProtobufError(
                .unsupported,
                "unsupported content encoding \(JSONValue.string(contentEncoding))"
            )
        }
        guard apiVersion == "v1", supportedKinds.contains(kind) else {
            throw KubernetesProtobufError(
                .unsupported,
                "no protobuf decoder for \(apiVersion.isEmpty ? "<no apiVersion>" : apiVersion), Kind=\(kind.isEmpty ? "<no kind>" : kind): only v1 Secret, ConfigMap and Namespace bodies are decoded"
            )
        }
        guard let raw else {
            throw KubernetesProtobufError(.malformed, "the body has no object (runtime.Unknown field 2, raw)")
        }
        var object: [String: JSONValue] = ["apiVersion": .string(apiVersion), "kind": .string(kind)]
        switch kind {
        case "Secret": try decodeSecret(raw, into: &object)
        case "ConfigMap": try decodeConfigMap(raw, into: &object)
        default: try decodeNamespace(raw, into: &object)
        }
        if object["metadata"] == nil { object["metadata"] = [:] }
        return .object(object)
    }

    private static func decodeSecret(
        _ bytes: ArraySlice<UInt8>,
        into object: inout [String: JSONValue]
    ) throws(KubernetesProtobufError) {
        var reader = ProtobufReader(bytes, messageName: "Secret")
        var data: [String: JSONValue] = [:]
        var stringData: [String: JSONValue] = [:]
        while let field = try reader.nextField() {
            switch field.number {
            case 1: object["metadata"] = .object(try decodeObjectMeta(try reader.bytes(field, "metadata")))
            case 2:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "data"),
                    messageName: "Secret.data",
                    bytesValue: true
                )
                data[key] = value
            case 3: object["type"] = .string(try reader.string(field, "type"))
            case 4:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "stringData"),
                    messageName: "Secret.stringData",
                    bytesValue: false
                )
                stringData[key] = value
            case 5: object["immutable"] = .bool(try reader.bool(field, "immutable"))
            default: try reader.skip(field)
            }
        }
        if object["type"] == "" { object["type"] = nil }
        if !data.isEmpty { object["data"] = .object(data) }
        if !stringData.isEmpty { object["stringData"] = .object(stringData) }
    }

    private static func decodeConfigMap(
        _ bytes: ArraySlice<UInt8>,
        into object: inout [String: JSONValue]
    ) throws(KubernetesProtobufError) {
        var reader = ProtobufReader(bytes, messageName: "ConfigMap")
        var data: [String: JSONValue] = [:]
        var binaryData: [String: JSONValue] = [:]
        while let field = try reader.nextField() {
            switch field.number {
            case 1: object["metadata"] = .object(try decodeObjectMeta(try reader.bytes(field, "metadata")))
            case 2:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "data"),
                    messageName: "ConfigMap.data",
                    bytesValue: false
                )
                data[key] = value
            case 3:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "binaryData"),
                    messageName: "ConfigMap.binaryData",
                    bytesValue: true
                )
                binaryData[key] = value
            case 4: object["immutable"] = .bool(try reader.bool(field, "immutable"))
            default: try reader.skip(field)
            }
        }
        if !data.isEmpty { object["data"] = .object(data) }
        if !binaryData.isEmpty { object["binaryData"] = .object(binaryData) }
    }

    private static func decodeNamespace(
        _ bytes: ArraySlice<UInt8>,
        into object: inout [String: JSONValue]
    ) throws(KubernetesProtobufError) {
        var reader = ProtobufReader(bytes, messageName: "Namespace")
        while let field = try reader.nextField() {
            switch field.number {
            case 1:
                object["metadata"] = .object(try decodeObjectMeta(try reader.bytes(field, "metadata")))
            case 2:
                var spec = ProtobufReader(try reader.bytes(field, "spec"), messageName: "NamespaceSpec")
                var finalizers: [JSONValue] = object["spec"]?["finalizers"]?.arrayValue ?? []
                while let inner = try spec.nextField() {
                    if inner.number == 1 {
                        finalizers.append(.string(try spec.string(inner, "finalizers")))
                    } else {
                        try spec.skip(inner)
                    }
                }
                object["spec"] = finalizers.isEmpty ? [:] : ["finalizers": .array(finalizers)]
            case 3:
                var status = ProtobufReader(try reader.bytes(field, "status"), messageName: "NamespaceStatus")
                var members: [String: JSONValue] = object["status"]?.objectValue ?? [:]
                while let inner = try status.nextField() {
                    if inner.number == 1 {
                        let phase = try status.string(inner, "phase")
                        members["phase"] = phase.isEmpty ? nil : .string(phase)
                    } else {
                        try status.skip(inner)
                    }
                }
                object["status"] = .object(members)
            default:
                try reader.skip(field)
            }
        }
    }

    private static func decodeObjectMeta(
        _ bytes: ArraySlice<UInt8>
    ) throws(KubernetesProtobufError) -> [String: JSONValue] {
        var reader = ProtobufReader(bytes, messageName: "ObjectMeta")
        var meta: [String: JSONValue] = [:]
        var labels: [String: JSONValue] = [:]
        var annotations: [String: JSONValue] = [:]
        var ownerReferences: [JSONValue] = []
        var finalizers: [JSONValue] = []
        let stringFields = [
            1: "name", 2: "generateName", 3: "namespace", 4: "selfLink", 5: "uid", 6: "resourceVersion",
        ]
        while let field = try reader.nextField() {
            switch field.number {
            case 1...6:
                let name = stringFields[field.number]!
                let value = try reader.string(field, name)
                meta[name] = value.isEmpty ? nil : .string(value)
            case 7:
                let generation = try reader.int64(field, "generation")
                meta["generation"] = generation == 0 ? nil : .integer(generation)
            case 8:
                meta["creationTimestamp"] = try time(try reader.bytes(field, "creationTimestamp"))
            case 9:
                meta["deletionTimestamp"] = try time(try reader.bytes(field, "deletionTimestamp"))
            case 10:
                meta["deletionGracePeriodSeconds"] = .integer(try reader.int64(field, "deletionGracePeriodSeconds"))
            case 11:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "labels"),
                    messageName: "ObjectMeta.labels",
                    bytesValue: false
                )
                labels[key] = value
            case 12:
                let (key, value) = try mapEntry(
                    try reader.bytes(field, "annotations"),
                    messageName: "ObjectMeta.annotations",
                    bytesValue: false
                )
                annotations[key] = value
            case 13:
                ownerReferences.append(.object(try decodeOwnerReference(try reader.bytes(field, "ownerReferences"))))
            case 14:
                finalizers.append(.string(try reader.string(field, "finalizers")))
            default:
                try reader.skip(field)
            }
        }
        if !labels.isEmpty { meta["labels"] = .object(labels) }
        if !annotations.isEmpty { meta["annotations"] = .object(annotations) }
        if !ownerReferences.isEmpty { meta["ownerReferences"] = .array(ownerReferences) }
        if !finalizers.isEmpty { meta["finalizers"] = .array(finalizers) }
        return meta
    }

    private static func decodeOwnerReference(
        _ bytes: ArraySlice<UInt8>
    ) throws(KubernetesProtobufError) -> [String: JSONValue] {
        var reader = ProtobufReader(bytes, messageName: "OwnerReference")
        var reference: [String: JSONValue] = [:]
        let stringFields = [1: "kind", 3: "name", 4: "uid", 5: "apiVersion"]
        while let field = try reader.nextField() {
            switch field.number {
            case 1, 3, 4, 5:
                let name = stringFields[field.number]!
                reference[name] = .string(try reader.string(field, name))
            case 6: reference["controller"] = .bool(try reader.bool(field, "controller"))
            case 7: reference["blockOwnerDeletion"] = .bool(try reader.bool(field, "blockOwnerDeletion"))
            default: try reader.skip(field)
            }
        }
        return reference
    }

    /// A `metav1.Time` (`{1: seconds, 2: nanos}`); an empty message is the zero time, left out.
    private static func time(_ bytes: ArraySlice<UInt8>) throws(KubernetesProtobufError) -> JSONValue? {
        guard !bytes.isEmpty else { return nil }
        var reader = ProtobufReader(bytes, messageName: "Time")
        var seconds: Int64 = 0
        while let field = try reader.nextField() {
            if field.number == 1 {
                seconds = try reader.int64(field, "seconds")
            } else {
                // nanos (2) are dropped, as metav1.Time's protobuf decoding drops them.
                try reader.skip(field)
            }
        }
        return .string(RFC3339.string(fromSecondsSince1970: seconds))
    }

    /// One entry of a map field: `{1: key, 2: value}`; a `bytes` value is written base64.
    private static func mapEntry(
        _ bytes: ArraySlice<UInt8>,
        messageName: String,
        bytesValue: Bool
    ) throws(KubernetesProtobufError) -> (String, JSONValue) {
        var reader = ProtobufReader(bytes, messageName: messageName)
        var key = ""
        var value = JSONValue.string("")
        while let field = try reader.nextField() {
            switch field.number {
            case 1:
                key = try reader.string(field, "key")
            case 2:
                if bytesValue {
                    value = .string(Data(try reader.bytes(field, "value")).base64EncodedString())
                } else {
                    value = .string(try reader.string(field, "value"))
                }
            default:
                try reader.skip(field)
            }
        }
        return (key, value)
    }
}
