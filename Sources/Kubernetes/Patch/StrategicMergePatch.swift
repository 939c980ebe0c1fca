/// A strategic merge patch, Kubernetes' extension of JSON merge patch for its built-in kinds.
///
/// This is the body of `application/strategic-merge-patch+json` requests: client-side
/// `kubectl apply` sends one for ConfigMaps, Secrets, Leases and the other built-in kinds, and
/// `kubectl patch` sends one when no `--type` is given. Custom resources do not support it
/// (kube-apiserver answers 415); ``schema(group:kind:)`` returns `nil` for them.
///
/// It behaves like a JSON merge patch (objects merge member by member, `null` deletes a member,
/// scalars and lists replace), except where the kind's ``Schema`` gives a field a patch strategy,
/// and it understands these directives, as `k8s.io/apimachinery/pkg/util/strategicpatch` does when
/// the API server applies a patch:
///
/// | In the patch                               | Effect                                                                  |
/// |--------------------------------------------|-------------------------------------------------------------------------|
/// | a list with strategy `merge(mergeKey: k)`  | elements are objects, matched by their `k` member and merged; unmatched |
/// |                                            | patch elements are added                                                |
/// | a list with strategy `merge(mergeKey: nil)`| elements are scalars; the result is the union of both lists             |
/// | `{"k": v, "$patch": "delete"}` in such a list | removes every element whose merge key is `v`                         |
/// | `{"$patch": "replace"}` in such a list     | the list becomes the patch's other elements                             |
/// | `"$patch": "replace"` in an object         | the object becomes the patch's other members                            |
/// | `"$patch": "delete"` in an object          | the object becomes `{}`                                                 |
/// | `"$retainKeys": [names]` in an object      | members not named are removed first; every non-null member of the patch |
/// |                                            | must be named                                                           |
/// | `"$deleteFromPrimitiveList/f": [values]`   | removes those values from the list of scalars `f` (any strategy)        |
/// | `"$setElementOrder/f": [elements]`         | merges `f` and then orders it: the listed elements in the listed order, |
/// |                                            | the others kept where they were relative to them                        |
/// | a field with strategy `replace`            | the patch value replaces the object whole                               |
///
/// Merged lists are ordered as Kubernetes orders them: the patch's elements in patch order, with
/// the elements only the original has slotted back in by their original positions (so an element
/// new to the list lands before the original elements, unless `$setElementOrder` says otherwise).
/// `null` members of values that are added rather than merged are dropped, as are the directives
/// inside them.
///
/// Not supported: `$patch: merge` (Kubernetes refuses it too), the `retainKeys` patch strategy
/// (it only matters when *computing* a patch; `$retainKeys` directives are applied), and computing
/// patches (two- and three-way diffs); only applying them.
public struct StrategicMergePatch: Sendable, Hashable {
    /// The patch document, a JSON object.
    public var patch: [String: JSONValue]

    /// A patch from its JSON form.
    ///
    /// - Throws: ``PatchError`` with ``PatchError/Code/malformedPatch`` when the value is not an object.
    public init(_ patch: JSONValue) throws(PatchError) {
        guard case .object(let members) = patch else {
            throw PatchError(
                .malformedPatch,
                "invalid strategic merge patch: expected a JSON object, found \(patch.typeName)"
            )
        }
        self.patch = members
    }

    /// Decodes a patch from JSON text.
    ///
    /// - Throws: ``PatchError`` with ``PatchError/Code/malformedPatch`` for text that is not a JSON object.
    public init(json: String) throws(PatchError) {
        let value: JSONValue
        do {
            value = try JSONValue(json: json)
        } catch {
            throw PatchError(.malformedPatch, "invalid strategic merge patch: the body is not valid JSON")
        }
        try self.init(value)
    }

    /// Applies the patch to an object.
    ///
    /// - Parameters:
    ///   - original: The object to patch (anything but an object counts as `{}`).
    ///   - schema: The patch strategies of the object's kind, from ``schema(group:kind:)``.
    /// - Returns: The patched object.
    /// - Throws: ``PatchError``: ``PatchError/Code/malformedPatch`` (HTTP 400) for a malformed
    ///   directive, ``PatchError/Code/notApplicable`` (HTTP 422) when a list element lacks its merge
    ///   key or a merged list mixes element types.
    public func apply(to original: JSONValue, schema: Schema) throws(PatchError) -> JSONValue {
        .object(
            try StrategicMergePatch.mergeObject(original.objectValue ?? [:], patch, schema: schema, path: FieldPath(""))
        )
    }
}

