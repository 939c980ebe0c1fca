/// The field labels a resource can be selected by, and where each one's value is in an object.
///
/// | Kind (group)                       | Field labels besides `metadata.name` and `metadata.namespace` |
/// |------------------------------------|------------------------------------------------------------|
/// | Event (core)                       | `involvedObject.kind`, `.namespace`, `.name`, `.uid`, `.apiVersion`, `.resourceVersion`, `.fieldPath`, `reason`, `reportingComponent`, `source`, `type` |
/// | Secret (core)                      | `type`                                                     |
/// | Namespace (core)                   | `status.phase`                                             |
/// | anything else, custom resources    | none (plus a CRD's `selectableFields`, see ``adding(jsonPaths:)``) |
///
/// A core Event's `source` is `source.component`, or `reportingComponent` when that is empty, as
/// kube-apiserver computes it.
public struct SelectableFields: Sendable, Hashable {
    /// For each field label, the member paths to read in order; the first non-empty value wins.
    private let paths: [String: [[String]]]

    /// Field labels and the paths of their values (`"involvedObject.kind": [["involvedObject", "kind"]]`).
    public init(paths: [String: [[String]]]) {
        self.paths = paths
    }

    /// The field labels, sorted.
    public var names: [String] { paths.keys.sorted() }

    /// Whether `field` is a field label of this resource.
    public func contains(_ field: String) -> Bool { paths[field] != nil }

    /// The value of a field label for an object: a string as it is, an integer or boolean as
    /// written in JSON; `nil` for an unknown label or a missing or non-scalar value.
    public func value(of field: String, in object: JSONValue) -> String? {
        guard let candidates = paths[field] else { return nil }
        var result: String?
        for path in candidates {
            let value: String?
            switch object[path: path] {
            case .string(let string)?: value = string
            case .integer(let integer)?: value = String(integer)
            case .bool(let bool)?: value = bool ? "true" : "false"
            case .double(let double)?: value = JSONValue.double(double).description
            default: value = nil
            }
            if let value, !value.isEmpty { return value }
            result = result ?? value
        }
        return result
    }

    /// These fields and the ones at `jsonPaths` (a CRD's `selectableFields[].jsonPath`, `.spec.color`),
    /// each selectable by its path without the leading dot (`spec.color`).
    public func adding(jsonPaths: [String]) -> SelectableFields {
        var paths = self.paths
        for jsonPath in jsonPaths {
            let label = jsonPath.hasPrefix(".") ? String(jsonPath.dropFirst()) : jsonPath
            paths[label] = [label.split(separator: ".", omittingEmptySubsequences: false).map(String.init)]
        }
        return SelectableFields(paths: paths)
    }

    /// `metadata.name` and `metadata.namespace`, which every resource supports.
    public static let objectMeta = SelectableFields(paths: [
        "metadata.name": [["metadata", "name"]], "metadata.namespace": [["metadata", "namespace"]],
    ])

    /// The field labels of a kind the embedded API server serves.
    ///
    /// - Parameters:
    ///   - group: The API group, `""` for the core group.
    ///   - kind: The kind.
    public static func builtIn(group: String, kind: String) -> SelectableFields {
        var paths = objectMeta.paths
        switch (group, kind) {
        case ("", "Event"):
            for member in ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"] {
                paths["involvedObject." + member] = [["involvedObject", member]]
            }
            paths["reason"] = [["reason"]]
            paths["reportingComponent"] = [["reportingComponent"]]
            paths["source"] = [["source", "component"], ["reportingComponent"]]
            paths["type"] = [["type"]]
        case ("", "Secret"):
            paths["type"] = [["type"]]
        case ("", "Namespace"):
            paths["status.phase"] = [["status", "phase"]]
        default:
            break
        }
        return SelectableFields(paths: paths)
    }
}
