import Foundation
import Kubernetes
import KubernetesAPIServer
import KubernetesClient
import Logging
import PKI
import PortcullisAPI
import Synchronization
import Testing

/// A temporary directory removed on deinit.
final class TemporaryDirectory: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "portcullis-client-test-\(UUID().uuidString)"
        )
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    var path: String { url.path }

    func file(_ name: String) -> String { url.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String, executable: Bool = false) throws -> String {
        let path = file(name)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if executable { try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path) }
        return path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// The embedded API server over HTTPS with a bearer token on a real loopback socket, which can be
/// stopped and started again on the same port and state directory.
final class TestAPIServer: Sendable {
    let directory = TemporaryDirectory()
    let token = UUID().uuidString
    let certificateAuthorityPEM: String
    let serving: (certificatePEM: String, privateKeyPEM: String)
    let historyLimit: Int
    let bookmarkInterval: Duration
    let stateful: Bool
    private let running = Mutex<(task: Task<Void, any Error>, endpoint: EmbeddedAPIServer.Endpoint)?>(nil)
    private let lastPort = Mutex<Int>(0)

    /// Starts a server on a free port.
    init(stateful: Bool = false, historyLimit: Int = 20_000, bookmarkInterval: Duration = .seconds(60)) async throws {
        let authority = try CertificateAuthority.generate(commonName: "client test CA", now: Date())
        let issued = try authority.issue(.loopbackServer(), now: Date())
        certificateAuthorityPEM = try authority.certificatePEM
        serving = (issued.certificatePEM, issued.privateKeyPEM)
        self.historyLimit = historyLimit
        self.bookmarkInterval = bookmarkInterval
        self.stateful = stateful
        try await start(port: 0)
    }

    deinit {
        running.withLock { $0?.task.cancel() }
    }

    var stateDirectory: URL { directory.url.appendingPathComponent("state") }

    /// The port of the running (or last running) server.
    var port: Int { lastPort.withLock { $0 } }

    var url: String { "https://127.0.0.1:\(port)" }

    /// Starts the server (again) on `port` (0 = a free one; default the previous port).
    func start(port: Int? = nil) async throws {
        let endpoint = try await Self.launch(
            port: port ?? self.port,
            stateDirectory: stateful ? stateDirectory : nil,
            historyLimit: historyLimit,
            bookmarkInterval: bookmarkInterval,
            token: token,
            serving: serving,
            into: running
        )
        lastPort.withLock { $0 = endpoint.port }
    }

    /// Starts a second server process-wide on another port over the same state directory (the first must be stopped).
    static func launch(
        port: Int,
        stateDirectory: URL?,
        historyLimit: Int,
        bookmarkInterval: Duration,
        token: String,
        serving: (certificatePEM: String, privateKeyPEM: String),
        into running: borrowing Mutex<(task: Task<Void, any Error>, endpoint: EmbeddedAPIServer.Endpoint)?>
    ) async throws -> EmbeddedAPIServer.Endpoint {
        let server = try EmbeddedAPIServer(
            configuration: .init(
                port: port,
                stateDirectory: stateDirectory,
                token: token,
                tls: .init(certificateChainPEM: serving.certificatePEM, privateKeyPEM: serving.privateKeyPEM),
                bookmarkInterval: bookmarkInterval,
                historyLimit: historyLimit
            ),
            logger: Logger(label: "test.apiserver", factory: { _ in SwiftLogNoOpLogHandler() })
        )
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
        running.withLock { $0 = (task, endpoint) }
        return endpoint
    }

    /// Stops the server and waits until it has closed its socket and connections.
    func stop() async {
        guard
            let task = running.withLock({ running -> Task<Void, any Error>? in
                defer { running = nil }
                return running?.task
            })
        else { return }
        task.cancel()
        _ = try? await task.value
    }

