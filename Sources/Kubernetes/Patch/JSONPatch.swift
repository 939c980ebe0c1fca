/// A JSON Patch (RFC 6902): a list of operations applied in order, all or nothing.
///
/// This is the body of `application/json-patch+json` requests (`kubectl patch --type=json`, and the
/// `replace` of `/metadata/managedFields` kubectl sends when it moves an object to server-side apply).
///
/// ```swift
/// let patch = try JSONPatch(json: #"[{"op":"replace","path":"/spec/replicas","value":3}]"#)
/// let patched = try patch.apply(to: object)
/// ```
///
/// Paths are ``JSONPointer``s; an array index may be `-` (after the last element) for `add`, `move`
/// and `copy` targets. Decoding failures are ``PatchError/Code/malformedPatch`` (HTTP 400); an
/// operation that does not apply is ``PatchError/Code/notApplicable`` or
/// ``PatchError/Code/testFailed`` (HTTP 422), with a message naming the operation and path.
public struct JSONPatch: Sendable, Hashable {
    /// One operation of a patch.
    public enum Operation: Sendable, Hashable {
        /// Adds a member, inserts an array element (or appends with `-`), or replaces the whole document.
        case add(path: JSONPointer, value: JSONValue)
        /// Removes a member or an array element, which must exist.
        case remove(path: JSONPointer)
        /// Replaces a value, which must exist.
        case replace(path: JSONPointer, value: JSONValue)
        /// Removes the value at `from` and adds it at `path`.
        case move(from: JSONPointer, path: JSONPointer)
        /// Adds a copy of the value at `from` at `path`.
        case copy(from: JSONPointer, path: JSONPointer)
        /// Succeeds only when the value at `path` is equivalent to `value` (see ``JSONValue/isEquivalent(to:)``).
        case test(path: JSONPointer, value: JSONValue)

        /// The `op` member: `add`, `remove`, `replace`, `move`, `copy` or `test`.
        public var name: String {
            switch self {
            case .add: return "add"
            case .remove: return "remove"
            case .replace: return "replace"
            case .move: return "move"
            case .copy: return "copy"
            case .test: return "test"
            }
        }

        /// The target path of the operation.
        public var path: JSONPointer {
            switch self {
            case .add(let path, _), .remove(let path), .replace(let path, _), .move(_, let path),
                .copy(_, let path), .test(let path, _):
                return path
            }
        }
    }

    /// The operations, applied in order.
    public var operations: [Operation]

    public init(_ operations: [Operation]) {
        self.operations = operations
    }

    /// Decodes a patch document: an array of objects with `op`, `path` and, depending on the
    /// operation, `value` or `from`. Unknown members are ignored.
    ///
    /// - Throws: ``PatchError`` with ``PatchError/Code/malformedPatch``.
    public init(document: JSONValue) throws(PatchError) {
        guard case .array(let elements) = document else {
            throw PatchError(
                .malformedPatch,
                "invalid JSON patch: expected an array of operations, found \(document.typeName)"
            )
        }
        var operations: [Operation] = []
        operations.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            operations.append(try JSONPatch.decodeOperation(element, index: index))
        }
        self.operations = operations
    }

    /// Decodes a patch document from JSON text.
    ///
    /// - Throws: ``PatchError`` with ``PatchError/Code/malformedPatch`` for text that is not JSON or not a patch.
    public init(json: String) throws(PatchError) {
        let document: JSONValue
        do {
            document = try JSONValue(json: json)
        } catch {
            throw PatchError(.malformedPatch, "invalid JSON patch: the body is not valid JSON")
        }
        if let name = JSONDuplicateMembers.firstDuplicate(in: json) {
            throw PatchError(
                .malformedPatch,
                "invalid JSON patch: duplicate member \(JSONValue.string(name)) in an object"
            )
        }
        try self.init(document: document)
    }

    /// Applies every operation in order to a copy of `document`.
    ///
    /// - Parameter document: The object to patch.
    /// - Returns: The patched document.
    /// - Throws: ``PatchError`` for the first operation that does not apply; nothing is applied then.
    public func apply(to document: JSONValue) throws(PatchError) -> JSONValue {
        var document = document
        for operation in operations {
            try JSONPatch.apply(operation, to: &document)
        }
        return document
    }

    /// The document as JSON Patch writes it.
    public var document: JSONValue {
        .array(
            operations.map { operation in
                var members: [String: JSONValue] = [
                    "op": .string(operation.name), "path": .string(operation.path.description),
                ]
                switch operation {
                case .add(_, let value), .replace(_, let value), .test(_, let value): members["value"] = value
                case .move(let from, _), .copy(let from, _): members["from"] = .string(from.description)
                case .remove: break
                }
                return .object(members)
            }
        )
    }
}

