import Foundation
import Kubernetes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization
import Testing

@testable import KubernetesAPIServer

/// Drives the API server's request handler in process, with the exact requests kubectl sends.
struct APIServerHarness {
    let server: APIServer
    let pool: NIOThreadPool

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: JSONValue

        var resourceVersion: String? { body[path: ["metadata", "resourceVersion"]]?.stringValue }
    }

    /// A fresh in-memory server, or one over `directory` (recovering what is stored there).
    init(stateDirectory directory: URL? = nil, historyLimit: Int = 20_000, bookmarkInterval: Duration = .seconds(60)) async throws {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        var configuration = APIServer.Configuration()
        configuration.historyLimit = historyLimit
        configuration.bookmarkInterval = bookmarkInterval
        let store: ObjectStore
        if let directory {
            let recovered = try WriteAheadLog.recover(from: directory)
            store = ObjectStore(historyLimit: historyLimit, log: recovered.log, initial: (recovered.objects, recovered.resourceVersion))
        } else {
            store = ObjectStore(historyLimit: historyLimit)
        }
        server = APIServer(configuration: configuration, store: store, blockingPool: pool, logger: Logger(label: "test"))
        try await server.bootstrap()
    }

    func shutdown() async throws {
        try await pool.shutdownGracefully()
    }

    @discardableResult
    func request(
        _ method: HTTPMethod,
        _ path: String,
        body: JSONValue? = nil,
        rawBody: [UInt8]? = nil,
        contentType: String = "application/json",
        accept: String = "application/json"
    ) async -> Response {
        var headers = HTTPHeaders()
        headers.add(name: "accept", value: accept)
        headers.add(name: "content-type", value: contentType)
        var buffer = ByteBuffer()
        if let rawBody { buffer.writeBytes(rawBody) } else if let body { buffer.writeString(body.description) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: path, headers: headers)
        let response = await server.handle(HTTPServer.request(from: head, body: buffer))
        guard case .full(let status, let responseHeaders, var responseBody) = response else {
            Issue.record("expected a complete response for \(method) \(path)")
            return Response(status: 0, headers: [:], body: .null)
        }
        let text = responseBody.readString(length: responseBody.readableBytes) ?? ""
        let json = (try? JSONValue(json: text)) ?? (text.isEmpty ? .null : .string(text))
        return Response(status: Int(status.code), headers: responseHeaders, body: json)
    }

    /// Opens a watch and returns its events as they arrive, and a way to stop it.
    func watch(_ path: String, accept: String = "application/json") async -> (events: AsyncStream<JSONValue>, stop: @Sendable () -> Void) {
        var headers = HTTPHeaders()
        headers.add(name: "accept", value: accept)
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        let response = await server.handle(HTTPServer.request(from: head, body: ByteBuffer()))
        let (events, continuation) = AsyncStream<JSONValue>.makeStream()
        guard case .stream(_, _, let produce) = response else {
            Issue.record("expected a watch stream for \(path)")
            continuation.finish()
            return (events, {})
        }
        let task = Task {
            await produce { chunk in
                var chunk = chunk
                let text = chunk.readString(length: chunk.readableBytes) ?? ""
                for line in text.split(separator: "\n") {
                    continuation.yield((try? JSONValue(json: String(line))) ?? .string(String(line)))
                }
            }
            continuation.finish()
        }
        return (events, { task.cancel() })
    }

    // MARK: - Fixtures

    static let crd: JSONValue = [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": ["name": "widgets.example.com"],
        "spec": [
            "group": "example.com", "scope": "Namespaced",
            "names": ["plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"], "categories": ["examples"]],
            "versions": [[
                "name": "v1", "served": true, "storage": true, "subresources": ["status": [:]],
                "additionalPrinterColumns": [
                    ["name": "Port", "type": "integer", "jsonPath": ".spec.port"],
                    ["name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"],
                    ["name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"],
                ],
                "schema": ["openAPIV3Schema": [
                    "type": "object",
                    "properties": [
                        "spec": [
                            "type": "object", "required": ["port"],
                            "properties": [
                                "port": ["type": "integer", "minimum": 1, "maximum": 65535],
                                "mode": ["type": "string", "enum": ["basic", "bearer"], "default": "basic"],
                                "host": ["type": "string"],
                            ],
                        ],
                        "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                    ],
                ]],
            ]],
        ],
    ]

    static func widget(_ name: String, port: Int64 = 8080, namespace: String = "default") -> JSONValue {
        ["apiVersion": "example.com/v1", "kind": "Widget", "metadata": ["name": .string(name), "namespace": .string(namespace)], "spec": ["port": .integer(port)]]
    }

    static let widgets = "/apis/example.com/v1/namespaces/default/widgets"

    /// A harness with the Widget CRD installed.
    static func withWidgets(stateDirectory: URL? = nil, historyLimit: Int = 20_000, bookmarkInterval: Duration = .seconds(60)) async throws -> APIServerHarness {
        let harness = try await APIServerHarness(stateDirectory: stateDirectory, historyLimit: historyLimit, bookmarkInterval: bookmarkInterval)
        let created = await harness.request(.POST, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: crd)
        #expect(created.status == 201, "\(created.body)")
        return harness
    }
}

/// A temporary directory removed when the value is dropped.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-test-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