    /// Runs a server on another free port over the same state directory while this one is stopped,
    /// lets `body` write through a client of it, then stops it.
    func withDetachedInstance(_ body: (KubernetesClient) async throws -> Void) async throws {
        let other = Mutex<(task: Task<Void, any Error>, endpoint: EmbeddedAPIServer.Endpoint)?>(nil)
        let endpoint = try await Self.launch(
            port: 0,
            stateDirectory: stateful ? stateDirectory : nil,
            historyLimit: historyLimit,
            bookmarkInterval: bookmarkInterval,
            token: token,
            serving: serving,
            into: other
        )
        let client = try makeClient(server: endpoint.url)
        do {
            try await body(client)
        } catch {
            try? await client.shutdown()
            await Self.stop(other)
            throw error
        }
        try await client.shutdown()
        await Self.stop(other)
    }

    private static func stop(
        _ running: borrowing Mutex<(task: Task<Void, any Error>, endpoint: EmbeddedAPIServer.Endpoint)?>
    ) async {
        guard let task = running.withLock({ $0?.task }) else { return }
        task.cancel()
        _ = try? await task.value
    }

    /// The kubeconfig `portcullis apiserver` writes for this server.
    func kubeconfig(server: String? = nil) -> String {
        EmbeddedAPIServer.kubeconfig(
            server: server ?? url,
            certificateAuthorityPEM: certificateAuthorityPEM,
            token: token
        )
    }

    /// A client configured through the kubeconfig (so every test also exercises kubeconfig loading).
    func makeClient(server: String? = nil, logger: Logger = Logger(label: "test.client")) throws -> KubernetesClient {
        let configuration = try Kubeconfig(yaml: kubeconfig(server: server), source: directory.file("kubeconfig"))
            .configuration()
        return try KubernetesClient(configuration: configuration, logger: logger)
    }

    /// Installs the Portcullis CRDs.
    func installCRDs(with client: KubernetesClient) async throws {
        let crds = client.resources(.customResourceDefinitions, as: JSONValue.self)
        for type in PortcullisAPIGroup.resourceTypes {
            _ = try await crds.create(try JSONValue(encoding: type.customResourceDefinition))
        }
    }
}

/// Runs `body` with a fresh server and a client of it, shutting both down afterwards.
func withServer(
    stateful: Bool = false,
    historyLimit: Int = 20_000,
    bookmarkInterval: Duration = .seconds(60),
    crds: Bool = false,
    _ body: (TestAPIServer, KubernetesClient) async throws -> Void
) async throws {
    let server = try await TestAPIServer(
        stateful: stateful,
        historyLimit: historyLimit,
        bookmarkInterval: bookmarkInterval
    )
    let client = try server.makeClient()
    do {
        if crds { try await server.installCRDs(with: client) }
        try await body(server, client)
    } catch {
        try? await client.shutdown()
        await server.stop()
        throw error
    }
    try await client.shutdown()
    await server.stop()
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
func eventually(
    _ what: @autoclosure () -> String = "condition",
    timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async rethrows {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if try await condition() { return }
        try? await Task.sleep(for: .milliseconds(20))
    }
    let last = try await condition()
    #expect(last, "timed out after \(timeout) waiting for \(what())", sourceLocation: sourceLocation)
}

/// Collects values from `@Sendable` callbacks.
final class Recorder<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])

    func append(_ value: Value) { values.withLock { $0.append(value) } }

    var all: [Value] { values.withLock { $0 } }

    var count: Int { values.withLock { $0.count } }
}

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

extension CoreV1.ConfigMap {
    static func named(
        _ name: String,
        namespace: String = "default",
        data: [String: String] = [:],
        labels: [String: String]? = nil
    ) -> Self {
        CoreV1.ConfigMap(metadata: .init(name: name, namespace: namespace, labels: labels), data: data)
    }
}

/// The suites that start API servers, processes and timers, one test at a time: on a 2-core machine
/// they would otherwise crowd out the rest of the package's timing-sensitive tests.
@Suite(.serialized) enum IntegrationTests {}