extension JSONPatch {
    private static func decodeOperation(_ element: JSONValue, index: Int) throws(PatchError) -> Operation {
        guard case .object(let members) = element else {
            throw PatchError(
                .malformedPatch,
                "invalid JSON patch: operation \(index) is \(element.typeName), not an object"
            )
        }
        guard let opValue = members["op"] else {
            throw PatchError(.malformedPatch, "invalid JSON patch: operation \(index) has no \"op\"")
        }
        guard case .string(let op) = opValue else {
            throw PatchError(.malformedPatch, "invalid JSON patch: \"op\" of operation \(index) must be a string")
        }
        func pointer(_ member: String) throws(PatchError) -> JSONPointer {
            guard let value = members[member] else {
                throw PatchError(.malformedPatch, "invalid JSON patch: \(op) operation \(index) has no \"\(member)\"")
            }
            guard case .string(let text) = value else {
                throw PatchError(
                    .malformedPatch,
                    "invalid JSON patch: \"\(member)\" of \(op) operation \(index) must be a string"
                )
            }
            do {
                return try JSONPointer(text)
            } catch {
                throw PatchError(.malformedPatch, "invalid JSON patch: \(op) operation \(index): \(error.message)")
            }
        }
        func value() throws(PatchError) -> JSONValue {
            guard let value = members["value"] else {
                throw PatchError(.malformedPatch, "invalid JSON patch: \(op) operation \(index) has no \"value\"")
            }
            return value
        }
        switch op {
        case "add": return .add(path: try pointer("path"), value: try value())
        case "remove": return .remove(path: try pointer("path"))
        case "replace": return .replace(path: try pointer("path"), value: try value())
        case "move": return .move(from: try pointer("from"), path: try pointer("path"))
        case "copy": return .copy(from: try pointer("from"), path: try pointer("path"))
        case "test": return .test(path: try pointer("path"), value: try value())
        default:
            throw PatchError(
                .malformedPatch,
                "invalid JSON patch: unsupported op \(JSONValue.string(op)) in operation \(index); supported ops are add, remove, replace, move, copy and test"
            )
        }
    }

    private static func apply(_ operation: Operation, to document: inout JSONValue) throws(PatchError) {
        let op = operation.name
        switch operation {
        case .add(let path, let value):
            try add(value, at: path, to: &document, op: op)
        case .remove(let path):
            _ = try remove(at: path, from: &document, op: op)
        case .replace(let path, let value):
            guard let last = path.tokens.last else {
                document = value
                return
            }
            try modify(&document, at: path.tokens.dropLast()[...], path: path, op: op) { parent throws(PatchError) in
                switch parent {
                case .object(var members):
                    guard members[last] != nil else { throw missingPath(op, path) }
                    parent = .null
                    members[last] = value
                    parent = .object(members)
                case .array(var elements):
                    guard let index = JSONPointer.arrayIndex(last), index < elements.count else {
                        throw badIndex(op, path, last, count: elements.count)
                    }
                    parent = .null
                    elements[index] = value
                    parent = .array(elements)
                default:
                    throw missingPath(op, path)
                }
            }
        case .move(let from, let path):
            guard document[pointer: from] != nil else {
                throw PatchError(
                    .notApplicable,
                    "move operation does not apply: doc is missing from path: \(quoted(from))"
                )
            }
            if from == path { return }
            if from.isPrefix(of: path) {
                throw PatchError(
                    .notApplicable,
                    "move operation does not apply: from path \(quoted(from)) is an ancestor of path \(quoted(path))"
                )
            }
            let value = try remove(at: from, from: &document, op: op)
            try add(value, at: path, to: &document, op: op)
        case .copy(let from, let path):
            guard let value = document[pointer: from] else {
                throw PatchError(
                    .notApplicable,
                    "copy operation does not apply: doc is missing from path: \(quoted(from))"
                )
            }
            try add(value, at: path, to: &document, op: op)
        case .test(let path, let expected):
            guard let actual = document[pointer: path] else { throw missingPath(op, path) }
            guard actual.isEquivalent(to: expected) else {
                throw PatchError(
                    .testFailed,
                    "test operation failed: the value at path \(quoted(path)) is \(actual), not \(expected)"
                )
            }
        }
    }

