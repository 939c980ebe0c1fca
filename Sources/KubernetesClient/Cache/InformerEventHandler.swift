/// What an informer tells its handlers, after its cache has been updated (client-go's
/// `ResourceEventHandlerFuncs`).
///
/// Handlers run synchronously on the informer's task, in event order: keep them short and never
/// block — enqueue keys into a ``WorkQueue`` and let workers read the cache. A resync delivers every
/// cached object as an update with `old == new` (same resourceVersion).
public struct InformerEventHandler<Object: KubernetesObject>: Sendable {
    public var onAdd: @Sendable (Object) -> Void
    public var onUpdate: @Sendable (_ old: Object, _ new: Object) -> Void
    public var onDelete: @Sendable (Deletion<Object>) -> Void

    public init(
        onAdd: @escaping @Sendable (Object) -> Void = { _ in },
        onUpdate: @escaping @Sendable (_ old: Object, _ new: Object) -> Void = { _, _ in },
        onDelete: @escaping @Sendable (Deletion<Object>) -> Void = { _ in }
    ) {
        self.onAdd = onAdd
        self.onUpdate = onUpdate
        self.onDelete = onDelete
    }

    /// Enqueues the key of every added, updated and deleted object.
    public static func enqueue(into queue: WorkQueue<ObjectKey>) -> InformerEventHandler {
        enqueue(into: queue) { [$0.objectKey] }
    }

    /// Enqueues the keys `map` derives from every added, updated (old and new state) and deleted object,
    /// e.g. the Routes that reference a changed Secret through an index of the Route cache.
    public static func enqueue(
        into queue: WorkQueue<ObjectKey>,
        _ map: @escaping @Sendable (Object) -> [ObjectKey]
    ) -> InformerEventHandler {
        InformerEventHandler(
            onAdd: { object in map(object).forEach(queue.add) },
            onUpdate: { old, new in
                var keys = map(new)
                for key in map(old) where !keys.contains(key) { keys.append(key) }
                keys.forEach(queue.add)
            },
            onDelete: { deletion in map(deletion.object).forEach(queue.add) }
        )
    }
}

/// A deleted object as a handler sees it (client-go's object or `DeletedFinalStateUnknown`).
public struct Deletion<Object: KubernetesObject>: Sendable {
    public var key: ObjectKey
    /// The final state from the DELETED event, or the last cached state when the delete was only
    /// noticed at a relist (``finalStateUnknown``).
    public var object: Object
    /// True for a tombstone: the object vanished while the watch was down; its final state is unknown.
    public var finalStateUnknown: Bool

    public init(key: ObjectKey, object: Object, finalStateUnknown: Bool) {
        self.key = key
        self.object = object
        self.finalStateUnknown = finalStateUnknown
    }
}

/// Something whose cache can be waited for before workers start.
public protocol CacheSyncing: Sendable {
    /// True once the first list has been stored.
    var hasSynced: Bool { get }
}

extension CacheSyncing {
    /// Waits until ``hasSynced`` (polling every 50 ms, as client-go's `WaitForCacheSync` polls).
    ///
    /// - Returns: `true` once synced; `false` if the task was cancelled first.
    public func waitForSync() async -> Bool {
        while !hasSynced {
            do { try await Task.sleep(for: .milliseconds(50)) } catch { return false }
        }
        return true
    }
}
