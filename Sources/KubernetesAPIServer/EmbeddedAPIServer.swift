public import Foundation
public import Logging
import Kubernetes
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A Kubernetes-compatible API server in this process: what `portcullis apiserver`, `portcullis dev`
/// and the end-to-end tests run, so the real kubectl and the same controller code work with no cluster.
///
/// It serves HTTPS with bearer-token authentication, keeps objects in memory, and with a state
/// directory makes every acknowledged write durable (see ``WriteAheadLog``).
public final class EmbeddedAPIServer: Sendable {
    public struct Configuration: Sendable {
        /// The address to listen on.
        public var host: String
        /// The port; 0 picks a free one (see ``Endpoint/port``).
        public var port: Int
        /// Where objects persist across restarts; `nil` keeps them in memory only.
        public var stateDirectory: URL?
        /// The bearer token every request but the health checks must carry; `nil` disables authentication.
        public var token: String?
        /// The serving certificate; `nil` serves plain HTTP (tests of the transport only).
        public var tls: TLSIdentity?
        /// The Kubernetes version reported at /version (kubectl's dispatcher picks its binary by minor).
        public var gitVersion: String
        /// How often watches that allow bookmarks receive one.
        public var bookmarkInterval: Duration
        /// How many changes are kept for watches that resume from an older resourceVersion.
        public var historyLimit: Int

        public init(
            host: String = "127.0.0.1",
            port: Int = 6443,
            stateDirectory: URL? = nil,
            token: String? = nil,
            tls: TLSIdentity? = nil,
            gitVersion: String = "v1.32.0",
            bookmarkInterval: Duration = .seconds(60),
            historyLimit: Int = 20_000
        ) {
            self.host = host
            self.port = port
            self.stateDirectory = stateDirectory
            self.token = token
            self.tls = tls
            self.gitVersion = gitVersion
            self.bookmarkInterval = bookmarkInterval
            self.historyLimit = historyLimit
        }
    }

    /// A serving certificate chain and its private key, in PEM.
    public struct TLSIdentity: Sendable {
        public var certificateChainPEM: String
        public var privateKeyPEM: String

        public init(certificateChainPEM: String, privateKeyPEM: String) {
            self.certificateChainPEM = certificateChainPEM
            self.privateKeyPEM = privateKeyPEM
        }
    }

    /// Where the server listens once bound.
    public struct Endpoint: Sendable {
        public var host: String
        public var port: Int
        public var usesTLS: Bool

        /// `https://127.0.0.1:6443`, the URL a kubeconfig names.
        public var url: String {
            let bracketed = host.contains(":") ? "[\(host)]" : host
            return "\(usesTLS ? "https" : "http")://\(bracketed):\(port)"
        }
    }

    let configuration: Configuration
    let logger: Logger
    let core: APIServer
    let blockingPool: NIOThreadPool

    /// Recovers stored objects (with a state directory) and prepares the server; nothing listens yet.
    ///
    /// - Throws: When the state directory cannot be read or written.
    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        self.blockingPool = pool
        let store: ObjectStore
        if let directory = configuration.stateDirectory {
            let recovered = try WriteAheadLog.recover(from: directory.appendingPathComponent("objects"))
            store = ObjectStore(
                historyLimit: configuration.historyLimit,
                log: recovered.log,
                initial: (recovered.objects, recovered.resourceVersion)
            )
            logger.info(
                "recovered stored objects",
                metadata: ["apiserver.objects": "\(recovered.objects.values.reduce(0) { $0 + $1.count })", "apiserver.resourceVersion": "\(recovered.resourceVersion)"]
            )
        } else {
            store = ObjectStore(historyLimit: configuration.historyLimit)
        }
        var coreConfiguration = APIServer.Configuration()
        coreConfiguration.gitVersion = configuration.gitVersion
        coreConfiguration.bookmarkInterval = configuration.bookmarkInterval
        coreConfiguration.historyLimit = configuration.historyLimit
        coreConfiguration.serverAddress = "\(configuration.host):\(configuration.port)"
        self.core = APIServer(configuration: coreConfiguration, store: store, blockingPool: pool, logger: logger)
    }

    deinit {
        blockingPool.shutdownGracefully { _ in }
    }

    /// Serves until the task is cancelled, calling `onListening` once the socket is bound.
    public func run(onListening: @escaping @Sendable (Endpoint) async throws -> Void = { _ in }) async throws {
        try await core.bootstrap()
        let tlsContext = try configuration.tls.map { identity in
            var tls = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(identity.certificateChainPEM.utf8)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
            )
            tls.applicationProtocols = ["http/1.1"]
            tls.minimumTLSVersion = .tlsv12
            return try NIOSSLContext(configuration: tls)
        }
        let core = self.core
        let token = configuration.token.map(BearerToken.init)
        let server = HTTPServer(
            host: configuration.host,
            port: configuration.port,
            tlsContext: tlsContext,
            group: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        ) { request in
            if let token, !EmbeddedAPIServer.isPublic(request.path), !token.accepts(request.headers.first(name: "authorization")) {
                return HTTPServer.statusResponse(.unauthorized)
            }
            return await core.handle(request)
        }
        let listener = try await server.bind()
        let port = listener.channel.localAddress?.port ?? configuration.port
        let endpoint = Endpoint(host: configuration.host, port: port, usesTLS: tlsContext != nil)
        logger.info("API server listening", metadata: ["apiserver.url": "\(endpoint.url)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve(listener) }
            group.addTask { await core.garbageCollector.run { await core.collectGarbage() } }
            group.addTask { try await onListening(endpoint) }
            do {
                while let _ = try await group.next() {}
            } catch {
                group.cancelAll()
                throw error
            }
        }
    }

    /// Paths answered without a token, as kube-apiserver lets anonymous clients read them.
    static func isPublic(_ path: String) -> Bool {
        ["/healthz", "/readyz", "/livez", "/version"].contains(path)
    }

    /// A kubeconfig for this server, as `portcullis apiserver` writes it.
    public static func kubeconfig(server: String, certificateAuthorityPEM: String?, token: String?, name: String = "portcullis") -> String {
        var cluster: JSONValue = ["server": .string(server)]
        if let certificateAuthorityPEM {
            cluster["certificate-authority-data"] = .string(Data(certificateAuthorityPEM.utf8).base64EncodedString())
        }
        let user: JSONValue = token.map { ["token": .string($0)] } ?? [:]
        let config: JSONValue = [
            "apiVersion": "v1", "kind": "Config", "current-context": .string(name),
            "clusters": [["name": .string(name), "cluster": cluster]],
            "users": [["name": .string(name), "user": user]],
            "contexts": [["name": .string(name), "context": ["cluster": .string(name), "user": .string(name), "namespace": "default"]]],
            "preferences": [:],
        ]
        return config.yamlString()
    }
}
