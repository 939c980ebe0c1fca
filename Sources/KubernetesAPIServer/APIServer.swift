import Foundation
import Kubernetes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The request-handling core of the embedded API server: routing, the resource verbs, discovery
/// and OpenAPI, over an ``ObjectStore``. Transport (HTTPS, authentication) is ``EmbeddedAPIServer``'s.
final class APIServer: Sendable {
    struct Configuration: Sendable {
        /// The version reported at /version; kubectl's dispatcher picks its binary from the minor.
        var gitVersion = "v1.32.0"
        /// How often a watch that allows bookmarks gets one.
        var bookmarkInterval: Duration = .seconds(60)
        /// Changes retained for watches resuming from an older resourceVersion.
        var historyLimit = 20_000
        /// The address reported in legacy discovery.
        var serverAddress = "127.0.0.1:6443"
    }

    let configuration: Configuration
    let store: ObjectStore
    let registry: Mutex<ResourceRegistry>
    let logger: Logger
    /// Runs fsync off the event loops and the cooperative pool.
    let blockingPool: NIOThreadPool
    let garbageCollector = GarbageCollector()

    init(configuration: Configuration, store: ObjectStore, blockingPool: NIOThreadPool, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.blockingPool = blockingPool
        self.logger = logger
        var registry = ResourceRegistry()
        let crdType = ResourceType.builtins.first { $0.kind == "CustomResourceDefinition" }!
        for (_, object) in store.list(crdType.storageKey, namespace: nil).objects {
            if let crd = try? object.decode(as: CustomResourceDefinition.self), let name = crd.metadata.name {
                registry.update(crdNamed: name, crd)
            }
        }
        self.registry = Mutex(registry)
    }

