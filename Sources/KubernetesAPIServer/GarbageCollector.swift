import Synchronization
import Logging
import Kubernetes

/// Wakes the garbage-collection loop; many wake-ups while a pass runs collapse into one more pass.
struct GarbageCollector: Sendable {
    private let wakeups: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() {
        (wakeups, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks for a pass soon.
    func schedule() { continuation.yield() }

    /// Runs `pass` after each wake-up until the task is cancelled.
    func run(_ pass: @Sendable () async -> Void) async {
        for await _ in wakeups {
            await pass()
        }
    }

    func finish() { continuation.finish() }
}

extension APIServer {
    /// One garbage-collection pass, repeated until nothing changes:
    /// - objects all of whose owners are gone are deleted (background propagation);
    /// - an owner deleted in the foreground loses its `foregroundDeletion` finalizer once its dependents are gone;
    /// - a terminating namespace has its contents deleted, then goes itself once empty;
    /// - custom resources whose CRD is gone are deleted.
    func collectGarbage() async {
        for _ in 0..<20 {
            do {
                guard try await collectGarbageOnce() else { return }
            } catch {
                logger.warning("garbage collection failed", metadata: ["apiserver.error": "\(error)"])
                return
            }
        }
    }

    private func collectGarbageOnce() async throws -> Bool {
        let objects = store.allObjects()
        let registry = self.registry.withLock { $0 }
        var typesByStorage: [String: ResourceType] = [:]
        for type in registry.types where typesByStorage[type.storageKey] == nil { typesByStorage[type.storageKey] = type }
        var uids = Set<String>()
        var dependents: [String: Int] = [:]
        var namespaceContents: [String: Int] = [:]
        for (_, key, object) in objects {
            if let uid = object[path: ["metadata", "uid"]]?.stringValue { uids.insert(uid) }
            for owner in object[path: ["metadata", "ownerReferences"]]?.arrayValue ?? [] {
                if let uid = owner["uid"]?.stringValue { dependents[uid, default: 0] += 1 }
            }
            if !key.namespace.isEmpty { namespaceContents[key.namespace, default: 0] += 1 }
        }

        var changed = false
        for (resource, key, object) in objects {
            guard let type = typesByStorage[resource] else {
                // A custom resource whose CRD was deleted.
                let outcome = try store.mutate(resource, key: key) { $0 == nil ? .keep : .delete }
                try await commit(outcome.logTicket)
                changed = true
                continue
            }
            let target = ResourceRequest(type: type, namespace: type.namespaced ? key.namespace : nil, name: key.name)
            let metadata = object["metadata"] ?? [:]
            let deleting = metadata["deletionTimestamp"] != nil
            let owners = (metadata["ownerReferences"]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
            if !deleting, !owners.isEmpty, owners.allSatisfy({ !uids.contains($0) }) {
                _ = try? await delete(target, name: key.name, body: nil, options: WriteOptions())
                changed = true
                continue
            }
            if deleting, let uid = metadata["uid"]?.stringValue {
                let finalizers = metadata["finalizers"]?.arrayValue ?? []
                if finalizers.contains("foregroundDeletion") && dependents[uid, default: 0] == 0 {
                    try await removeFinalizer("foregroundDeletion", type: type, key: key)
                    changed = true
                } else if finalizers.contains("foregroundDeletion") {
                    for (dependentResource, dependentKey, dependent) in objects
                    where dependent[path: ["metadata", "ownerReferences"]]?.arrayValue?.contains(where: { $0["uid"]?.stringValue == uid }) == true
                        && dependent[path: ["metadata", "deletionTimestamp"]] == nil
                    {
                        guard let dependentType = typesByStorage[dependentResource] else { continue }
                        let dependentTarget = ResourceRequest(type: dependentType, namespace: dependentType.namespaced ? dependentKey.namespace : nil, name: dependentKey.name)
                        _ = try? await delete(dependentTarget, name: dependentKey.name, body: nil, options: WriteOptions())
                        changed = true
                    }
                }
                if type.builtinTable == .namespace {
                    if namespaceContents[key.name, default: 0] == 0 {
                        if finalizers.isEmpty {
                            let outcome = try store.mutate(resource, key: key) { $0 == nil ? .keep : .delete }
                            try await commit(outcome.logTicket)
                            changed = true
                        }
                    } else {
                        for (contentResource, contentKey, content) in objects where contentKey.namespace == key.name && content[path: ["metadata", "deletionTimestamp"]] == nil {
                            guard let contentType = typesByStorage[contentResource] else { continue }
                            let contentTarget = ResourceRequest(type: contentType, namespace: contentKey.namespace, name: contentKey.name)
                            _ = try? await delete(contentTarget, name: contentKey.name, body: nil, options: WriteOptions())
                            changed = true
                        }
                    }
                }
            }
        }
        return changed
    }

    private func removeFinalizer(_ finalizer: String, type: ResourceType, key: ObjectKey) async throws {
        let outcome = try store.mutate(type.storageKey, key: key) { current in
            guard var current else { return .keep }
            let remaining = (current[path: ["metadata", "finalizers"]]?.arrayValue ?? []).filter { $0 != .string(finalizer) }
            if remaining.isEmpty && current[path: ["metadata", "deletionTimestamp"]] != nil { return .delete }
            current[path: ["metadata"]]?["finalizers"] = .array(remaining)
            return .put(current)
        }
        try await commit(outcome.logTicket)
    }

    /// Removes owner references to `uid` from every object (propagationPolicy Orphan).
    func orphanDependents(of uid: String) async throws {
        for (resource, key, object) in store.allObjects()
        where object[path: ["metadata", "ownerReferences"]]?.arrayValue?.contains(where: { $0["uid"]?.stringValue == uid }) == true {
            let outcome = try store.mutate(resource, key: key) { current in
                guard var current else { return .keep }
                let remaining = (current[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).filter { $0["uid"]?.stringValue != uid }
                current[path: ["metadata"]]?["ownerReferences"] = remaining.isEmpty ? nil : .array(remaining)
                return .put(current)
            }
            try await commit(outcome.logTicket)
        }
    }
}
