import Kubernetes
import Synchronization

/// Where an object lives: its namespace (empty for cluster-scoped objects) and name.
struct ObjectKey: Sendable, Hashable, Comparable {
    var namespace: String
    var name: String

    static func < (lhs: ObjectKey, rhs: ObjectKey) -> Bool {
        (lhs.namespace, lhs.name) < (rhs.namespace, rhs.name)
    }
}

/// One change, as watchers and the write-ahead log see it.
struct StoredEvent: Sendable {
    enum Kind: String, Sendable {
        case added = "ADDED"
        case modified = "MODIFIED"
        case deleted = "DELETED"
    }

    var resourceVersion: Int64
    var kind: Kind
    /// The resource's storage key (`routes.portcullis.io`).
    var resource: String
    var key: ObjectKey
    /// The object after the change; for a deletion, its final state with the deletion's resourceVersion.
    var object: JSONValue
    /// The object before the change, so selector watches can tell objects entering and leaving the selection.
    var previous: JSONValue?
}

/// The in-memory object store: every object by resource and key, one cluster-wide resourceVersion
/// counter, a bounded history of changes for watches, and the live watchers.
///
/// Every change goes through ``mutate(_:key:_:)``, which runs under the store's lock so that
/// read-modify-write sequences (optimistic concurrency, finalizers, patches) are atomic. Changes are
/// appended to the write-ahead log, when there is one, inside the same critical section so the log
/// is in resourceVersion order.
final class ObjectStore: Sendable {
    /// What a mutation decided to do with the object it was shown.
    enum Decision: Sendable {
        /// Store this object (created or updated); the store sets `metadata.resourceVersion`.
        case put(JSONValue)
        /// Remove the object.
        case delete
        /// Change nothing: no new resourceVersion, no event.
        case keep
    }

    /// What a mutation did.
    struct Outcome: Sendable {
        /// The stored object after the change (the final state for a deletion; the current object for `.keep`).
        var object: JSONValue?
        var event: StoredEvent?
        /// The write-ahead-log position to wait for before acknowledging, if the change was logged.
        var logTicket: WriteAheadLog.Ticket?
    }

    /// Why a watch could not start.
    enum WatchError: Error, Sendable {
        /// The requested resourceVersion is older than the retained history.
        case expired(requested: Int64, oldest: Int64)
    }

    /// What a watcher's stream carries: changes from the store, and wake-ups from the watcher's own timer.
    enum WatchSignal: Sendable {
        case event(StoredEvent)
        case tick
    }

    /// A live watch: its identity, and the events to deliver before the ones the stream will carry.
    struct Subscription: Sendable {
        var id: Int
        var backlog: [StoredEvent]
    }

    private struct Watcher {
        var resource: String
        var namespace: String?
        var continuation: AsyncStream<WatchSignal>.Continuation
    }

    private struct State {
        var resourceVersion: Int64 = 0
        var objects: [String: [ObjectKey: JSONValue]] = [:]
        /// Each resource's keys in order, built on the first list after the set of keys changed.
        var sortedKeys: [String: [ObjectKey]] = [:]
        /// The most recent changes, oldest first, at most `historyLimit` of them.
        var history: [StoredEvent] = []
        var historyStart = 0
        var watchers: [Int: Watcher] = [:]
        var nextWatcherID = 0
    }

    private let state: Mutex<State>
    private let historyLimit: Int
    let log: WriteAheadLog?

    /// - Parameters:
    ///   - historyLimit: How many changes are retained for watches that resume from an older resourceVersion.
    ///   - log: The write-ahead log every change is appended to; `nil` keeps everything in memory only.
    ///   - initial: Objects recovered from disk, and the resourceVersion to continue from.
    init(
        historyLimit: Int = 20_000,
        log: WriteAheadLog? = nil,
        initial: (objects: [String: [ObjectKey: JSONValue]], resourceVersion: Int64) = ([:], 0)
    ) {
        var state = State()
        state.objects = initial.objects
        state.resourceVersion = initial.resourceVersion
        self.state = Mutex(state)
        self.historyLimit = historyLimit
        self.log = log
    }

