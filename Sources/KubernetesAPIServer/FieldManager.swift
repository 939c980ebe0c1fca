import Foundation
import Kubernetes

/// Field ownership (`metadata.managedFields`) and server-side apply.
///
/// Each field manager owns a set of leaf fields, recorded as `fieldsV1`. An update (POST, PUT,
/// PATCH) gives its manager the fields it changed and takes them from everyone else. An apply
/// gives its manager exactly the fields in the applied configuration: fields it applied before and
/// no longer applies are removed (unless another manager also owns them), and a field another
/// manager set to a different value is a conflict unless the apply is forced.
///
/// Simplification: lists are atomic (owned as a whole), as for `x-kubernetes-list-type: atomic`;
/// kube-apiserver also tracks list items by key for map-type lists.
enum FieldManager {
    /// Fields an apply would take from other managers that set them to different values.
    struct Conflict: Error {
        var fields: [(manager: String, path: String)]
    }

    typealias Path = [String]

    /// The metadata fields that carry user intent and so are owned; the rest is the server's.
    static let ownedMetadataFields: Set<String> = ["labels", "annotations", "finalizers", "ownerReferences"]

    /// Records an update by `manager` (kubectl sends one on every write; others may not).
    static func recordUpdate(old: JSONValue?, new: JSONValue, manager: String?, apiVersion: String) -> JSONValue {
        var entries = managedEntries(old ?? new)
        if old == nil { entries = [] }
        let newFields = leafPaths(new)
        let oldFields = old.map(leafPaths) ?? []
        let changed = newFields.filter { path in value(at: path, in: new) != old.flatMap { value(at: path, in: $0) } }
        let removed = oldFields.subtracting(newFields)
        for index in entries.indices {
            entries[index].fields.subtract(changed)
            entries[index].fields.subtract(removed)
        }
        if let manager, !manager.isEmpty, !changed.isEmpty {
            if let index = entries.firstIndex(where: { $0.manager == manager && $0.operation == "Update" }) {
                entries[index].fields.formUnion(changed)
                entries[index].time = RFC3339.string(from: Date())
            } else {
                entries.append(ManagedEntry(manager: manager, operation: "Update", apiVersion: apiVersion, time: RFC3339.string(from: Date()), fields: changed))
            }
        }
        var result = new
        result[path: ["metadata"]]?["managedFields"] = encode(entries.filter { !$0.fields.isEmpty })
        return result
    }

    /// Server-side apply of `applied` by `manager` onto `live` (nil when the object is new).
    ///
    /// - Throws: ``Conflict`` when another manager owns an applied field with a different value and `force` is false.
    static func apply(_ applied: JSONValue, to live: JSONValue?, manager: String, force: Bool, apiVersion: String) throws -> JSONValue {
        let appliedObject = stripManaged(applied)
        let appliedFields = leafPaths(appliedObject)
        var entries = live.map(managedEntries) ?? []
        let current = live ?? appliedObject

        var conflicts: [(manager: String, path: String)] = []
        var conflicting = Set<Path>()
        for entry in entries where !(entry.manager == manager && entry.operation == "Apply") {
            for field in appliedFields {
                for owned in entry.fields where isPrefix(owned, of: field) || isPrefix(field, of: owned) {
                    let shorter = owned.count <= field.count ? owned : field
                    if value(at: shorter, in: current) != value(at: shorter, in: appliedObject) {
                        conflicts.append((entry.manager, "." + owned.joined(separator: ".")))
                        conflicting.insert(owned)
                    }
                }
            }
        }
        if !conflicts.isEmpty && !force {
            var seen = Set<String>()
            throw Conflict(fields: conflicts.filter { seen.insert($0.manager + $0.path).inserted })
        }

        let previouslyApplied = entries.first { $0.manager == manager && $0.operation == "Apply" }?.fields ?? []
        let ownedByOthers = entries.filter { !($0.manager == manager && $0.operation == "Apply") }.reduce(into: Set<Path>()) { $0.formUnion($1.fields) }
        var result = merge(appliedObject, into: live ?? [:])
        for field in previouslyApplied.subtracting(appliedFields) where !ownedByOthers.contains(field) {
            remove(field, from: &result)
        }
        for index in entries.indices {
            if force { entries[index].fields.subtract(conflicting) }
        }
        entries.removeAll { $0.manager == manager && $0.operation == "Apply" }
        entries.append(ManagedEntry(manager: manager, operation: "Apply", apiVersion: apiVersion, time: RFC3339.string(from: Date()), fields: appliedFields))
        result[path: ["metadata"]]?["managedFields"] = encode(entries.filter { !$0.fields.isEmpty })
        return result
    }

