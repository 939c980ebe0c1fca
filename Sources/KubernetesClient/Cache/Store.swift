import Kubernetes
import Synchronization

/// A thread-safe cache of objects keyed by ``ObjectKey``, with named indexes (client-go's `Indexer`).
///
/// The ``Informer`` that owns a store keeps it in step with the server; everyone else reads it.
/// Reads take a short lock and return values (copies), so a reader never sees a half-applied change.
///
/// Indexes map an index value to the keys whose objects produce it. ``namespaceIndex`` is built in;
/// add others with ``addIndex(_:_:)``, e.g. the UpstreamAuths a Route references, so a change to an
/// UpstreamAuth finds the Routes to re-queue:
///
/// ```swift
/// routes.store.addIndex("upstreamAuth") { route in
///     (route.spec.authRefs ?? []).map { "\(route.metadata.namespace ?? "")/\($0.name)" }
/// }
/// let affected = routes.store.keys(byIndex: "upstreamAuth", value: "shop/ledger")
/// ```
public final class Store<Object: KubernetesObject>: Sendable {
    /// The values an object is indexed under for one index.
    public typealias IndexFunction = @Sendable (Object) -> [String]

    /// The built-in index of objects by namespace.
    public static var namespaceIndex: String { "namespace" }

    struct State {
        var items: [ObjectKey: Object] = [:]
        /// `items`' keys in order, kept until the set of keys changes (updates leave it valid), so that
        /// listing a large cache costs a lookup per object rather than a sort of the objects.
        var sortedKeys: [ObjectKey]?
        var indexFunctions: [String: IndexFunction] = [:]
        /// index name → index value → keys.
        var indices: [String: [String: Set<ObjectKey>]] = [:]
    }

    private let state: Mutex<State>

    public init() {
        var state = State()
        state.indexFunctions[Self.namespaceIndex] = { [$0.metadata.namespace ?? ""] }
        state.indices[Self.namespaceIndex] = [:]
        self.state = Mutex(state)
    }

    /// Adds a named index and indexes the objects already cached (an existing index of that name is replaced).
    public func addIndex(_ name: String, _ function: @escaping IndexFunction) {
        state.withLock { state in
            state.indexFunctions[name] = function
            var index: [String: Set<ObjectKey>] = [:]
            for (key, object) in state.items {
                for value in function(object) { index[value, default: []].insert(key) }
            }
            state.indices[name] = index
        }
    }

    public func get(_ key: ObjectKey) -> Object? {
        state.withLock { $0.items[key] }
    }

    public func get(namespace: String, name: String) -> Object? {
        get(ObjectKey(namespace: namespace, name: name))
    }

    /// Every cached object, in key order.
    public func list() -> [Object] {
        state.withLock { state in
            Self.sortedKeys(&state).compactMap { state.items[$0] }
        }
    }

    /// The cached objects of one namespace, in key order.
    public func list(namespace: String) -> [Object] {
        objects(byIndex: Self.namespaceIndex, value: namespace)
    }

    /// Every cached key, sorted.
    public var keys: [ObjectKey] { state.withLock { Self.sortedKeys(&$0) } }

    public var count: Int { state.withLock { $0.items.count } }

    /// The keys of the objects indexed under `value` in index `name`, sorted; empty for an unknown index.
    public func keys(byIndex name: String, value: String) -> [ObjectKey] {
        state.withLock { $0.indices[name]?[value].map { $0.sorted() } ?? [] }
    }

    /// The objects indexed under `value` in index `name`, in key order.
    public func objects(byIndex name: String, value: String) -> [Object] {
        state.withLock { state in
            (state.indices[name]?[value] ?? []).sorted().compactMap { state.items[$0] }
        }
    }

    /// The values present in index `name`.
    public func indexValues(_ name: String) -> [String] {
        state.withLock { ($0.indices[name] ?? [:]).filter { !$0.value.isEmpty }.keys.sorted() }
    }

    // MARK: Mutations (by the informer)

    /// Inserts or replaces an object; returns the previous one.
    @discardableResult
    func upsert(_ object: Object) -> Object? {
        let key = object.objectKey
        return state.withLock { state in
            let old = state.items.updateValue(object, forKey: key)
            if let old { Self.unindex(old, key: key, in: &state) } else { state.sortedKeys = nil }
            Self.index(object, key: key, in: &state)
            return old
        }
    }

    /// Removes an object; returns it.
    @discardableResult
    func remove(_ key: ObjectKey) -> Object? {
        state.withLock { state in
            guard let old = state.items.removeValue(forKey: key) else { return nil }
            state.sortedKeys = nil
            Self.unindex(old, key: key, in: &state)
            return old
        }
    }

    /// What a relist changed.
    struct Replacement {
        var added: [Object] = []
        var updated: [(old: Object, new: Object)] = []
        var removed: [Object] = []
    }

    /// Replaces the whole content with a fresh list; returns what was added, changed (by
    /// resourceVersion) and removed, so handlers hear about deletes missed while disconnected.
    func replace(with objects: [Object]) -> Replacement {
        state.withLock { state in
            var replacement = Replacement()
            var fresh: [ObjectKey: Object] = [:]
            fresh.reserveCapacity(objects.count)
            for object in objects { fresh[object.objectKey] = object }
            for (key, old) in state.items where fresh[key] == nil {
                replacement.removed.append(old)
            }
            for (key, object) in fresh {
                if let old = state.items[key] {
                    if old.metadata.resourceVersion != object.metadata.resourceVersion {
                        replacement.updated.append((old, object))
                    }
                } else {
                    replacement.added.append(object)
                }
            }
            state.items = fresh
            state.sortedKeys = nil
            for name in state.indices.keys { state.indices[name] = [:] }
            for (key, object) in fresh { Self.index(object, key: key, in: &state) }
            replacement.added.sort { $0.objectKey < $1.objectKey }
            replacement.updated.sort { $0.new.objectKey < $1.new.objectKey }
            replacement.removed.sort { $0.objectKey < $1.objectKey }
            return replacement
        }
    }

    private static func sortedKeys(_ state: inout State) -> [ObjectKey] {
        if let keys = state.sortedKeys { return keys }
        let keys = state.items.keys.sorted()
        state.sortedKeys = keys
        return keys
    }

    private static func index(_ object: Object, key: ObjectKey, in state: inout State) {
        for (name, function) in state.indexFunctions {
            for value in function(object) { state.indices[name, default: [:]][value, default: []].insert(key) }
        }
    }

    private static func unindex(_ object: Object, key: ObjectKey, in state: inout State) {
        for (name, function) in state.indexFunctions {
            for value in function(object) {
                state.indices[name]?[value]?.remove(key)
                if state.indices[name]?[value]?.isEmpty == true { state.indices[name]?[value] = nil }
            }
        }
    }
}
