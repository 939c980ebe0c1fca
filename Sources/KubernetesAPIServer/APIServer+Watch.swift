import Kubernetes
import NIOCore
import NIOHTTP1

extension APIServer {
    /// A watch: newline-delimited JSON events, flushed one by one, from a resourceVersion in the
    /// retained history (or a synthetic ADDED per current object), until `timeoutSeconds` or the
    /// client disconnects. Under a selector, objects entering the selection arrive as ADDED and
    /// objects leaving it as DELETED, as the real watch cache reports them.
    func watch(_ target: ResourceRequest, request: HTTPRequest) throws -> HTTPResponse {
        var filter = try Selection(target, query: request.query)
        if let name = target.name { filter.fields = try? FieldSelector(parsing: "metadata.name=\(name)") }
        let selection = filter
        let asTable = Self.wantsTable(request)
        let bookmarks = request.query["allowWatchBookmarks"] == "true"
        let sendInitialEvents = request.query["sendInitialEvents"] == "true"
        let timeout = request.query["timeoutSeconds"].flatMap(Int64.init).map { Duration.seconds($0) }

        let requested = request.query["resourceVersion"] ?? ""
        var from: Int64?
        if !requested.isEmpty && requested != "0" && !sendInitialEvents {
            guard let version = Int64(requested) else {
                throw APIError.badRequest("invalid resource version: \(requested)")
            }
            from = version
        }

        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")

        // A watcher that falls this far behind is cut off; it re-watches from its last resourceVersion.
        let (signals, signalSink) = AsyncStream<ObjectStore.WatchSignal>.makeStream(bufferingPolicy: .bufferingOldest(50_000))
        let subscription: ObjectStore.Subscription
        do {
            subscription = try store.watch(target.type.storageKey, namespace: target.namespace, from: from, continuation: signalSink)
        } catch ObjectStore.WatchError.expired(let requested, let oldest) {
            let status = APIError.expired("too old resource version: \(requested) (\(oldest - 1))").status
            return .stream(status: .ok, headers: headers) { write in
                try? await write(Self.line(["type": "ERROR", "object": status]))
            }
        }

        let type = target.type
        let store = self.store
        let bookmarkInterval = configuration.bookmarkInterval
        let tickInterval = min(bookmarkInterval, timeout ?? bookmarkInterval, .seconds(1))
        return .stream(status: .ok, headers: headers) { [self] write in
            let ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: tickInterval)
                    if case .terminated = signalSink.yield(.tick) { return }
                }
            }
            defer {
                ticker.cancel()
                store.cancelWatch(subscription.id)
            }
            var columnsSent = false
            func emit(_ kind: String, _ object: JSONValue) async -> Bool {
                let payload: JSONValue
                if asTable && kind != "BOOKMARK" && kind != "ERROR" {
                    payload = table(type, objects: [object], resourceVersion: nil, request: request, includeColumns: !columnsSent)
                    columnsSent = true
                } else {
                    payload = object
                }
                do {
                    try await write(Self.line(["type": .string(kind), "object": payload]))
                    return true
                } catch {
                    return false
                }
            }
            func deliver(_ event: StoredEvent) async -> Bool {
                let now = selection.matches(event.object)
                let before = event.previous.map(selection.matches) ?? false
                let object = Self.served(event.object, as: type)
                switch event.kind {
                case .added: return now ? await emit("ADDED", object) : true
                case .deleted: return before ? await emit("DELETED", object) : true
                case .modified:
                    if now && before { return await emit("MODIFIED", object) }
                    if now { return await emit("ADDED", object) }
                    if before { return await emit("DELETED", object) }
                    return true
                }
            }
            func bookmark(_ annotations: JSONValue? = nil) async -> Bool {
                var metadata: JSONValue = ["resourceVersion": .string(String(store.resourceVersion))]
                if let annotations { metadata["annotations"] = annotations }
                return await emit("BOOKMARK", ["kind": .string(type.kind), "apiVersion": .string(type.apiVersion), "metadata": metadata])
            }

            for event in subscription.backlog {
                guard await deliver(event) else { return }
            }
            if sendInitialEvents && bookmarks {
                guard await bookmark(["k8s.io/initial-events-end": "true"]) else { return }
            }
            let clock = ContinuousClock()
            let deadline = timeout.map { clock.now + $0 }
            var nextBookmark = clock.now + bookmarkInterval
            for await signal in signals {
                switch signal {
                case .event(let event):
                    guard await deliver(event) else { return }
                case .tick:
                    if let deadline, clock.now >= deadline {
                        if bookmarks { _ = await bookmark() }
                        return
                    }
                    if bookmarks && clock.now >= nextBookmark {
                        guard await bookmark() else { return }
                        nextBookmark = clock.now + bookmarkInterval
                    }
                }
                if Task.isCancelled { return }
            }
            // The stream ended: the client went away, the server is shutting down, or the client fell too far behind.
        }
    }

    static func line(_ event: JSONValue) -> ByteBuffer {
        var buffer = ByteBuffer(string: event.description)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }
}
