import Synchronization
import NIOCore
import Foundation
import Kubernetes
import NIOHTTP1

extension APIServer {
    // MARK: - Create

    /// - Parameter appliedBy: Set for a server-side apply that creates the object: its manager owns the
    ///   applied fields under `Apply` rather than `Update`.
    func create(
        _ type: ResourceType,
        namespace: String?,
        body: JSONValue,
        options: WriteOptions,
        appliedBy applyManager: String? = nil
    ) async throws -> (JSONValue, [String]) {
        guard case .object = body else { throw APIError.badRequest("the body of the request must be a JSON object") }
        var object = try Self.checkTypeMeta(body, type: type)
        var metadata = object["metadata"]?.objectValue ?? [:]
        let namespace = try resolveNamespace(type, path: namespace, body: metadata["namespace"]?.stringValue)
        if let namespace { metadata["namespace"] = .string(namespace) } else { metadata["namespace"] = nil }
        if (metadata["name"]?.stringValue ?? "").isEmpty, let prefix = metadata["generateName"]?.stringValue, !prefix.isEmpty {
            metadata["name"] = .string(prefix + Self.randomSuffix())
        }
        let name = metadata["name"]?.stringValue ?? ""
        for field in ["uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"] {
            metadata[field] = nil
        }
        metadata["uid"] = .string(UUID().uuidString.lowercased())
        metadata["creationTimestamp"] = .string(RFC3339.string(from: Date()))
        if type.hasGeneration { metadata["generation"] = 1 }
        object["metadata"] = .object(metadata)
        if type.hasStatusSubresource && type.builtinTable != .namespace { object["status"] = nil }

        var (admitted, warnings) = try admit(type, object, old: nil, options: options)
        if let applyManager {
            let owned = try FieldManager.apply(body, to: nil, manager: applyManager, force: true, apiVersion: type.apiVersion)
            admitted[path: ["metadata", "managedFields"]] = owned[path: ["metadata", "managedFields"]]
        } else {
            admitted = FieldManager.recordUpdate(old: nil, new: admitted, manager: options.fieldManager, apiVersion: type.apiVersion)
        }
        if options.dryRun { return (admitted, warnings) }

        let key = ObjectKey(namespace: namespace ?? "", name: name)
        let outcome = try store.mutate(type.storageKey, key: key) { current in
            if current != nil { throw APIError.alreadyExists(type, name: name) }
            return .put(admitted)
        }
        try await commit(outcome.logTicket)
        afterWrite(type, outcome)
        return (outcome.object ?? admitted, warnings)
    }

    /// The namespace an object goes to: the path's, which the body may repeat but not contradict.
    func resolveNamespace(_ type: ResourceType, path: String?, body: String?) throws -> String? {
        guard type.namespaced else { return nil }
        if let path, let body, !body.isEmpty, body != path {
            throw APIError.badRequest("the namespace of the provided object does not match the namespace sent on the request")
        }
        guard let namespace = path ?? body, !namespace.isEmpty else {
            throw APIError.badRequest("the namespace of the object is required")
        }
        let namespaces = ResourceType.builtins.first { $0.plural == "namespaces" }!
        guard let object = store.get(namespaces.storageKey, ObjectKey(namespace: "", name: namespace)) else {
            throw APIError.namespaceNotFound(namespace)
        }
        if object[path: ["status", "phase"]] == "Terminating" {
            throw APIError(
                code: 403,
                reason: "Forbidden",
                message: "unable to create new content in namespace \(namespace) because it is being terminated"
            )
        }
        return namespace
    }

    static func checkTypeMeta(_ body: JSONValue, type: ResourceType) throws -> JSONValue {
        var object = body
        if let kind = body["kind"]?.stringValue, kind != type.kind {
            throw APIError.badRequest("the object provided is unrecognized (kind \(kind) does not match \(type.kind))")
        }
        if let apiVersion = body["apiVersion"]?.stringValue, apiVersion != type.apiVersion {
            throw APIError.badRequest(
                "the API version in the data (\(apiVersion)) does not match the expected API version (\(type.apiVersion))"
            )
        }
        object["kind"] = .string(type.kind)
        object["apiVersion"] = .string(type.apiVersion)
        if object["metadata"] == nil { object["metadata"] = [:] }
        return object
    }

