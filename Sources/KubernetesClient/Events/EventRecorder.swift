import DequeModule
public import Foundation
import Kubernetes
public import Logging
public import ServiceLifecycle
import Synchronization

/// Writes core/v1 Events about objects, as `kubectl describe` shows them (client-go's `record.EventRecorder`).
///
/// ``record(_:reason:message:about:)`` never blocks: the event goes into a bounded buffer that ``run()``
/// drains (when the buffer is full the event is dropped and counted, as client-go drops). Repeats
/// of the same event — same object, type, reason and message — are aggregated into one Event by
/// bumping `count` and `lastTimestamp` with a merge PATCH, instead of creating a new one each time.
///
/// **Never put secret material in a message or reason** (tokens, keys, Secret values, credentials in
/// URLs): Events are readable by anyone who can read the namespace and are kept for an hour. Name
/// the Secret and the key instead. Messages longer than 1 KiB are truncated.
public final class EventRecorder: Service, Sendable {
    /// `Normal` (expected things) or `Warning` (something needs attention).
    public enum EventType: String, Sendable, Hashable {
        case normal = "Normal"
        case warning = "Warning"
    }

    public struct Configuration: Sendable, Hashable {
        /// `source.component` and `reportingComponent`, e.g. `portcullis-controller`.
        public var component: String
        /// `reportingInstance` and `source.host`, e.g. the pod name.
        public var instance: String
        /// Events buffered before ``EventRecorder/run()`` writes them; more are dropped. Default 1000.
        public var bufferSize: Int
        /// Distinct events remembered for aggregation. Default 4096.
        public var aggregationCacheSize: Int

        public init(component: String, instance: String, bufferSize: Int = 1000, aggregationCacheSize: Int = 4096) {
            self.component = component
            self.instance = instance
            self.bufferSize = bufferSize
            self.aggregationCacheSize = aggregationCacheSize
        }
    }

    struct Pending: Sendable {
        var type: EventType
        var reason: String
        var message: String
        var object: CoreV1.ObjectReference
        var time: Date
    }

    /// What makes two events the same one.
    struct AggregationKey: Hashable {
        var object: CoreV1.ObjectReference
        var type: EventType
        var reason: String
        var message: String
    }

    struct Aggregate {
        var name: String
        var namespace: String
        var count: Int32
    }

    public let configuration: Configuration
    private let events: ResourceClient<CoreV1.Event>
    private let logger: Logger
    private let buffer: (stream: AsyncStream<Pending>, continuation: AsyncStream<Pending>.Continuation)
    private let cache = Mutex<(entries: [AggregationKey: Aggregate], order: Deque<AggregationKey>)>(([:], []))
    private let droppedCount = Atomic<Int>(0)

    public init(client: KubernetesClient, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.events = client.resources(CoreV1.Event.self)
        self.logger = logger
        self.buffer = AsyncStream.makeStream(bufferingPolicy: .bufferingOldest(max(1, configuration.bufferSize)))
    }

    /// Events dropped because the buffer was full.
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// Queues an event about `object` for ``run()`` to write. Never blocks.
    ///
    /// - Parameters:
    ///   - reason: A short CamelCase reason, e.g. `Programmed`, `InvalidSpec`.
    ///   - message: A sentence for humans. No secret material (see the type's documentation).
    ///   - object: The object the event is about, e.g. `CoreV1.ObjectReference(route)`.
    public func record(_ type: EventType, reason: String, message: String, about object: CoreV1.ObjectReference) {
        let pending = Pending(type: type, reason: reason, message: message, object: object, time: Date())
        if case .dropped = buffer.continuation.yield(pending) {
            droppedCount.add(1, ordering: .relaxed)
        }
    }