extension StrategicMergePatch {
    /// The patch strategies of a kind: for each field, the `patchStrategy` and `patchMergeKey` that
    /// Kubernetes declares on its Go type, and the schemas of the fields inside it.
    ///
    /// For a list of objects, ``fields`` describes the fields of each element. A field with no
    /// entry has the default strategy.
    public struct Schema: Sendable, Hashable {
        /// How a field's value is patched.
        public enum Strategy: Sendable, Hashable {
            /// No strategy: objects merge member by member; lists and scalars are replaced.
            case `default`
            /// `patchStrategy:"merge"` on a list: objects are matched by `mergeKey`, scalars form a set.
            case merge(mergeKey: String?)
            /// `patchStrategy:"replace"`: the patch value replaces the old one whole, objects included.
            case replace
        }

        /// The field's strategy.
        public var strategy: Strategy
        /// The schemas of the fields inside (of each element, for a list).
        public var fields: [String: Schema]

        public init(_ strategy: Strategy = .default, fields: [String: Schema] = [:]) {
            self.strategy = strategy
            self.fields = fields
        }

        /// The schema of a field inside this one; the default for a field without an entry.
        public subscript(field: String) -> Schema { fields[field] ?? Schema() }

        var mergeKey: String? {
            if case .merge(let mergeKey) = strategy { return mergeKey }
            return nil
        }
    }
}

extension StrategicMergePatch {
    private static let directiveMarker = "$patch"
    private static let retainKeysDirective = "$retainKeys"
    private static let deleteFromPrimitiveListPrefix = "$deleteFromPrimitiveList"
    private static let setElementOrderPrefix = "$setElementOrder"

    private static func malformed(_ message: String) -> PatchError { PatchError(.malformedPatch, message) }
    private static func notApplicable(_ message: String) -> PatchError { PatchError(.notApplicable, message) }

    private static func mergeObject(
        _ original: [String: JSONValue],
        _ patch: [String: JSONValue],
        schema: Schema,
        path: FieldPath
    ) throws(PatchError) -> [String: JSONValue] {
        var patch = patch
        if let directive = patch[directiveMarker] {
            switch directive {
            case "replace":
                patch[directiveMarker] = nil
                return try mergeObject([:], patch, schema: schema, path: path)
            case "delete":
                return [:]
            default:
                throw malformed("unknown patch type: \(directive) in map: \(JSONValue.object(patch))")
            }
        }
        var original = original

        if let retainKeys = patch.removeValue(forKey: retainKeysDirective) {
            guard case .array(let names) = retainKeys else { throw malformed("invalid patch format of retainKeys") }
            let retained = Set(names.compactMap(\.stringValue))
            for (key, value) in patch where value != .null && !retained.contains(key) {
                if key.hasPrefix(deleteFromPrimitiveListPrefix) || key.hasPrefix(setElementOrderPrefix) { continue }
                throw malformed("invalid patch format of retainKeys")
            }
            original = original.filter { retained.contains($0.key) }
        }

        for key in patch.keys.sorted() where key.hasPrefix(setElementOrderPrefix) {
            let orderValue = patch.removeValue(forKey: key)!
            let field = try directiveField(
                key,
                prefix: setElementOrderPrefix,
                error: "invalid patch type of setElementOrder list"
            )
            guard case .array(let orderList) = orderValue else {
                throw malformed("invalid patch type of setElementOrder list")
            }
            let fieldSchema = schema[field]
            let fieldPath = path.child(field)
            let originalList = try listValue(original[field], field: fieldPath)
            let patchList = try listValue(patch.removeValue(forKey: field), field: fieldPath)
            try validateOrder(patchList ?? [], orderList, mergeKey: fieldSchema.mergeKey)
            let merged: [JSONValue]
            switch (originalList, patchList) {
            case (let originalList?, nil): merged = originalList
            case (let originalList, let patchList?):
                merged = try mergeList(originalList ?? [], patchList, schema: fieldSchema, path: fieldPath)
            case (nil, nil): continue
            }
            original[field] = .array(
                order(merged, patchOrder: orderList, serverOrder: originalList ?? [], mergeKey: fieldSchema.mergeKey)
            )
        }

        var deletions: [(key: String, value: JSONValue)] = []
        for key in patch.keys.sorted() {
            let value = patch[key]!
            if key.hasPrefix(deleteFromPrimitiveListPrefix) {
                deletions.append((key, value))
                continue
            }
            if value == .null {
                original.removeValue(forKey: key)
                continue
            }
            let current = original.removeValue(forKey: key)
            original[key] = try mergeValue(current, value, schema: schema[key], path: path.child(key))
        }

        for (key, value) in deletions {
            let field = try directiveField(
                key,
                prefix: deleteFromPrimitiveListPrefix,
                error: "invalid patch format of primitive list"
            )
            guard case .array(let toDelete) = value else { throw malformed("invalid patch format of primitive list") }
            guard case .array(let current)? = original[field] else { continue }
            let kind = try elementKind(current + toDelete)
            guard kind != .object else {
                throw notApplicable(
                    "\(deleteFromPrimitiveListPrefix)/\(field) applies to a list of scalars, not of objects"
                )
            }
            original[field] = .array(current.filter { element in !toDelete.contains { $0.isEquivalent(to: element) } })
        }
        return original
    }