    /// The object without server-managed metadata, as an apply configuration is read.
    static func stripManaged(_ object: JSONValue) -> JSONValue {
        var copy = object
        for field in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
            copy[path: ["metadata"]]?[field] = nil
        }
        return copy
    }

    // MARK: - Entries

    struct ManagedEntry {
        var manager: String
        var operation: String
        var apiVersion: String
        var time: String
        var fields: Set<Path>
    }

    static func managedEntries(_ object: JSONValue) -> [ManagedEntry] {
        (object[path: ["metadata", "managedFields"]]?.arrayValue ?? []).compactMap { entry in
            guard let manager = entry["manager"]?.stringValue else { return nil }
            return ManagedEntry(
                manager: manager,
                operation: entry["operation"]?.stringValue ?? "Update",
                apiVersion: entry["apiVersion"]?.stringValue ?? "",
                time: entry["time"]?.stringValue ?? "",
                fields: decodeFields(entry["fieldsV1"] ?? [:], prefix: [])
            )
        }
    }

    static func encode(_ entries: [ManagedEntry]) -> JSONValue? {
        guard !entries.isEmpty else { return nil }
        return .array(entries.map { entry in
            [
                "manager": .string(entry.manager), "operation": .string(entry.operation), "apiVersion": .string(entry.apiVersion),
                "time": .string(entry.time), "fieldsType": "FieldsV1", "fieldsV1": encodeFields(entry.fields),
            ]
        })
    }

    /// `fieldsV1`: nested `f:<name>` members, `{}` at each owned leaf.
    static func encodeFields(_ fields: Set<Path>) -> JSONValue {
        var root: JSONValue = [:]
        for path in fields {
            var keys: [String] = []
            for component in path {
                keys.append("f:" + component)
                if root[path: keys] == nil { set(&root, keys, [:]) }
            }
        }
        return root
    }

    static func decodeFields(_ value: JSONValue, prefix: Path) -> Set<Path> {
        guard let members = value.objectValue, !members.isEmpty else { return prefix.isEmpty ? [] : [prefix] }
        var result = Set<Path>()
        for (key, child) in members where key.hasPrefix("f:") {
            result.formUnion(decodeFields(child, prefix: prefix + [String(key.dropFirst(2))]))
        }
        if result.isEmpty && !prefix.isEmpty { result.insert(prefix) }
        return result
    }

    // MARK: - Paths

    /// Every owned leaf: object members recursively; arrays, scalars and empty objects are leaves.
    static func leafPaths(_ object: JSONValue) -> Set<Path> {
        var paths = Set<Path>()
        func walk(_ value: JSONValue, _ path: Path) {
            if case .object(let members) = value, !members.isEmpty {
                for (key, child) in members { walk(child, path + [key]) }
            } else if !path.isEmpty {
                paths.insert(path)
            }
        }
        for (key, child) in object.objectValue ?? [:] {
            switch key {
            case "apiVersion", "kind": continue
            case "metadata":
                for (field, value) in child.objectValue ?? [:] where ownedMetadataFields.contains(field) {
                    walk(value, ["metadata", field])
                }
            default:
                walk(child, [key])
            }
        }
        return paths
    }

    static func value(at path: Path, in object: JSONValue) -> JSONValue? {
        object[path: path]
    }

    static func isPrefix(_ prefix: Path, of path: Path) -> Bool {
        prefix.count <= path.count && Array(path.prefix(prefix.count)) == prefix
    }

    static func set(_ object: inout JSONValue, _ path: Path, _ value: JSONValue) {
        guard let first = path.first else {
            object = value
            return
        }
        var child = object[first] ?? [:]
        if case .object = child {} else { child = [:] }
        set(&child, Array(path.dropFirst()), value)
        if case .object = object {} else { object = [:] }
        object[first] = child
    }

    static func remove(_ path: Path, from object: inout JSONValue) {
        guard let first = path.first else { return }
        if path.count == 1 {
            object[first] = nil
            return
        }
        guard var child = object[first] else { return }
        remove(Array(path.dropFirst()), from: &child)
        object[first] = child
    }

    /// Applied members replace live ones; objects merge recursively.
    static func merge(_ applied: JSONValue, into live: JSONValue) -> JSONValue {
        guard case .object(let appliedMembers) = applied, case .object(var liveMembers) = live else { return applied }
        for (key, value) in appliedMembers {
            liveMembers[key] = liveMembers[key].map { merge(value, into: $0) } ?? value
        }
        return .object(liveMembers)
    }
}