    /// Writes queued events until cancelled or gracefully shut down (then the rest of the buffer is written).
    public func run() async throws {
        await withGracefulShutdownHandler {
            for await pending in self.buffer.stream {
                do {
                    _ = try await self.emit(
                        pending.type,
                        reason: pending.reason,
                        message: pending.message,
                        about: pending.object,
                        at: pending.time
                    )
                } catch {
                    self.logger.info(
                        "writing an event failed",
                        metadata: [
                            "event.reason": "\(pending.reason)",
                            "event.object": "\(pending.object.kind ?? "")/\(pending.object.name ?? "")",
                            "error": "\(error)",
                        ]
                    )
                }
            }
        } onGracefulShutdown: {
            self.buffer.continuation.finish()
        }
    }

    /// Writes an event now: creates it, or — for a repeat of one written before — bumps its `count`
    /// and `lastTimestamp` with a merge PATCH (and creates it anew if it has expired meanwhile).
    ///
    /// - Returns: The Event as stored.
    /// - Throws: ``KubernetesError`` when the API server refuses the write.
    @discardableResult
    public func emit(
        _ type: EventType,
        reason: String,
        message: String,
        about object: CoreV1.ObjectReference,
        at time: Date = Date()
    ) async throws -> CoreV1.Event {
        let message = Self.truncated(message)
        let key = AggregationKey(object: Self.identity(of: object), type: type, reason: reason, message: message)
        let timestamp = RFC3339.string(from: time)
        if let aggregate = cache.withLock({ $0.entries[key] }) {
            let count = aggregate.count + 1
            do {
                let patched = try await events.patch(
                    aggregate.name,
                    namespace: aggregate.namespace,
                    .merge(["count": .integer(Int64(count)), "lastTimestamp": .string(timestamp)])
                )
                remember(
                    key,
                    Aggregate(name: aggregate.name, namespace: aggregate.namespace, count: patched.count ?? count)
                )
                return patched
            } catch let error as KubernetesError where error.code == .notFound {
                // The Event expired (or was deleted): start a new one.
            }
        }
        let namespace = object.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        var attempt = 0
        while true {
            attempt += 1
            let event = CoreV1.Event(
                metadata: .init(name: Self.eventName(for: object, at: time, attempt: attempt), namespace: namespace),
                involvedObject: object,
                reason: reason,
                message: message,
                type: type.rawValue,
                source: .init(component: configuration.component, host: configuration.instance),
                firstTimestamp: timestamp,
                lastTimestamp: timestamp,
                count: 1,
                reportingComponent: configuration.component,
                reportingInstance: configuration.instance
            )
            do {
                let created = try await events.create(event, namespace: namespace)
                remember(
                    key,
                    Aggregate(name: created.metadata.name ?? "", namespace: namespace, count: created.count ?? 1)
                )
                return created
            } catch let error as KubernetesError where error.code == .alreadyExists && attempt < 3 {
                continue
            }
        }
    }

    /// `<object name>.<hex nanoseconds>` as client-go names events (plus a suffix when it collides).
    static func eventName(for object: CoreV1.ObjectReference, at time: Date, attempt: Int) -> String {
        let nanoseconds = UInt64(max(0, time.timeIntervalSince1970 * 1e9))
        let base = "\(object.name ?? "object").\(String(nanoseconds, radix: 16))"
        return attempt == 1 ? base : "\(base)\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
    }

    /// The reference without its resourceVersion, which changes with every write of the object.
    static func identity(of object: CoreV1.ObjectReference) -> CoreV1.ObjectReference {
        var identity = object
        identity.resourceVersion = nil
        return identity
    }

    static func truncated(_ message: String) -> String {
        guard message.utf8.count > 1024 else { return message }
        var result = ""
        for character in message {
            if result.utf8.count + character.utf8.count > 1021 { break }
            result.append(character)
        }
        return result + "..."
    }

    private func remember(_ key: AggregationKey, _ aggregate: Aggregate) {
        cache.withLock { cache in
            if cache.entries.updateValue(aggregate, forKey: key) == nil {
                cache.order.append(key)
                while cache.order.count > max(1, configuration.aggregationCacheSize),
                    let oldest = cache.order.popFirst()
                {
                    cache.entries[oldest] = nil
                }
            }
        }
    }
}