    static func randomSuffix() -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<5).map { _ in alphabet.randomElement()! })
    }

    // MARK: - Update and patch

    /// PUT: the whole object (or, on /status, its status), guarded by its resourceVersion.
    func update(_ target: ResourceRequest, name: String, body: JSONValue, options: WriteOptions) async throws -> (JSONValue, [String]) {
        guard case .object = body else { throw APIError.badRequest("the body of the request must be a JSON object") }
        let type = target.type
        let incoming = try Self.checkTypeMeta(body, type: type)
        if let bodyName = incoming[path: ["metadata", "name"]]?.stringValue, bodyName != name {
            throw APIError.badRequest("the name of the object (\(bodyName)) does not match the name on the URL (\(name))")
        }
        _ = try resolveNamespace(type, path: target.namespace, body: incoming[path: ["metadata", "namespace"]]?.stringValue)
        let requestedVersion = incoming[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
        if requestedVersion.isEmpty && type.isCustom {
            throw APIError.invalid(
                type,
                name: name,
                [FieldError(.invalid, field: "metadata.resourceVersion", value: "0x0", detail: "must be specified for an update")]
            )
        }
        return try await write(target, name: name, options: options) { current in
            if !requestedVersion.isEmpty && requestedVersion != current[path: ["metadata", "resourceVersion"]]?.stringValue {
                throw APIError.conflict(type, name: name)
            }
            return incoming
        }
    }

    /// PATCH: merge patch, JSON patch, strategic merge patch (built-ins) or server-side apply.
    func patch(_ target: ResourceRequest, name: String, request: HTTPRequest, options: WriteOptions) async throws -> (JSONValue, Bool, [String]) {
        let type = target.type
        let contentType = (request.headers.first(name: "content-type") ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        let accepted = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"]
            + (type.acceptsStrategicMergePatch ? ["application/strategic-merge-patch+json"] : [])
        guard accepted.contains(contentType) else {
            throw APIError.unsupportedMediaType(contentType.isEmpty ? "(no content type)" : contentType, type, accepted: accepted)
        }
        var bytes = request.body
        let text = bytes.readString(length: bytes.readableBytes) ?? ""
        let patchDocument: JSONValue
        do {
            patchDocument = contentType == "application/apply-patch+yaml" ? try JSONValue(yaml: text) : try JSONValue(json: text)
        } catch {
            throw APIError.badRequest("error decoding patch: \(Self.describe(error))")
        }

        if contentType == "application/apply-patch+yaml" {
            return try await serverSideApply(target, name: name, applied: patchDocument, options: options)
        }
        let (object, warnings) = try await write(target, name: name, options: options) { current in
            let patched: JSONValue
            do {
                switch contentType {
                case "application/merge-patch+json":
                    patched = JSONMergePatch.apply(patchDocument, to: current)
                case "application/json-patch+json":
                    patched = try JSONPatch(document: patchDocument).apply(to: current)
                default:
                    patched = try StrategicMergePatch.apply(patchDocument, to: current, kind: type.kind)
                }
            } catch let error as PatchError {
                let code = error.httpStatusCode
                throw APIError(code: code, reason: code == 400 ? "BadRequest" : code == 415 ? "UnsupportedMediaType" : "Invalid", message: error.message)
            }
            // A patch is unconditional unless it sets metadata.resourceVersion itself.
            let patchedVersion = patched[path: ["metadata", "resourceVersion"]]
            if patchedVersion != current[path: ["metadata", "resourceVersion"]], let version = patchedVersion?.stringValue, !version.isEmpty {
                throw APIError.conflict(type, name: name)
            }
            return patched
        }
        return (object, false, warnings)
    }

    /// `kubectl apply --server-side`: creates the object, or merges the applied fields under the field
    /// manager's ownership, refusing to take fields another manager set differently unless forced.
    func serverSideApply(_ target: ResourceRequest, name: String, applied: JSONValue, options: WriteOptions) async throws -> (JSONValue, Bool, [String]) {
        let type = target.type
        guard let manager = options.fieldManager, !manager.isEmpty else {
            throw APIError.badRequest("PATCH requests of type application/apply-patch+yaml must have fieldManager specified")
        }
        let appliedObject = try Self.checkTypeMeta(applied, type: type)
        let key = ObjectKey(namespace: target.namespace ?? "", name: name)
        if store.get(type.storageKey, key) == nil && target.subresource == nil {
            var initial = FieldManager.stripManaged(appliedObject)
            initial[path: ["metadata", "name"]] = .string(name)
            let (created, warnings) = try await create(type, namespace: target.namespace, body: initial, options: options, appliedBy: manager)
            return (created, true, warnings)
        }
        let (object, warnings) = try await write(target, name: name, options: options, recordManager: false) { current in
            do {
                return try FieldManager.apply(appliedObject, to: current, manager: manager, force: options.force, apiVersion: type.apiVersion)
            } catch let conflict as FieldManager.Conflict {
                throw APIError(
                    code: 409,
                    reason: "Conflict",
                    message: "Apply failed with \(conflict.fields.count) conflict\(conflict.fields.count == 1 ? "" : "s"): "
                        + conflict.fields.map { "conflict with \"\($0.manager)\": \($0.path)" }.joined(separator: "; "),
                    details: [
                        "name": .string(name), "group": .string(type.group), "kind": .string(type.plural),
                        "causes": .array(conflict.fields.map { ["reason": "FieldManagerConflict", "message": .string("conflict with \"\($0.manager)\""), "field": .string($0.path)] }),
                    ]
                )
            }
        }
        return (object, false, warnings)
    }

    /// The read-modify-write every update and patch shares: `change` turns the current object into
    /// the requested one; this keeps what the endpoint may not change, validates, bumps the
    /// generation, honours finalizers and stores the result atomically.
    func write(
        _ target: ResourceRequest,
        name: String,
        options: WriteOptions,
        recordManager: Bool = true,
        _ change: @escaping (JSONValue) throws -> JSONValue
    ) async throws -> (JSONValue, [String]) {
        let type = target.type
        let key = ObjectKey(namespace: target.namespace ?? "", name: name)
        var warnings: [String] = []
        var dryRunResult: JSONValue?
        let outcome = try store.mutate(type.storageKey, key: key) { current in
            guard let current else { throw APIError.notFound(type, name: name) }
            let requested = try change(current)
            guard case .object = requested else { throw APIError.badRequest("the result must be a JSON object") }
            var candidate: JSONValue
            if target.subresource == "status" {
                candidate = current
                candidate["status"] = requested["status"]
            } else {
                candidate = requested
                if type.hasStatusSubresource && type.builtinTable != .customResourceDefinition { candidate["status"] = current["status"] }
                candidate["kind"] = .string(type.kind)
                candidate["apiVersion"] = current["apiVersion"]
                var metadata = candidate["metadata"]?.objectValue ?? [:]
                let previous = current["metadata"]?.objectValue ?? [:]
                for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "namespace", "name", "generation"] {
                    metadata[field] = previous[field]
                }
                metadata["resourceVersion"] = previous["resourceVersion"]
                candidate["metadata"] = .object(metadata)
            }
            var (admitted, admissionWarnings) = try self.admit(type, candidate, old: current, options: options)
            warnings = admissionWarnings
            if type.hasGeneration && Self.specChanged(current, admitted) {
                admitted[path: ["metadata"]]?["generation"] = .integer((current[path: ["metadata", "generation"]]?.integerValue ?? 0) + 1)
            }
            if recordManager && requested[path: ["metadata", "managedFields"]] == current[path: ["metadata", "managedFields"]] {
                admitted = FieldManager.recordUpdate(old: current, new: admitted, manager: options.fieldManager, apiVersion: type.apiVersion)
            }
            if Self.sameIgnoringManagedFields(admitted, current) { return .keep }
            let finalizers = admitted[path: ["metadata", "finalizers"]]?.arrayValue ?? []
            if admitted[path: ["metadata", "deletionTimestamp"]] != nil && finalizers.isEmpty {
                if options.dryRun {
                    dryRunResult = admitted
                    return .keep
                }
                return .delete
            }
            if options.dryRun {
                dryRunResult = admitted
                return .keep
            }
            return .put(admitted)
        }
        if let dryRunResult { return (dryRunResult, warnings) }
        try await commit(outcome.logTicket)
        afterWrite(type, outcome)
        return (outcome.object.map { Self.served($0, as: type) } ?? [:], warnings)
    }

    /// Whether anything outside `metadata` and `status` differs, which is what bumps `generation`.
    static func specChanged(_ old: JSONValue, _ new: JSONValue) -> Bool {
        var oldRest = old.objectValue ?? [:]
        var newRest = new.objectValue ?? [:]
        for field in ["metadata", "status", "apiVersion", "kind"] {
            oldRest[field] = nil
            newRest[field] = nil
        }
        return oldRest != newRest
    }

    static func sameIgnoringManagedFields(_ a: JSONValue, _ b: JSONValue) -> Bool {
        var a = a
        var b = b
        a[path: ["metadata"]]?["managedFields"] = nil
        b[path: ["metadata"]]?["managedFields"] = nil
        return a == b
    }

    // MARK: - Delete

    func delete(_ target: ResourceRequest, name: String, body: JSONValue?, options: WriteOptions) async throws -> JSONValue {
        let type = target.type
        let key = ObjectKey(namespace: target.namespace ?? "", name: name)
        let policy = body?["propagationPolicy"]?.stringValue ?? "Background"
        guard ["Background", "Foreground", "Orphan"].contains(policy) else {
            throw APIError.badRequest("propagationPolicy must be Background, Foreground or Orphan, not \(policy)")
        }
        let preconditions = body?["preconditions"]
        if policy == "Orphan", let uid = store.get(type.storageKey, key)?[path: ["metadata", "uid"]]?.stringValue {
            try await orphanDependents(of: uid)
        }
        var result: JSONValue?
        let outcome = try store.mutate(type.storageKey, key: key) { current in
            guard var current else { throw APIError.notFound(type, name: name) }
            if let uid = preconditions?["uid"]?.stringValue, uid != current[path: ["metadata", "uid"]]?.stringValue {
                throw APIError.conflict(type, name: name, "Precondition failed: UID in precondition: \(uid), UID in object meta: \(current[path: ["metadata", "uid"]]?.stringValue ?? "")")
            }
            if let version = preconditions?["resourceVersion"]?.stringValue, version != current[path: ["metadata", "resourceVersion"]]?.stringValue {
                throw APIError.conflict(type, name: name, "Precondition failed: ResourceVersion in precondition: \(version), ResourceVersion in object meta: \(current[path: ["metadata", "resourceVersion"]]?.stringValue ?? "")")
            }
            if current[path: ["metadata", "deletionTimestamp"]] != nil {
                result = current
                return .keep
            }
            var finalizers = current[path: ["metadata", "finalizers"]]?.arrayValue ?? []
            if policy == "Foreground" && !finalizers.contains("foregroundDeletion") { finalizers.append("foregroundDeletion") }
            if type.builtinTable == .namespace { finalizers.append("kubernetes") }
            if finalizers.isEmpty {
                if options.dryRun {
                    result = current
                    return .keep
                }
                return .delete
            }
            current[path: ["metadata"]]?["deletionTimestamp"] = .string(RFC3339.string(from: Date()))
            current[path: ["metadata"]]?["deletionGracePeriodSeconds"] = 0
            current[path: ["metadata"]]?["finalizers"] = .array(finalizers.filter { $0 != "kubernetes" })
            if type.builtinTable == .namespace {
                current["status"] = ["phase": "Terminating"]
            }
            if type.hasGeneration {
                let generation = current[path: ["metadata", "generation"]]?.integerValue ?? 0
                current[path: ["metadata", "generation"]] = .integer(generation + 1)
            }
            if options.dryRun {
                result = current
                return .keep
            }
            return .put(current)
        }
        if let result { return Self.served(result, as: type) }
        try await commit(outcome.logTicket)
        afterWrite(type, outcome)
        return Self.served(outcome.object ?? [:], as: type)
    }

    func deleteCollection(_ target: ResourceRequest, request: HTTPRequest, options: WriteOptions) async throws -> JSONValue {
        let selection = try Selection(target, query: request.query)
        var deleted: [JSONValue] = []
        for (key, _) in store.list(target.type.storageKey, namespace: target.namespace, include: selection.matches).objects {
            var single = target
            single.namespace = target.type.namespaced ? key.namespace : nil
            if let result = try? await delete(single, name: key.name, body: nil, options: options) { deleted.append(result) }
        }
        return ["kind": .string(target.type.listKind), "apiVersion": .string(target.type.apiVersion), "metadata": [:], "items": .array(deleted)]
    }

    /// Effects of a stored change beyond the object itself: CRDs change what is served, and
    /// deletions wake the garbage collector.
    func afterWrite(_ type: ResourceType, _ outcome: ObjectStore.Outcome) {
        guard let event = outcome.event else { return }
        if type.builtinTable == .customResourceDefinition {
            let crd = event.kind == .deleted ? nil : try? event.object.decode(as: CustomResourceDefinition.self)
            registry.withLock { $0.update(crdNamed: event.key.name, crd) }
        }
        if event.kind == .deleted || event.object[path: ["metadata", "deletionTimestamp"]] != nil {
            garbageCollector.schedule()
        }
    }
}
