import Synchronization
import Foundation
import Kubernetes
import NIOCore
import NIOHTTP1

extension APIServer {
    /// `/openapi/v2` (an empty protobuf document, which kubectl 1.27 and 1.28 require to be 200) and
    /// `/openapi/v3`: an index of group-versions and one OpenAPI 3.0 document per group-version,
    /// built from the CRD schemas so that `kubectl explain` works.
    func openAPI(_ segments: [String], request: HTTPRequest) throws -> HTTPResponse {
        if segments == ["v2"] {
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
            return .full(status: .ok, headers: headers, body: ByteBuffer())
        }
        guard segments.first == "v3" else { throw APIError.unknownPath }
        let registry = self.registry.withLock { $0 }
        if segments.count == 1 {
            var paths: [String: JSONValue] = [:]
            for group in registry.groups {
                for version in registry.versions(of: group) {
                    let name = group.isEmpty ? "api/\(version)" : "apis/\(group)/\(version)"
                    let document = openAPIDocument(registry, group: group, version: version)
                    paths[name] = ["serverRelativeURL": .string("/openapi/v3/\(name)?hash=\(Self.hash(document.description))")]
                }
            }
            return try json(["paths": .object(paths)])
        }
        let rest = segments.dropFirst()
        let group: String
        let version: String
        if rest.first == "api", rest.count == 2 {
            group = ""
            version = rest.last!
        } else if rest.first == "apis", rest.count == 3 {
            group = Array(rest)[1]
            version = Array(rest)[2]
        } else {
            throw APIError.unknownPath
        }
        guard registry.versions(of: group).contains(version) else { throw APIError.unknownPath }
        return try json(openAPIDocument(registry, group: group, version: version))
    }

    /// The OpenAPI 3.0 document of one group-version.
    func openAPIDocument(_ registry: ResourceRegistry, group: String, version: String) -> JSONValue {
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": Self.objectMetaSchema
        ]
        let parameters: JSONValue = .array(["fieldValidation", "dryRun", "fieldManager", "force"].map {
            ["name": .string($0), "in": "query", "schema": ["type": "string"]]
        })
        for type in registry.types where type.group == group && type.version == version {
            let gvk: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(type.kind)]
            let schemaName = Self.schemaName(type)
            let reference: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName)")]
            // Strategic merge patch is never listed: kubectl would compute one from the published schema,
            // which built-ins don't publish here; it falls back to its compiled-in types instead.
            let patchTypes = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
            let body: JSONValue = ["content": .object(Dictionary(uniqueKeysWithValues: patchTypes.map { ($0, ["schema": reference]) }))]
            let response: JSONValue = ["200": ["description": "OK", "content": ["application/json": ["schema": reference]]]]
            let prefix = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
            let collection = type.namespaced ? "\(prefix)/namespaces/{namespace}/\(type.plural)" : "\(prefix)/\(type.plural)"
            paths[collection + "/{name}"] = [
                "get": ["x-kubernetes-group-version-kind": gvk, "responses": response],
                "put": ["x-kubernetes-group-version-kind": gvk, "parameters": parameters, "requestBody": ["content": ["application/json": ["schema": reference]]], "responses": response],
                "patch": ["x-kubernetes-group-version-kind": gvk, "parameters": parameters, "requestBody": body, "responses": response],
                "delete": ["x-kubernetes-group-version-kind": gvk, "responses": response],
            ]
            paths[collection] = [
                "get": ["x-kubernetes-group-version-kind": gvk, "responses": response],
                "post": ["x-kubernetes-group-version-kind": gvk, "parameters": parameters, "requestBody": ["content": ["application/json": ["schema": reference]]], "responses": response],
            ]
            var schema: JSONValue
            if let crdSchema = type.schema, let encoded = try? JSONValue(encoding: crdSchema) {
                schema = encoded
                var properties = schema["properties"]?.objectValue ?? [:]
                properties["metadata"] = [
                    "description": "Standard object's metadata.",
                    "allOf": [["$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]],
                ]
                schema["properties"] = .object(properties)
            } else {
                schema = ["type": "object", "description": .string("\(type.kind) (built-in; schema not published)"), "x-kubernetes-preserve-unknown-fields": true]
            }
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[schemaName] = schema
        }
        return [
            "openapi": "3.0.0", "info": ["title": "Kubernetes", "version": .string(configuration.gitVersion)], "paths": .object(paths),
            "components": ["schemas": .object(schemas)],
        ]
    }

    /// `io.portcullis.v1alpha1.Route`: the group reversed, as kube-apiserver names definitions.
    static func schemaName(_ type: ResourceType) -> String {
        let group = type.group.isEmpty ? "io.k8s.api.core" : type.group.split(separator: ".").reversed().joined(separator: ".")
        return "\(group).\(type.version).\(type.kind)"
    }

    static let objectMetaSchema: JSONValue = [
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have.",
        "properties": [
            "name": ["type": "string", "description": "Name must be unique within a namespace."],
            "namespace": ["type": "string", "description": "Namespace defines the space within which each name must be unique."],
            "labels": ["type": "object", "additionalProperties": ["type": "string"], "description": "Map of string keys and values that can be used to organize and categorize objects."],
            "annotations": ["type": "object", "additionalProperties": ["type": "string"], "description": "Annotations is an unstructured key value map stored with a resource."],
            "uid": ["type": "string", "description": "UID is the unique in time and space value for this object."],
            "resourceVersion": ["type": "string", "description": "An opaque value that represents the internal version of this object."],
            "generation": ["type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state."],
            "creationTimestamp": ["type": "string", "format": "date-time", "description": "The time this object was created."],
            "deletionTimestamp": ["type": "string", "format": "date-time", "description": "The time after which this resource will be deleted."],
            "finalizers": ["type": "array", "items": ["type": "string"], "description": "Must be empty before the object is deleted from the registry."],
            "ownerReferences": ["type": "array", "items": ["type": "object", "x-kubernetes-preserve-unknown-fields": true], "description": "Objects depended on by this object."],
            "managedFields": ["type": "array", "items": ["type": "object", "x-kubernetes-preserve-unknown-fields": true], "description": "Field ownership for server-side apply."],
        ],
    ]

    /// A short stable hash for OpenAPI URLs, so clients re-fetch a document when it changes.
    static func hash(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return String(hash, radix: 16, uppercase: true)
    }
}