    /// Creates the namespaces every cluster has, unless they exist.
    func bootstrap() async throws {
        let namespaces = ResourceType.builtins.first { $0.plural == "namespaces" }!
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] where store.get(namespaces.storageKey, ObjectKey(namespace: "", name: name)) == nil {
            let object: JSONValue = ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
            _ = try await create(namespaces, namespace: nil, body: object, options: WriteOptions())
        }
    }

    // MARK: - Routing

    /// A request resolved to a resource.
    struct ResourceRequest: Sendable {
        var type: ResourceType
        var namespace: String?
        var name: String?
        var subresource: String?
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        do {
            return try await route(request)
        } catch let error as APIError {
            return HTTPServer.statusResponse(error)
        } catch {
            logger.error("request failed", metadata: ["apiserver.path": "\(request.path)", "apiserver.error": "\(error)"])
            return HTTPServer.statusResponse(.internalError("\(error)"))
        }
    }

    private func route(_ request: HTTPRequest) async throws -> HTTPResponse {
        let segments = request.path.split(separator: "/", omittingEmptySubsequences: true).map { HTTPServer.percentDecode($0) }
        switch segments.first {
        case "healthz", "readyz", "livez":
            return Self.text("ok")
        case "version":
            return try json(versionInfo)
        case "openapi":
            return try openAPI(Array(segments.dropFirst()), request: request)
        case "api":
            if segments.count == 1 { return try json(discoveryCore(request)) }
            guard segments[1] == "v1" else { throw APIError.unknownPath }
            if segments.count == 2 { return try json(resourceList(group: "", version: "v1")) }
            return try await resource(request, group: "", version: "v1", rest: Array(segments.dropFirst(2)))
        case "apis":
            if segments.count == 1 { return try json(discoveryGroups(request)) }
            if segments.count == 2 { return try json(discoveryGroup(segments[1])) }
            if segments.count == 3 { return try json(resourceList(group: segments[1], version: segments[2])) }
            return try await resource(request, group: segments[1], version: segments[2], rest: Array(segments.dropFirst(3)))
        default:
            throw APIError.unknownPath
        }
    }

    private func resource(_ request: HTTPRequest, group: String, version: String, rest: [String]) async throws -> HTTPResponse {
        let registry = self.registry.withLock { $0 }
        guard !registry.versions(of: group).isEmpty, registry.versions(of: group).contains(version) else { throw APIError.unknownPath }
        var namespace: String?
        var remainder = rest[...]
        // namespaces/{ns}/{plural}/..., except the namespace object's own subresources.
        if rest.count >= 3, rest[0] == "namespaces", !(rest.count == 3 && ["status", "finalize"].contains(rest[2])) {
            namespace = rest[1]
            remainder = rest[2...]
        }
        guard let plural = remainder.first, let type = registry.lookup(group: group, version: version, plural: plural) else {
            throw APIError.unknownPath
        }
        if namespace != nil && !type.namespaced { throw APIError.unknownPath }
        let name = remainder.dropFirst().first
        let subresource = remainder.dropFirst(2).first
        guard remainder.count <= 3 else { throw APIError.unknownPath }
        if let subresource, !(subresource == "status" && type.hasStatusSubresource) { throw APIError.unknownPath }
        let target = ResourceRequest(type: type, namespace: namespace, name: name, subresource: subresource)
        let options = try WriteOptions(query: request.query)

        switch (request.method, name) {
        case (.GET, nil):
            if request.query["watch"] == "true" || request.query["watch"] == "1" {
                return try watch(target, request: request)
            }
            return try list(target, request: request)
        case (.GET, .some(let name)):
            return try get(target, name: name, request: request)
        case (.POST, nil):
            let body = try decodeBody(request, type: type)
            let (object, warnings) = try await create(type, namespace: namespace, body: body, options: options)
            return try json(object, status: .created, warnings: warnings)
        case (.PUT, .some(let name)):
            let body = try decodeBody(request, type: type)
            let (object, warnings) = try await update(target, name: name, body: body, options: options)
            return try json(object, warnings: warnings)
        case (.PATCH, .some(let name)):
            let (object, created, warnings) = try await patch(target, name: name, request: request, options: options)
            return try json(object, status: created ? .created : .ok, warnings: warnings)
        case (.DELETE, .some(let name)):
            let body = request.body.readableBytes > 0 ? try decodeBody(request, type: nil) : nil
            return try json(try await delete(target, name: name, body: body, options: options))
        case (.DELETE, nil):
            return try json(try await deleteCollection(target, request: request, options: options))
        default:
            throw APIError.methodNotAllowed(request.method.rawValue)
        }
    }

    // MARK: - Bodies and responses

    /// Decodes a JSON, YAML or Kubernetes protobuf request body.
    func decodeBody(_ request: HTTPRequest, type: ResourceType?) throws -> JSONValue {
        let contentType = request.headers.first(name: "content-type")?.lowercased() ?? "application/json"
        var body = request.body
        let bytes = body.readBytes(length: body.readableBytes) ?? []
        if contentType.hasPrefix("application/vnd.kubernetes.protobuf") {
            do {
                return try KubernetesProtobuf.decode(bytes)
            } catch {
                throw APIError(code: error.httpStatusCode, reason: error.httpStatusCode == 415 ? "UnsupportedMediaType" : "BadRequest", message: error.message)
            }
        }
        let text = String(decoding: bytes, as: UTF8.self)
        do {
            if contentType.contains("yaml") { return try JSONValue(yaml: text) }
            return try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
        } catch {
            let kind = type.map { "\($0.kind) in version \"\($0.version)\" cannot be handled as a \($0.kind): " } ?? ""
            throw APIError.badRequest("\(kind)the body of the request could not be decoded: \(Self.describe(error))")
        }
    }

    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            return context.underlyingError.map { "\($0)" } ?? context.debugDescription
        }
        return "\(error)"
    }

    func json(_ value: JSONValue, status: HTTPResponseStatus = .ok, warnings: [String] = []) throws -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        for warning in warnings {
            headers.add(name: "warning", value: "299 - \"\(warning.replacingOccurrences(of: "\"", with: "\\\""))\"")
        }
        return .full(status: status, headers: headers, body: ByteBuffer(string: value.description))
    }

    static func text(_ text: String) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        return .full(status: .ok, headers: headers, body: ByteBuffer(string: text))
    }

    var versionInfo: JSONValue {
        let parts = configuration.gitVersion.dropFirst().split(separator: ".")
        return [
            "major": .string(String(parts.first ?? "1")), "minor": .string(String(parts.dropFirst().first ?? "32")),
            "gitVersion": .string(configuration.gitVersion), "gitCommit": "portcullis", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64",
        ]
    }

    /// Waits until the write-ahead log holds `ticket` durably, off the event loops.
    func commit(_ ticket: WriteAheadLog.Ticket?) async throws {
        guard let ticket, let log = store.log else { return }
        do {
            try await blockingPool.runIfActive { try log.sync(upTo: ticket) }
        } catch {
            throw APIError.internalError("the change could not be stored durably: \(error)")
        }
    }
}
