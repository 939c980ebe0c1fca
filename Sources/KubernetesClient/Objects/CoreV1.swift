public import Foundation
public import Kubernetes

/// Typed models of the core/v1 kinds the controller reads and writes, with the fields it uses.
/// Unknown fields are dropped on decode, so write these back with a patch (or use `JSONValue`)
/// when other writers may set fields not modelled here.
public enum CoreV1 {
    /// A Secret. `data` values are the decoded bytes (base64 on the wire). Its descriptions never
    /// show the values.
    public struct Secret: KubernetesResource, Hashable {
        public static var resource: ResourceDescriptor { .secrets }

        public var apiVersion: String? = "v1"
        public var kind: String? = "Secret"
        public var metadata: ObjectMeta
        public var data: [String: Data]?
        /// Write-only convenience: the server folds it into `data`.
        public var stringData: [String: String]?
        public var type: String?
        public var immutable: Bool?

        public init(
            metadata: ObjectMeta,
            data: [String: Data]? = nil,
            stringData: [String: String]? = nil,
            type: String? = nil
        ) {
            self.metadata = metadata
            self.data = data
            self.stringData = stringData
            self.type = type
        }
    }

    /// A ConfigMap.
    public struct ConfigMap: KubernetesResource, Hashable {
        public static var resource: ResourceDescriptor { .configMaps }

        public var apiVersion: String? = "v1"
        public var kind: String? = "ConfigMap"
        public var metadata: ObjectMeta
        public var data: [String: String]?
        public var binaryData: [String: Data]?
        public var immutable: Bool?

        public init(metadata: ObjectMeta, data: [String: String]? = nil, binaryData: [String: Data]? = nil) {
            self.metadata = metadata
            self.data = data
            self.binaryData = binaryData
        }
    }

    /// A Namespace.
    public struct Namespace: KubernetesResource, Hashable {
        public static var resource: ResourceDescriptor { .namespaces }

        public struct Status: Sendable, Hashable, Codable {
            /// `Active` or `Terminating`.
            public var phase: String?
        }

        public var apiVersion: String? = "v1"
        public var kind: String? = "Namespace"
        public var metadata: ObjectMeta
        public var status: Status?

        public init(metadata: ObjectMeta) { self.metadata = metadata }
    }

    /// A reference to an object, as an Event's `involvedObject` names it.
    public struct ObjectReference: Sendable, Hashable, Codable {
        public var apiVersion: String?
        public var kind: String?
        public var namespace: String?
        public var name: String?
        public var uid: String?
        public var resourceVersion: String?
        public var fieldPath: String?

        public init(
            apiVersion: String?,
            kind: String?,
            namespace: String?,
            name: String?,
            uid: String? = nil,
            resourceVersion: String? = nil,
            fieldPath: String? = nil
        ) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.namespace = namespace
            self.name = name
            self.uid = uid
            self.resourceVersion = resourceVersion
            self.fieldPath = fieldPath
        }

        /// A reference to a typed object: its resource's apiVersion and kind, and its identity.
        public init<Object: KubernetesResource>(_ object: Object) {
            self.init(
                apiVersion: Object.resource.apiVersion,
                kind: Object.resource.kind,
                namespace: object.metadata.namespace,
                name: object.metadata.name,
                uid: object.metadata.uid,
                resourceVersion: object.metadata.resourceVersion
            )
        }
    }

    /// A core/v1 Event, what `kubectl describe` and `kubectl get events` show.
    public struct Event: KubernetesResource, Hashable {
        public static var resource: ResourceDescriptor { .events }

        public struct Source: Sendable, Hashable, Codable {
            public var component: String?
            public var host: String?

            public init(component: String? = nil, host: String? = nil) {
                self.component = component
                self.host = host
            }
        }

        public var apiVersion: String? = "v1"
        public var kind: String? = "Event"
        public var metadata: ObjectMeta
        public var involvedObject: ObjectReference
        public var reason: String?
        public var message: String?
        /// `Normal` or `Warning`.
        public var type: String?
        public var source: Source?
        /// RFC 3339, whole seconds.
        public var firstTimestamp: String?
        public var lastTimestamp: String?
        public var count: Int32?
        public var reportingComponent: String?
        public var reportingInstance: String?

        public init(
            metadata: ObjectMeta,
            involvedObject: ObjectReference,
            reason: String?,
            message: String?,
            type: String?,
            source: Source? = nil,
            firstTimestamp: String? = nil,
            lastTimestamp: String? = nil,
            count: Int32? = nil,
            reportingComponent: String? = nil,
            reportingInstance: String? = nil
        ) {
            self.metadata = metadata
            self.involvedObject = involvedObject
            self.reason = reason
            self.message = message
            self.type = type
            self.source = source
            self.firstTimestamp = firstTimestamp
            self.lastTimestamp = lastTimestamp
            self.count = count
            self.reportingComponent = reportingComponent
            self.reportingInstance = reportingInstance
        }
    }
}

extension CoreV1.Secret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `Secret shop/db (2 keys)`: never the values.
    public var description: String {
        let keys = Set((data ?? [:]).keys).union((stringData ?? [:]).keys)
        return "Secret \(objectKey) (\(keys.count) keys)"
    }

    public var debugDescription: String { description }

    /// Hides `data` and `stringData` from `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(self, children: ["metadata": metadata, "type": type as Any, "keys": Array((data ?? [:]).keys).sorted()])
    }
}