    /// The current cluster-wide resourceVersion.
    var resourceVersion: Int64 { state.withLock { $0.resourceVersion } }

    func get(_ resource: String, _ key: ObjectKey) -> JSONValue? {
        state.withLock { $0.objects[resource]?[key] }
    }

    /// Objects of a resource (in one namespace, or all) sorted by namespace and name, starting after
    /// `after`, at most `limit` of those `include` accepts, with the resourceVersion the list is
    /// consistent with and whether more would follow.
    func list(
        _ resource: String,
        namespace: String?,
        after: ObjectKey? = nil,
        limit: Int? = nil,
        include: (JSONValue) -> Bool = { _ in true }
    ) -> (objects: [(ObjectKey, JSONValue)], resourceVersion: Int64, more: Bool) {
        let (keys, objects, resourceVersion) = state.withLock { state in
            let objects = state.objects[resource] ?? [:]
            if state.sortedKeys[resource] == nil { state.sortedKeys[resource] = objects.keys.sorted() }
            return (state.sortedKeys[resource]!, objects, state.resourceVersion)
        }
        // Binary search for the first key of the range: after `after`, inside `namespace`.
        var start = after ?? ObjectKey(namespace: namespace ?? "", name: "")
        if let namespace, start.namespace < namespace { start = ObjectKey(namespace: namespace, name: "") }
        var low = 0
        var high = keys.count
        while low < high {
            let middle = (low + high) / 2
            if keys[middle] < start || (after != nil && keys[middle] == start) { low = middle + 1 } else { high = middle }
        }
        var selected: [(ObjectKey, JSONValue)] = []
        var index = low
        while index < keys.count {
            let key = keys[index]
            if let namespace, key.namespace != namespace { break }
            index += 1
            guard let object = objects[key], include(object) else { continue }
            if let limit, selected.count == limit { return (selected, resourceVersion, true) }
            selected.append((key, object))
        }
        return (selected, resourceVersion, false)
    }

    /// Every resource key with at least one object, for garbage collection and namespace deletion.
    func allObjects() -> [(resource: String, key: ObjectKey, object: JSONValue)] {
        state.withLock { state in
            state.objects.flatMap { resource, objects in objects.map { (resource, $0.key, $0.value) } }
        }
    }

    /// Reads the object at `key`, lets `decide` choose what to do, and applies it atomically.
    ///
    /// - Throws: Whatever `decide` throws; nothing changes then.
    func mutate(_ resource: String, key: ObjectKey, _ decide: (JSONValue?) throws -> Decision) throws -> Outcome {
        try state.withLock { state in
            let current = state.objects[resource]?[key]
            switch try decide(current) {
            case .keep:
                return Outcome(object: current, event: nil, logTicket: nil)
            case .put(var object):
                state.resourceVersion += 1
                object[path: ["metadata"]]?["resourceVersion"] = .string(String(state.resourceVersion))
                if current == nil { state.sortedKeys[resource] = nil }
                state.objects[resource, default: [:]][key] = object
                let event = StoredEvent(
                    resourceVersion: state.resourceVersion,
                    kind: current == nil ? .added : .modified,
                    resource: resource,
                    key: key,
                    object: object,
                    previous: current
                )
                let ticket = record(event, in: &state)
                return Outcome(object: object, event: event, logTicket: ticket)
            case .delete:
                guard var object = current else { return Outcome(object: nil, event: nil, logTicket: nil) }
                state.resourceVersion += 1
                object[path: ["metadata"]]?["resourceVersion"] = .string(String(state.resourceVersion))
                state.objects[resource]?[key] = nil
                state.sortedKeys[resource] = nil
                if state.objects[resource]?.isEmpty == true { state.objects[resource] = nil }
                let event = StoredEvent(
                    resourceVersion: state.resourceVersion,
                    kind: .deleted,
                    resource: resource,
                    key: key,
                    object: object,
                    previous: current
                )
                let ticket = record(event, in: &state)
                return Outcome(object: object, event: event, logTicket: ticket)
            }
        }
    }

