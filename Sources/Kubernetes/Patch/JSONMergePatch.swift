/// A JSON Merge Patch (RFC 7386): a document that looks like the object it changes.
///
/// This is the body of `application/merge-patch+json` requests, which client-side `kubectl apply`
/// sends for custom resources and CRDs and `kubectl patch --type=merge` sends for anything.
///
/// The algorithm, for a patch `P` applied to a target `T`:
///
/// | `P`            | result                                                                            |
/// |----------------|-----------------------------------------------------------------------------------|
/// | an object      | `T` if it is an object, else `{}`; then each member `k: null` of `P` removes `k`, |
/// |                | and each other member `k: v` sets `k` to `v` merged into `T[k]`, recursively      |
/// | anything else  | `P` itself: arrays, strings, numbers, booleans and `null` replace the target      |
///
/// So a merge patch cannot set a member to `null` and always replaces arrays whole.
/// Every JSON value is a valid merge patch, so applying one cannot fail.
public struct JSONMergePatch: Sendable, Hashable {
    /// The patch document.
    public var patch: JSONValue

    public init(_ patch: JSONValue) {
        self.patch = patch
    }

    /// Decodes a patch document from JSON text.
    ///
    /// - Throws: ``PatchError`` with ``PatchError/Code/malformedPatch`` for text that is not JSON.
    public init(json: String) throws(PatchError) {
        do {
            self.patch = try JSONValue(json: json)
        } catch {
            throw PatchError(.malformedPatch, "invalid JSON merge patch: the body is not valid JSON")
        }
    }

    /// Applies the patch to a target.
    ///
    /// - Parameter target: The object to patch.
    /// - Returns: The patched value.
    public func apply(to target: JSONValue) -> JSONValue {
        JSONMergePatch.merge(patch, into: target)
    }

    /// Applies a merge patch document to a target: `JSONMergePatch(patch).apply(to: target)`.
    public static func apply(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
        merge(patch, into: target)
    }

    /// The smallest merge patch that turns `original` into `modified`.
    ///
    /// When both are objects the patch holds only the members that differ: `null` for a removed
    /// member, the new value for an added or changed one, and a nested patch for a changed object.
    /// Otherwise (they are not both objects) the patch is `modified` itself. Numbers compare by
    /// value. A `null` member of `modified` cannot be expressed by a merge patch: the patch removes
    /// that member instead.
    ///
    /// - Parameters:
    ///   - original: The value before.
    ///   - modified: The value after.
    /// - Returns: A patch `p` with `p.apply(to: original)` equal to `modified` (for a `modified` without `null` members).
    public static func create(from original: JSONValue, to modified: JSONValue) -> JSONMergePatch {
        guard case .object(let originalMembers) = original, case .object(let modifiedMembers) = modified else {
            return JSONMergePatch(modified)
        }
        return JSONMergePatch(.object(difference(originalMembers, modifiedMembers)))
    }

    private static func merge(_ patch: JSONValue, into target: JSONValue) -> JSONValue {
        guard case .object(let patchMembers) = patch else { return patch }
        var members = target.objectValue ?? [:]
        for (key, value) in patchMembers {
            if value == .null {
                members.removeValue(forKey: key)
            } else {
                let current = members.removeValue(forKey: key) ?? .null
                members[key] = merge(value, into: current)
            }
        }
        return .object(members)
    }

    private static func difference(
        _ original: [String: JSONValue],
        _ modified: [String: JSONValue]
    ) -> [String: JSONValue] {
        var patch: [String: JSONValue] = [:]
        for key in original.keys where modified[key] == nil {
            patch[key] = .null
        }
        for (key, newValue) in modified {
            guard let oldValue = original[key] else {
                patch[key] = newValue
                continue
            }
            if case .object(let oldMembers) = oldValue, case .object(let newMembers) = newValue {
                let nested = difference(oldMembers, newMembers)
                if !nested.isEmpty { patch[key] = .object(nested) }
            } else if !oldValue.isEquivalent(to: newValue) {
                patch[key] = newValue
            }
        }
        return patch
    }
}
