public import Kubernetes

/// A Portcullis custom resource: a typed object with `spec` and `status`, and everything needed to
/// generate its CustomResourceDefinition.
public protocol CustomResource: Sendable, Hashable, Codable {
    associatedtype Spec: Sendable, Hashable, Codable
    associatedtype Status: Sendable, Hashable, Codable

    /// The kind, e.g. `Route`.
    static var kind: String { get }
    /// The lowercase plural resource name, e.g. `routes`.
    static var plural: String { get }
    /// Short names accepted by kubectl, e.g. `rt`.
    static var shortNames: [String] { get }
    /// What the resource is, shown by `kubectl explain`.
    static var summary: String { get }
    /// The columns of `kubectl get`, besides NAME.
    static var printerColumns: [CustomResourceDefinition.PrinterColumn] { get }
    /// The schema of `spec`.
    static var specSchema: JSONSchemaProps { get }
    /// The schema of `status`.
    static var statusSchema: JSONSchemaProps { get }

    var apiVersion: String { get }
    var kind: String { get }
    var metadata: ObjectMeta { get set }
    var spec: Spec { get set }
    var status: Status? { get set }

    /// Every semantic problem with `spec` that the schema cannot express, each naming its field and value.
    func validate() -> [FieldError]
}

/// The API group and version of every Portcullis resource.
public enum PortcullisAPIGroup {
    public static let group = "portcullis.io"
    public static let version = "v1alpha1"
    public static let apiVersion = "\(group)/\(version)"
    /// The `kubectl get portcullis` category every resource belongs to.
    public static let category = "portcullis"
    /// Every resource type, in the order their CRDs are printed.
    public static let resourceTypes: [any CustomResource.Type] = [Route.self, UpstreamAuth.self, Tunnel.self]
}

extension CustomResource {
    /// The column every resource has last: how long ago it was created.
    static var ageColumn: CustomResourceDefinition.PrinterColumn {
        .init(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp")
    }

    /// A column showing the status of the condition `type`.
    static func conditionColumn(_ type: String) -> CustomResourceDefinition.PrinterColumn {
        .init(name: type, type: "string", jsonPath: ".status.conditions[?(@.type==\"\(type)\")].status", description: "The \(type) condition.")
    }

    /// Decodes and validates a resource from its unstructured form, as the API server stores it.
    ///
    /// - Throws: ``ResourceDecodingError`` naming the field that does not decode.
    public init(json: JSONValue) throws {
        self = try ResourceDecoder.decode(Self.self, from: json)
    }
}