    private func record(_ event: StoredEvent, in state: inout State) -> WriteAheadLog.Ticket? {
        let ticket = log?.append(event)
        if state.history.count - state.historyStart >= historyLimit {
            state.historyStart += 1
            if state.historyStart > historyLimit {
                state.history.removeFirst(state.historyStart)
                state.historyStart = 0
            }
        }
        state.history.append(event)
        var overflowed: [Int] = []
        for (id, watcher) in state.watchers where watcher.resource == event.resource {
            if let namespace = watcher.namespace, namespace != event.key.namespace { continue }
            if case .dropped = watcher.continuation.yield(.event(event)) { overflowed.append(id) }
        }
        for id in overflowed {
            state.watchers.removeValue(forKey: id)?.continuation.finish()
        }
        return ticket
    }

    /// Starts a watch on a resource (in one namespace, or all). Later changes are yielded to
    /// `continuation` as they happen; a continuation whose buffer overflows is finished.
    ///
    /// - Parameter resourceVersion: Deliver changes after this version; `nil` first delivers every
    ///   current object as a synthetic ADDED event.
    /// - Throws: ``WatchError/expired(requested:oldest:)`` when the version is older than the history.
    func watch(
        _ resource: String,
        namespace: String?,
        from resourceVersion: Int64?,
        continuation: AsyncStream<WatchSignal>.Continuation
    ) throws -> Subscription {
        try state.withLock { state in
            var backlog: [StoredEvent] = []
            if let resourceVersion {
                let retained = state.history[state.historyStart...]
                let oldest = retained.first?.resourceVersion ?? (state.resourceVersion + 1)
                if resourceVersion < oldest - 1 && resourceVersion < state.resourceVersion {
                    throw WatchError.expired(requested: resourceVersion, oldest: oldest)
                }
                backlog = retained.filter {
                    $0.resourceVersion > resourceVersion && $0.resource == resource
                        && (namespace == nil || $0.key.namespace == namespace)
                }
            } else {
                let objects = (state.objects[resource] ?? [:]).filter { namespace == nil || $0.key.namespace == namespace }
                backlog = objects.sorted { $0.key < $1.key }.map {
                    StoredEvent(
                        resourceVersion: Int64($0.value[path: ["metadata", "resourceVersion"]]?.stringValue ?? "") ?? 0,
                        kind: .added,
                        resource: resource,
                        key: $0.key,
                        object: $0.value,
                        previous: nil
                    )
                }
            }
            let id = state.nextWatcherID
            state.nextWatcherID += 1
            state.watchers[id] = Watcher(resource: resource, namespace: namespace, continuation: continuation)
            return Subscription(id: id, backlog: backlog)
        }
    }

    /// Ends a watch and releases its buffer.
    func cancelWatch(_ id: Int) {
        let watcher = state.withLock { $0.watchers.removeValue(forKey: id) }
        watcher?.continuation.finish()
    }

    /// How many watches are open, for tests and metrics.
    var watcherCount: Int { state.withLock { $0.watchers.count } }

    /// Ends every watch, as when the server shuts down.
    func finishAllWatches() {
        let watchers = state.withLock { state in
            defer { state.watchers = [:] }
            return Array(state.watchers.values)
        }
        for watcher in watchers { watcher.continuation.finish() }
    }

    /// The objects and resourceVersion, for writing a snapshot.
    func snapshot() -> (objects: [String: [ObjectKey: JSONValue]], resourceVersion: Int64) {
        state.withLock { ($0.objects, $0.resourceVersion) }
    }
}
