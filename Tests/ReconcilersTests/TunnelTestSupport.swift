import Foundation
import Kubernetes
import KubernetesAPIServer
import KubernetesClient
import Logging
import PortcullisAPI
import Reconcilers
import Synchronization
import Testing
import Tunnels

/// The Tunnel suites that start API servers, controllers and real interfaces run one test at a time, so
/// they do not starve the package's timing-sensitive tests on 2 cores.
@Suite(.serialized) enum TunnelIntegrationTests {}

/// The embedded API server on a loopback port (plain HTTP, no token) with the Portcullis CRDs, and a
/// client: what the Tunnel and UpstreamAuth end-to-end suites run against.
struct TestCluster {
    let client: KubernetesClient
    let server: Task<Void, any Error>

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func start() async throws -> TestCluster {
        let server = try EmbeddedAPIServer(configuration: .init(port: 0), logger: quiet)
        let (endpoints, continuation) = AsyncStream<EmbeddedAPIServer.Endpoint>.makeStream()
        let task = Task {
            defer { continuation.finish() }
            try await server.run { continuation.yield($0) }
        }
        var iterator = endpoints.makeAsyncIterator()
        guard let endpoint = await iterator.next() else {
            _ = try await task.value
            throw KubernetesError(code: .serverError, message: "the API server did not start")
        }
        let client = try KubernetesClient(configuration: .init(server: endpoint.url), logger: quiet)
        let crds = client.resources(.customResourceDefinitions, as: JSONValue.self)
        for type in PortcullisAPIGroup.resourceTypes {
            _ = try await crds.create(try JSONValue(encoding: type.customResourceDefinition))
        }
        return TestCluster(client: client, server: task)
    }

    func stop() async {
        try? await client.shutdown()
        server.cancel()
        _ = try? await server.value
    }

    /// Runs `body` with a fresh cluster, stopping it afterwards whatever happens.
    static func with(_ body: (TestCluster) async throws -> Void) async throws {
        let cluster = try await start()
        do {
            try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    /// Creates namespace `name` (the controller's own, for tests that run replicas in it).
    func createNamespace(_ name: String) async throws {
        _ = try await client.resources(.namespaces, as: JSONValue.self).create(
            ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]]
        )
    }

    /// Applies an object from YAML (server-side apply), in namespace `default` unless it names one.
    @discardableResult
    func apply(_ yaml: String) async throws -> JSONValue {
        let object = try JSONValue(yaml: yaml)
        let descriptor: ResourceDescriptor = object["kind"]?.stringValue == "Route" ? .routes : .tunnels
        return try await client.resources(descriptor, as: JSONValue.self).patch(
            object[path: ["metadata", "name"]]?.stringValue ?? "",
            namespace: object[path: ["metadata", "namespace"]]?.stringValue ?? "default",
            .apply(object, force: true),
            options: WriteOptions(fieldManager: "test")
        )
    }

    func tunnel(_ name: String, namespace: String = "default") async throws -> Tunnel? {
        do {
            return try await client.resources(Tunnel.self).get(name, namespace: namespace)
        } catch let error as KubernetesError where error.code == .notFound {
            return nil
        }
    }

    func secret(_ name: String, namespace: String = "default") async throws -> CoreV1.Secret? {
        do {
            return try await client.resources(CoreV1.Secret.self).get(name, namespace: namespace)
        } catch let error as KubernetesError where error.code == .notFound {
            return nil
        }
    }

    /// Runs a controller service in the background until `stop` is called on the result.
    func run(_ controller: TunnelController) -> Task<Void, any Error> {
        Task { try await controller.run() }
    }
}

extension Tunnel {
    func condition(_ type: String) -> Condition? { status?.conditions?.first { $0.type == type } }
}

extension CoreV1.Secret {
    func text(_ key: String) -> String? { data?[key].map { String(decoding: $0, as: UTF8.self) } }
}

/// Polls `condition` every 50 ms until it returns a value or `timeout` passes.
func eventually<Value>(
    _ what: String,
    timeout: Duration = .seconds(20),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Value?
) async throws -> Value {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await condition() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    if let value = try await condition() { return value }
    Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
    throw CancellationError()
}

/// An interface manager that remembers what it was asked and answers what the test says.
final class FakeInterfaces: WireGuardInterfaceManaging {
    struct State {
        var applied: [String: WireGuardInterfaceConfiguration] = [:]
        var removed: [String] = []
        var failure: WireGuardError?
        var removalFailure: WireGuardError?
        var handshake: Date?
    }

    let state = Mutex(State())

    func apply(_ configuration: WireGuardInterfaceConfiguration) async throws {
        try state.withLock { state in
            if let failure = state.failure { throw failure }
            state.applied[configuration.name] = configuration
        }
    }

    func state(of name: String) async throws -> WireGuardDeviceState? {
        state.withLock { state in
            guard let configuration = state.applied[name] else { return nil }
            return WireGuardDeviceState(
                privateKey: configuration.privateKey,
                listenPort: configuration.listenPort,
                peers: [
                    .init(
                        publicKey: configuration.peer.publicKey,
                        allowedIPs: configuration.peer.allowedIPs,
                        lastHandshake: state.handshake,
                        receivedBytes: state.handshake == nil ? 0 : 1716,
                        transmittedBytes: state.handshake == nil ? 0 : 748
                    )
                ]
            )
        }
    }

    func remove(_ name: String) async throws {
        try state.withLock { state in
            if let failure = state.removalFailure { throw failure }
            if state.applied.removeValue(forKey: name) != nil { state.removed.append(name) }
        }
    }

    var applied: [WireGuardInterfaceConfiguration] { state.withLock { Array($0.applied.values) } }
}

/// A log handler that keeps every message and its metadata at every level, to check what reaches logs.
struct RecordingLogHandler: LogHandler {
    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    let lines: Lines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.append("\(event.level) \(event.message) \(merged)")
    }

    /// A logger writing into `lines`.
    static func logger(into lines: Lines) -> Logger {
        Logger(label: "test.recording") { _ in RecordingLogHandler(lines: lines) }
    }
}
