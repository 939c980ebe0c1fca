import Foundation
import Yams

/// A YAML document that could not be turned into JSON.
public struct YAMLError: Error, Hashable, CustomStringConvertible {
    /// What went wrong, with the line where the parser saw it.
    public var description: String
}

extension JSONValue {
    /// YAML resolution as Kubernetes tooling applies it: booleans, integers, floats and null are typed;
    /// timestamps stay strings, as they do in Kubernetes manifests.
    private static let resolver = Resolver.basic.appending(.bool).appending(.int).appending(.float).appending(.merge)
        .appending(.null)

    /// Parses every document of a YAML stream (documents separated by `---`), skipping empty ones.
    ///
    /// Anchors and aliases are refused before anything is composed (see ``YAMLAnchors``), so a document cannot
    /// expand into more than it spells out.
    ///
    /// - Throws: ``YAMLError`` when the text is not YAML, has an anchor or alias, or a key is not a string.
    public static func documents(yaml: String) throws -> [JSONValue] {
        try YAMLAnchors.refuse(in: yaml)
        do {
            var documents: [JSONValue] = []
            var nodes = try Yams.compose_all(yaml: yaml, JSONValue.resolver)
            while let node = nodes.next() {
                let value = try JSONValue(yamlNode: node)
                if value != .null { documents.append(value) }
            }
            if let error = nodes.error { throw error }
            return documents
        } catch let error as YAMLError {
            throw error
        } catch {
            throw YAMLError(description: "invalid YAML: \(error)")
        }
    }

    /// Parses a single YAML (or JSON, which is YAML) document.
    ///
    /// - Throws: ``YAMLError`` when the text is not YAML, has an anchor or alias, or holds more than one document.
    public init(yaml: String) throws {
        let documents = try JSONValue.documents(yaml: yaml)
        guard documents.count <= 1 else {
            throw YAMLError(description: "expected one YAML document, found \(documents.count)")
        }
        self = documents.first ?? .null
    }

    init(yamlNode node: Node) throws {
        switch node {
        case .scalar(let scalar):
            switch Tag.Name(rawValue: node.tag.rawValue) {
            case .null: self = .null
            case .bool: self = .bool(node.bool ?? false)
            case .int:
                guard let value = Int64(scalar.string.replacingOccurrences(of: "_", with: "")) ?? node.int.map(Int64.init)
                else { throw YAMLError(description: "integer out of range: \(scalar.string)") }
                self = .integer(value)
            case .float: self = .double(node.float ?? .nan)
            default: self = .string(scalar.string)
            }
        case .sequence(let sequence):
            self = .array(try sequence.map(JSONValue.init(yamlNode:)))
        case .mapping(let mapping):
            var members: [String: JSONValue] = [:]
            for (key, value) in mapping {
                guard case .scalar(let keyScalar) = key else {
                    throw YAMLError(description: "mapping keys must be strings (line \((key.mark?.line).map(String.init) ?? "?"))")
                }
                members[keyScalar.string] = try JSONValue(yamlNode: value)
            }
            self = .object(members)
        case .alias:
            throw YAMLError(description: "YAML anchors and aliases are not accepted")
        }
    }

    /// The value as YAML with sorted keys, in the block style `kubectl get -o yaml` prints.
    public func yamlString() -> String {
        // Serializing a tree of plain scalars, sequences and mappings cannot fail.
        (try? Yams.serialize(node: yamlNode, indent: 2, width: -1, allowUnicode: true, sortKeys: true)) ?? ""
    }

    private var yamlNode: Node {
        switch self {
        case .null: return Node("null", Tag(.null))
        case .bool(let value): return Node(value ? "true" : "false", Tag(.bool))
        case .integer(let value): return Node(String(value), Tag(.int))
        case .double: return Node(description, Tag(.float))
        case .string(let value):
            // Quote strings that a YAML reader would otherwise take for another type ("true", "8080", "").
            let plainReading = JSONValue.resolver.resolveTag(of: Node(value))
            let style: Node.Scalar.Style = plainReading == .str ? (value.contains("\n") ? .literal : .any) : .doubleQuoted
            return Node(value, Tag(.str), style)
        case .array(let elements): return Node(elements.map(\.yamlNode), Tag(.seq), .block)
        case .object(let members):
            return Node(members.map { (Node($0.key, Tag(.str)), $0.value.yamlNode) }, Tag(.map), .block)
        }
    }
}