    private static func add(
        _ value: JSONValue,
        at path: JSONPointer,
        to document: inout JSONValue,
        op: String
    ) throws(PatchError) {
        guard let last = path.tokens.last else {
            document = value
            return
        }
        try modify(&document, at: path.tokens.dropLast()[...], path: path, op: op) { parent throws(PatchError) in
            switch parent {
            case .object(var members):
                parent = .null
                members[last] = value
                parent = .object(members)
            case .array(var elements):
                let index: Int
                if last == "-" {
                    index = elements.count
                } else if let parsed = JSONPointer.arrayIndex(last), parsed <= elements.count {
                    index = parsed
                } else {
                    throw badIndex(op, path, last, count: elements.count)
                }
                parent = .null
                elements.insert(value, at: index)
                parent = .array(elements)
            default:
                throw notContainer(op, path, parent)
            }
        }
    }

    private static func remove(
        at path: JSONPointer,
        from document: inout JSONValue,
        op: String
    ) throws(PatchError) -> JSONValue {
        guard let last = path.tokens.last else {
            throw PatchError(.notApplicable, "\(op) operation does not apply: the whole document cannot be removed")
        }
        var removed = JSONValue.null
        try modify(&document, at: path.tokens.dropLast()[...], path: path, op: op) { parent throws(PatchError) in
            switch parent {
            case .object(var members):
                parent = .null
                guard let value = members.removeValue(forKey: last) else { throw missingPath(op, path) }
                removed = value
                parent = .object(members)
            case .array(var elements):
                guard let index = JSONPointer.arrayIndex(last), index < elements.count else {
                    throw badIndex(op, path, last, count: elements.count)
                }
                parent = .null
                removed = elements.remove(at: index)
                parent = .array(elements)
            default:
                throw missingPath(op, path)
            }
        }
        return removed
    }

    /// Runs `body` on the value at `tokens` (the parent of the operation's target), which must exist.
    private static func modify(
        _ value: inout JSONValue,
        at tokens: ArraySlice<String>,
        path: JSONPointer,
        op: String,
        _ body: (inout JSONValue) throws(PatchError) -> Void
    ) throws(PatchError) {
        guard let token = tokens.first else {
            try body(&value)
            return
        }
        switch value {
        case .object(var members):
            guard var child = members[token] else { throw missingPath(op, path) }
            // Drop the other references so the child and the dictionary are mutated in place.
            value = .null
            members[token] = .null
            try modify(&child, at: tokens.dropFirst(), path: path, op: op, body)
            members[token] = child
            value = .object(members)
        case .array(var elements):
            guard let index = JSONPointer.arrayIndex(token), index < elements.count else { throw missingPath(op, path) }
            value = .null
            var child = elements[index]
            elements[index] = .null
            try modify(&child, at: tokens.dropFirst(), path: path, op: op, body)
            elements[index] = child
            value = .array(elements)
        default:
            throw missingPath(op, path)
        }
    }

    private static func quoted(_ pointer: JSONPointer) -> String { JSONValue.string(pointer.description).description }

    private static func missingPath(_ op: String, _ path: JSONPointer) -> PatchError {
        PatchError(.notApplicable, "\(op) operation does not apply: doc is missing path: \(quoted(path))")
    }

    private static func badIndex(_ op: String, _ path: JSONPointer, _ token: String, count: Int) -> PatchError {
        PatchError(
            .notApplicable,
            "\(op) operation does not apply: \(JSONValue.string(token)) is not a valid index for an array of \(count) elements at path \(quoted(path))"
        )
    }

    private static func notContainer(_ op: String, _ path: JSONPointer, _ parent: JSONValue) -> PatchError {
        PatchError(
            .notApplicable,
            "\(op) operation does not apply: the parent of path \(quoted(path)) is \(parent.typeName), not an object or array"
        )
    }
}