    private static func mergeValue(
        _ original: JSONValue?,
        _ patch: JSONValue,
        schema: Schema,
        path: FieldPath
    ) throws(PatchError) -> JSONValue {
        switch (original, patch) {
        case (.object(let originalMembers)?, .object(let patchMembers)):
            if schema.strategy == .replace {
                return .object(try mergeObject([:], patchMembers, schema: schema, path: path))
            }
            return .object(try mergeObject(originalMembers, patchMembers, schema: schema, path: path))
        case (.array(let originalElements)?, .array(let patchElements)):
            return .array(try mergeList(originalElements, patchElements, schema: schema, path: path))
        case (_, .object(let patchMembers)):
            return .object(try mergeObject([:], patchMembers, schema: schema, path: path))
        case (_, .array(let patchElements)):
            return .array(try mergeList([], patchElements, schema: schema, path: path))
        default:
            return patch
        }
    }

    private static func mergeList(
        _ original: [JSONValue],
        _ patch: [JSONValue],
        schema: Schema,
        path: FieldPath
    ) throws(PatchError) -> [JSONValue] {
        guard case .merge(let mergeKey) = schema.strategy else { return patch.map(discardingNulls) }
        if original.isEmpty && patch.isEmpty { return original }
        if try elementKind(original + patch) != .object {
            var merged: [JSONValue] = []
            for element in original + patch where !merged.contains(where: { $0.isEquivalent(to: element) }) {
                merged.append(element)
            }
            return order(merged, patchOrder: patch, serverOrder: original, mergeKey: nil)
        }
        guard let mergeKey else { throw notApplicable("cannot merge lists without merge key for \(path)") }

        var original = original
        var plainElements: [[String: JSONValue]] = []
        var replace = false
        for element in patch {
            let members = element.objectValue!
            guard let directive = members[directiveMarker] else {
                plainElements.append(members)
                continue
            }
            switch directive {
            case "delete":
                guard let keyValue = members[mergeKey] else { throw noMergeKey(element, mergeKey) }
                original.removeAll { $0.objectValue?[mergeKey]?.isEquivalent(to: keyValue) == true }
            case "replace":
                replace = true
            case "merge":
                throw malformed("merging lists cannot yet be specified in the patch")
            default:
                throw malformed("unknown patch type: \(directive) in map: \(element)")
            }
        }
        if replace {
            var replaced: [JSONValue] = []
            for members in plainElements {
                replaced.append(.object(try mergeObject([:], members, schema: schema, path: path)))
            }
            return replaced
        }

        if let keyless = original.first(where: { $0.objectValue?[mergeKey] == nil }) {
            throw noMergeKey(keyless, mergeKey)
        }
        var merged = original
        for members in plainElements {
            guard let keyValue = members[mergeKey] else { throw noMergeKey(.object(members), mergeKey) }
            if let index = merged.firstIndex(where: { $0.objectValue?[mergeKey]?.isEquivalent(to: keyValue) == true }) {
                merged[index] = .object(
                    try mergeObject(merged[index].objectValue!, members, schema: schema, path: path)
                )
            } else {
                merged.append(.object(try mergeObject([:], members, schema: schema, path: path)))
            }
        }
        return order(merged, patchOrder: plainElements.map(JSONValue.object), serverOrder: original, mergeKey: mergeKey)
    }

