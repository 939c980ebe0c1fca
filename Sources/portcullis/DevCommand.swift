import ArgumentParser
import AsyncHTTPClient
import Foundation
import Gateway
import Kubernetes
import KubernetesAPIServer
import KubernetesClient
import Logging
import NIOCore
import PortcullisAPI
import Reconcilers
import ServiceLifecycle
import Tunnels
import UnixSignals
import UpstreamCredentials

/// `portcullis dev`: everything on one machine, with an embedded API server.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run an embedded API server, the controller and the gateway on this machine, so kubectl works with no cluster.",
        discussion: """
            Installs the CRDs, applies the given manifests (examples/quickstart by default) and prints the \
            kubeconfig path, the gateway URL and a first kubectl and curl command to try. Ctrl-C stops it.
            """
    )

    @Option(help: "Where the API server keeps its state and writes kubeconfig and endpoints.json.")
    var stateDir: String = ".portcullis"

    @Option(help: "The API server's port; 0 picks a free one.")
    var apiPort: Int = 6443

    @Option(help: "The gateway's port; 0 picks a free one.")
    var gatewayPort: Int = 8080

    @Option(help: "The admin port (/healthz, /readyz, /debug/config, /debug/breakers, /metrics); 0 picks a free one.")
    var adminPort: Int = 9090

    @Flag(help: "Serve the admin port's /debug/config and /debug/breakers to clients off this host too; without it only loopback clients (kubectl port-forward) get them.")
    var exposeDebug = false

    @Option(name: .customLong("apply"), help: "A manifest file or folder to apply at start; repeatable. Default: examples/quickstart.")
    var manifests: [String] = []

    @Flag(help: "Also start a demo upstream on 127.0.0.1:8090 that answers with what it received.")
    var demo = false

    @OptionGroup(title: "Tenancy (docs/security.md); dev also allows loopback upstreams and token endpoints")
    var tenancy: TenancyOptions

    func run() async throws {
        LoggingSystem.bootstrapPortcullis()
        let renderMetrics = ProcessMetrics.bootstrap()
        let logger = Logger(label: "portcullis.dev")
        let state = try LocalState(directory: URL(fileURLWithPath: stateDir))
        let apiServer = try state.makeAPIServer(host: "127.0.0.1", port: apiPort, logger: logger)
        let (endpoints, endpointSink) = AsyncStream<EmbeddedAPIServer.Endpoint>.makeStream()
        let gatewayState = GatewayState()

        let apiService = TaskService { try await apiServer.run { endpointSink.yield($0) } }
        let setup = TaskService {
            var iterator = endpoints.makeAsyncIterator()
            guard let endpoint = await iterator.next() else { return }
            let kubeconfig = try state.writeKubeconfig(for: endpoint)
            let client = try KubernetesClient(
                configuration: Kubeconfig.load(path: kubeconfig.path).configuration(),
                logger: logger
            )
            // The clients are shut down on every way out: one left running stops the process.
            try await Self.running({
                try await Self.installCRDs(client)
                _ = try await client.resources(.namespaces, as: JSONValue.self).patch(
                    Self.systemNamespace, .apply(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(Self.systemNamespace)]], force: true),
                    options: WriteOptions(fieldManager: "portcullis-dev")
                )
                for file in try Self.manifestFiles(manifests.isEmpty ? ["examples/quickstart"] : manifests) {
                    try await Self.apply(file, client: client, logger: logger)
                }
                let gateway = try await GatewayServer(host: "127.0.0.1", port: gatewayPort, state: gatewayState, accessLog: Logger(label: LoggingSystem.accessLogLabel)).start()
                let breakerExchange = BreakerExchange(identity: LeaderElector.defaultIdentity(), state: gatewayState, logger: logger)
                let admin = try await AdminServer(
                    host: "127.0.0.1",
                    port: adminPort,
                    isReady: { gatewayState.isReady },
                    describeConfig: { gatewayState.describe() },
                    renderMetrics: renderMetrics,
                    breakerExchange: breakerExchange,
                    exposeDebug: exposeDebug
                ).start()
                let gatewayURL = "http://127.0.0.1:\(gateway.localAddress?.port ?? gatewayPort)"
                let httpClient = HTTPClient.forTokenEndpoints()
                try await Self.running({
                    let demoUpstream = demo ? try await DemoUpstream.start(port: 8090, issuer: gatewayURL, httpClient: httpClient) : nil
                    let adminURL = "http://127.0.0.1:\(admin.localAddress?.port ?? adminPort)"
                    try Self.writeEndpoints(state.directory, api: endpoint.url, gateway: gatewayURL, admin: adminURL, kubeconfig: kubeconfig.path)
                    print("""
                        Portcullis is running.
                          API server:  \(endpoint.url)
                          kubeconfig:  \(kubeconfig.path)
                          gateway:     \(gatewayURL)
                          admin:       \(adminURL)/readyz, \(adminURL)/debug/config, \(adminURL)/debug/breakers, \(adminURL)/metrics
                        Try:
                          export KUBECONFIG=\(kubeconfig.path)
                          kubectl get routes,upstreamauths,tunnels
                          curl -i \(gatewayURL)/hello/world
                        Ctrl-C stops everything.
                        """)
                    fflush(nil)
                    defer {
                        gateway.close(promise: nil)
                        admin.close(promise: nil)
                        demoUpstream?.close(promise: nil)
                    }
                    let credentials = CredentialRuntime(httpClient: httpClient, logger: logger)
                    var policy = tenancy.policy(
                        apiServer: endpoint.url,
                        gatewayPorts: [gateway.localAddress?.port ?? gatewayPort, admin.localAddress?.port ?? adminPort]
                    )
                    policy.allowLoopback()
                    let controller = GatewayController(
                        client: client, state: gatewayState, credentials: credentials,
                        pki: PKISettings(namespace: Self.systemNamespace, issuer: gatewayURL), tenancy: policy,
                        breakerExchange: breakerExchange, peerAddress: "127.0.0.1:\(admin.localAddress?.port ?? adminPort)", logger: logger
                    )
                    let tunnels = TunnelController(client: client, interfaces: WireGuardInterfaceManager(logger: logger), tenancy: policy, logger: logger)
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await credentials.run() }
                        group.addTask { try await controller.run() }
                        group.addTask { try await tunnels.run() }
                    }
                }, thenShuttingDown: { try await httpClient.shutdown() })
            }, thenShuttingDown: { try await client.shutdown() })
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: apiService, successTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: setup, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Runs `body`, then `shutdown`, whether `body` threw or not.
    static func running(_ body: () async throws -> Void, thenShuttingDown shutdown: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            try? await shutdown()
            throw error
        }
        try await shutdown()
    }

    /// Where `portcullis dev` keeps the installation's CA and signing keys.
    static let systemNamespace = "portcullis-system"

    /// Creates or updates the Route, UpstreamAuth and Tunnel CRDs.
    static func installCRDs(_ client: KubernetesClient) async throws {
        let crds = client.resources(.customResourceDefinitions, as: JSONValue.self)
        for type in PortcullisAPIGroup.resourceTypes {
            let crd = try JSONValue(encoding: type.customResourceDefinition)
            _ = try await crds.patch(
                type.customResourceDefinition.metadata.name ?? "",
                .apply(crd, force: true),
                options: WriteOptions(fieldManager: "portcullis-dev")
            )
        }
    }

    /// The YAML files named, folders expanded (sorted), each path relative to the current directory.
    static func manifestFiles(_ paths: [String]) throws -> [URL] {
        var files: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
                throw ValidationError("--apply \(path): no such file or folder")
            }
            if isDirectory.boolValue {
                let entries = try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
                files += entries.filter { ["yaml", "yml", "json"].contains($0.pathExtension) }.sorted { $0.path < $1.path }
            } else {
                files.append(url)
            }
        }
        return files
    }

    /// Server-side applies every object of a manifest file.
    static func apply(_ file: URL, client: KubernetesClient, logger: Logger) async throws {
        for object in try JSONValue.documents(yaml: String(contentsOf: file, encoding: .utf8)) {
            guard let kind = object["kind"]?.stringValue, let apiVersion = object["apiVersion"]?.stringValue,
                let name = object[path: ["metadata", "name"]]?.stringValue
            else {
                throw ValidationError("\(file.path): every object needs apiVersion, kind and metadata.name")
            }
            let descriptor: ResourceDescriptor
            switch (apiVersion, kind) {
            case (PortcullisAPIGroup.apiVersion, Route.kind): descriptor = Route.resource
            case (PortcullisAPIGroup.apiVersion, UpstreamAuth.kind): descriptor = UpstreamAuth.resource
            case (PortcullisAPIGroup.apiVersion, Tunnel.kind): descriptor = Tunnel.resource
            case ("v1", "Secret"): descriptor = .secrets
            case ("v1", "ConfigMap"): descriptor = .configMaps
            case ("v1", "Namespace"): descriptor = .namespaces
            case ("v1", "Service"): descriptor = .services
            default: throw ValidationError("\(file.path): \(apiVersion) \(kind) is not a kind portcullis dev applies")
            }
            let namespace = descriptor.namespaced ? object[path: ["metadata", "namespace"]]?.stringValue ?? "default" : nil
            _ = try await client.resources(descriptor, as: JSONValue.self).patch(
                name,
                namespace: namespace,
                .apply(object, force: true),
                options: WriteOptions(fieldManager: "portcullis-dev")
            )
            logger.info("applied \(kind) \(namespace.map { $0 + "/" } ?? "")\(name) from \(file.lastPathComponent)")
        }
    }

    static func writeEndpoints(_ directory: URL, api: String, gateway: String, admin: String, kubeconfig: String) throws {
        let endpoints: JSONValue = ["apiServer": .string(api), "gateway": .string(gateway), "admin": .string(admin), "kubeconfig": .string(kubeconfig)]
        try LocalState.writeSecret(endpoints.description + "\n", to: directory.appendingPathComponent("endpoints.json"))
    }
}

/// A piece of `portcullis dev` run by the ServiceGroup: it ends when the group shuts down.
struct TaskService: Service {
    let body: @Sendable () async throws -> Void

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await body() }
        } catch is CancellationError {
            // Ctrl-C: the group is shutting down, which is not a failure.
        }
    }
}