    /// Orders a merged list as `strategicpatch.normalizeElementOrder` does: the elements found in
    /// `patchOrder` sorted by it, the others sorted by `serverOrder`, then the two interleaved,
    /// taking the original element first only when both are in `serverOrder` and it comes first there.
    private static func order(
        _ merged: [JSONValue],
        patchOrder: [JSONValue],
        serverOrder: [JSONValue],
        mergeKey: String?
    ) -> [JSONValue] {
        func identity(_ element: JSONValue) -> JSONValue {
            guard let mergeKey else { return element }
            return element.objectValue?[mergeKey] ?? .null
        }
        func index(of element: JSONValue, in list: [JSONValue]) -> Int? {
            let wanted = identity(element)
            return list.firstIndex { identity($0).isEquivalent(to: wanted) }
        }
        func sorted(_ elements: [JSONValue], by list: [JSONValue]) -> [JSONValue] {
            elements.enumerated()
                .map { (position: index(of: $0.element, in: list) ?? Int.max, offset: $0.offset, element: $0.element) }
                .sorted { ($0.position, $0.offset) < ($1.position, $1.offset) }
                .map(\.element)
        }
        var patchItems: [JSONValue] = []
        var serverOnly: [JSONValue] = []
        for element in merged {
            if index(of: element, in: patchOrder) != nil {
                patchItems.append(element)
            } else {
                serverOnly.append(element)
            }
        }
        let right = sorted(patchItems, by: patchOrder)
        let left = sorted(serverOnly, by: serverOrder)
        var result: [JSONValue] = []
        result.reserveCapacity(left.count + right.count)
        var (i, j) = (0, 0)
        while i < left.count || j < right.count {
            if i == left.count {
                result.append(right[j])
                j += 1
            } else if j == right.count {
                result.append(left[i])
                i += 1
            } else if let leftIndex = index(of: left[i], in: serverOrder),
                let rightIndex = index(of: right[j], in: serverOrder),
                leftIndex < rightIndex
            {
                result.append(left[i])
                i += 1
            } else {
                result.append(right[j])
                j += 1
            }
        }
        return result
    }

    /// Checks that the non-deleting elements of a patch list appear in the `$setElementOrder` list in the same order.
    private static func validateOrder(
        _ patchList: [JSONValue],
        _ orderList: [JSONValue],
        mergeKey: String?
    ) throws(PatchError) {
        if patchList.isEmpty || orderList.isEmpty { return }
        var elements = patchList
        if mergeKey != nil {
            elements = []
            for element in patchList {
                guard case .object(let members) = element else {
                    throw notApplicable("list element \(element) is not an object")
                }
                if members[directiveMarker] != "delete" { elements.append(element) }
            }
        }
        var (patchIndex, orderIndex) = (0, 0)
        while patchIndex < elements.count && orderIndex < orderList.count {
            if elements[patchIndex].objectValue?[directiveMarker] != nil {
                patchIndex += 1
                continue
            }
            if try sameIdentity(elements[patchIndex], orderList[orderIndex], mergeKey: mergeKey) { patchIndex += 1 }
            orderIndex += 1
        }
        if patchIndex < elements.count && orderIndex >= orderList.count {
            throw malformed(
                "the order in patch list \(JSONValue.array(patchList)) doesn't match \(setElementOrderPrefix) list \(JSONValue.array(orderList))"
            )
        }
    }

    private static func sameIdentity(
        _ left: JSONValue,
        _ right: JSONValue,
        mergeKey: String?
    ) throws(PatchError) -> Bool {
        guard let mergeKey else { return left.isEquivalent(to: right) }
        guard let leftKey = left.objectValue?[mergeKey] else { throw noMergeKey(left, mergeKey) }
        guard let rightKey = right.objectValue?[mergeKey] else { throw noMergeKey(right, mergeKey) }
        return leftKey.isEquivalent(to: rightKey)
    }

    private enum ElementKind: Hashable {
        case null, bool, number, string, object
    }

    /// The common kind of a list's elements (lists of lists are not supported).
    private static func elementKind(_ elements: [JSONValue]) throws(PatchError) -> ElementKind? {
        var kind: ElementKind?
        for element in elements {
            let elementKind: ElementKind
            switch element {
            case .null: elementKind = .null
            case .bool: elementKind = .bool
            case .integer, .double: elementKind = .number
            case .string: elementKind = .string
            case .object: elementKind = .object
            case .array: throw notApplicable("lists of lists are not supported")
            }
            if let kind, kind != elementKind {
                throw notApplicable("list element types are not identical: \(JSONValue.array(elements))")
            }
            kind = elementKind
        }
        return kind
    }

    private static func listValue(_ value: JSONValue?, field: FieldPath) throws(PatchError) -> [JSONValue]? {
        guard let value else { return nil }
        guard case .array(let elements) = value else {
            throw notApplicable(
                "\(field) must be a list to be ordered by \(setElementOrderPrefix), not \(value.typeName)"
            )
        }
        return elements
    }

    /// The field a `$prefix/field` directive names.
    private static func directiveField(_ key: String, prefix: String, error: String) throws(PatchError) -> String {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0] == prefix else { throw malformed(error) }
        return String(parts[1])
    }

    private static func noMergeKey(_ element: JSONValue, _ mergeKey: String) -> PatchError {
        notApplicable("map: \(element) does not contain declared merge key: \(mergeKey)")
    }

    private static func discardingNulls(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): return .object(members.filter { $0.value != .null }.mapValues(discardingNulls))
        case .array(let elements): return .array(elements.map(discardingNulls))
        default: return value
        }
    }
}
