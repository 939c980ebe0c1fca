import AsyncHTTPClient
import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import NIOCore
import PortcullisAPI
import PortcullisTestSupport
import Reconcilers
import Testing
import Tunnels

extension TunnelIntegrationTests {
    /// The whole path on real WireGuard: the embedded API server, the TunnelController with the real interface
    /// manager (wireguard-go here, where the kernel has no WireGuard), the GatewayController and the gateway in
    /// this process's network namespace; and a private network namespace, reachable only through the tunnel,
    /// with an HTTP backend and the connector config applied with `wg-quick`, as a user would.
    @Suite(
        .enabled(
            if: WireGuardTestEnvironment.isAvailable && ExternalTool("curl").url != nil && ExternalTool("python3").url != nil,
            "needs root, /dev/net/tun, ip, wg, wg-quick, wireguard-go, curl and python3 (.ci/run installs the WireGuard tools)"
        ),
        .timeLimit(.minutes(2))
    )
    struct TunnelEndToEndTests {
        /// A private network namespace joined to this one by a veth pair, with a backend on an address only
        /// the tunnel routes to.
        struct PrivateSite {
            let suffix = WireGuardTestEnvironment.uniqueSuffix()
            let octet = WireGuardTestEnvironment.randomOctet()
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-tunnel-\(UUID().uuidString)")
            var namespace: NetworkNamespace?
            var backend: BackgroundProcess?

            /// Where the gateway's WireGuard port is reached from the private side.
            var gatewayUnderlayAddress: String { "172.31.\(octet).1" }
            var addressPool: String { "10.241.\(octet).0/24" }
            var privateNetwork: String { "10.242.\(octet).0/24" }
            var backendAddress: String { "10.242.\(octet).10" }
            var hostVeth: String { "pcv" + suffix }
            /// The private side's interface: wg-quick names it after the config file.
            var connectorInterface: String { "pq" + suffix }
            var configFile: URL { directory.appendingPathComponent("\(connectorInterface).conf") }
            var page: String { "hello from the private side \(suffix)\n" }

            mutating func start() async throws {
                try FileManager.default.createDirectory(at: directory.appendingPathComponent("www/private"), withIntermediateDirectories: true)
                try page.write(to: directory.appendingPathComponent("www/private/hello.txt"), atomically: true, encoding: .utf8)
                let namespace = try await NetworkNamespace.create("pcp-" + suffix)
                self.namespace = namespace
                let ip = { (arguments: [String]) in
                    let output = try await NetworkNamespace.ip.run(arguments)
                    guard output.status == 0 else { throw NetworkSetupError(message: "ip \(arguments.joined(separator: " ")): \(output.stderr)") }
                }
                try await ip(["link", "add", hostVeth, "type", "veth", "peer", "name", "pcw" + suffix, "netns", namespace.name])
                try await ip(["addr", "add", "\(gatewayUnderlayAddress)/30", "dev", hostVeth])
                try await ip(["link", "set", hostVeth, "up"])
                try await namespace.run(["ip", "addr", "add", "172.31.\(octet).2/30", "dev", "pcw" + suffix])
                try await namespace.run(["ip", "link", "set", "pcw" + suffix, "up"])
                try await namespace.run(["ip", "addr", "add", "\(backendAddress)/32", "dev", "lo"])
                let backend = try namespace.start([
                    "python3", "-u", "-m", "http.server", "8080", "--bind", backendAddress, "--directory", directory.appendingPathComponent("www").path,
                ])
                self.backend = backend
                #expect(try await backend.waitFor("Serving HTTP"), "\(backend.printed)")
            }

            /// Writes the connector config where wg-quick finds it.
            func write(config: String) throws {
                try config.write(to: configFile, atomically: true, encoding: .utf8)
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: configFile.path)
            }

            /// `wg-quick up` on the config file inside the namespace.
            func wgQuickUp() async throws -> (status: Int32, printed: String) {
                try await namespace!.wgQuickUp(configFile, log: directory.appendingPathComponent("wg-quick.log"))
            }

            /// Removes everything, in an order that leaves no wireguard-go or server running: a wireguard-go
            /// keeps its namespace alive after `ip netns del`, so its interface goes first.
            func stop() async {
                backend?.kill()  // SIGKILL: a child may inherit a blocked SIGTERM from the test process's thread
                if let namespace {
                    _ = try? await namespace.attempt(["ip", "link", "del", connectorInterface])
                    _ = try? await NetworkNamespace.ip.run(["link", "del", hostVeth])
                    await namespace.delete()
                }
                try? FileManager.default.removeItem(at: directory)
            }
        }

        static func curl(_ url: String) async throws -> (status: Int, body: String) {
            let output = try await ExternalTool("curl").run(["-s", "-m", "5", "-o", "-", "-w", "\n%{http_code}", url])
            var lines = output.stdout.components(separatedBy: "\n")
            let status = Int(lines.removeLast()) ?? 0
            return (status, lines.joined(separator: "\n"))
        }

        @Test func requestsReachAPrivateBackendThroughWireGuardAcrossARotationUntilTheTunnelIsDeleted() async throws {
            var site = PrivateSite()
            let cluster = try await TestCluster.start()
            let logs = RecordingLogHandler.Lines()
            let interfaces = WireGuardInterfaceManager(logger: RecordingLogHandler.logger(into: logs))
            var privateKeys: [WireGuardPrivateKey] = []
            func collectPrivateKeys() async throws {
                let secret = try #require(try await cluster.secret("\(name)-wireguard"))
                for key in ["privateKey", "peerPrivateKey"] {
                    privateKeys.append(try WireGuardPrivateKey(base64: try #require(secret.text(key))))
                }
            }
            let name = "e2e-\(site.suffix)"
            let gatewayInterface = WireGuardInterfaceConfiguration.interfaceName(for: "default/\(name)")
            let state = GatewayState()
            let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
            var gateway: (any Channel)?
            var services: [Task<Void, any Error>] = []
            do {
                try await site.start()
                gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
                let gatewayURL = "http://127.0.0.1:\(gateway?.localAddress?.port ?? 0)"
                let tunnels = TunnelController(
                    client: cluster.client,
                    interfaces: interfaces,
                    configuration: .init(statusInterval: .milliseconds(500)),
                    logger: RecordingLogHandler.logger(into: logs)
                )
                services.append(cluster.run(tunnels))
                let credentials = CredentialRuntime(httpClient: httpClient, logger: TestCluster.quiet)
                let routes = GatewayController(
                    client: cluster.client, state: state, credentials: credentials,
                    pki: PKISettings(namespace: "default", issuer: nil), tenancy: .development, logger: TestCluster.quiet
                )
                services.append(Task { try await credentials.run() })
                services.append(Task { try await routes.run() })

                let port = Int.random(in: 40000...59999)
                try await cluster.apply("""
                    apiVersion: portcullis.io/v1alpha1
                    kind: Tunnel
                    metadata: {name: \(name)}
                    spec:
                      wireGuard:
                        addressPool: \(site.addressPool)
                        listenPort: \(port)
                        endpoint: \(site.gatewayUnderlayAddress):\(port)
                        allowedIPs: [\(site.privateNetwork)]
                    """)
                try await cluster.apply("""
                    apiVersion: portcullis.io/v1alpha1
                    kind: Route
                    metadata: {name: \(name)}
                    spec:
                      match: {path: {value: /private}}
                      upstream:
                        url: http://\(site.backendAddress):8080
                        tunnelRef: {name: \(name)}
                    """)

                // The private side runs the connector config exactly as the docs say.
                let config = try await eventually("the connector Secret") { try await cluster.secret("\(name)-connector")?.text("wg0.conf") }
                try site.write(config: config)
                try await collectPrivateKeys()
                let up = try await site.wgQuickUp()
                #expect(up.status == 0, "\(up.printed)")

                // A request through the gateway reaches the backend, which only the tunnel routes to.
                let response = try await eventually("a response from the private backend", timeout: .seconds(30)) {
                    let response = try await Self.curl("\(gatewayURL)/private/hello.txt")
                    return response.status == 200 ? response : nil
                }
                #expect(response.body == site.page)

                // Status from the live interface: a handshake and traffic.
                let connected = try await eventually("Connected=True with traffic") {
                    let tunnel = try await cluster.tunnel(name)
                    return tunnel?.condition("Connected")?.status == .true && (tunnel?.status?.transferRxBytes ?? 0) > 0 ? tunnel : nil
                }
                #expect(connected.condition("Ready")?.status == .true)
                #expect(connected.status?.lastHandshakeTime != nil)
                #expect((connected.status?.transferTxBytes ?? 0) > 0)
                #expect(connected.status?.address == "10.241.\(site.octet).1/32")
                let oldKey = try #require(connected.status?.publicKey)

                // Rotation: new keys on the gateway and in the connector Secret; once the private side applies
                // the new config (wg syncconf, as for any config change), the tunnel is back within a handshake.
                _ = try await cluster.client.resources(Tunnel.self).patch(
                    name,
                    namespace: "default",
                    .merge(["metadata": ["annotations": [TunnelController.rotateKeysAnnotation: "e2e"]]])
                )
                let rotated = try await eventually("the rotated connector config") {
                    let text = try await cluster.secret("\(name)-connector")?.text("wg0.conf")
                    return text != config ? text : nil
                }
                #expect(!rotated.contains(oldKey))
                try site.write(config: rotated)
                try await collectPrivateKeys()
                let clock = ContinuousClock()
                let applied = clock.now
                let sync = try await site.namespace!.attempt([
                    "bash", "-c", "wg syncconf \"$0\" <(wg-quick strip \"$1\")", site.connectorInterface, site.configFile.path,
                ])
                #expect(sync.status == 0, "\(sync.stderr)")
                let afterRotation = try await eventually("a response after the rotation", timeout: .seconds(30)) {
                    let response = try await Self.curl("\(gatewayURL)/private/hello.txt")
                    return response.status == 200 ? response : nil
                }
                let downtime = applied.duration(to: clock.now)
                #expect(afterRotation.body == site.page)
                #expect(downtime < .seconds(6), "back within one handshake (and at most one retransmission) of applying the new config, not \(downtime)")
                print("tunnel end-to-end: served again \(downtime) after the private side applied the rotated config")
                let newKey = try await eventually("the new public key in status") {
                    let key = try await cluster.tunnel(name)?.status?.publicKey
                    return key != oldKey ? key : nil
                }
                #expect(rotated.contains("PublicKey = \(newKey)"))

                // Deleting the Tunnel removes the gateway's interface, then the Tunnel; the Route says why it stops.
                try await cluster.client.resources(Tunnel.self).delete(name, namespace: "default")
                _ = try await eventually("the Tunnel gone") { try await cluster.tunnel(name) == nil ? true : nil }
                #expect(try await interfaces.state(of: gatewayInterface) == nil)
                let link = try await NetworkNamespace.ip.run(["link", "show", "dev", gatewayInterface])
                #expect(link.status != 0, "interface \(gatewayInterface) is gone")
                let resolved = try await eventually("the Route's ResolvedRefs=False") {
                    let route = try await cluster.client.resources(.routes, as: JSONValue.self).get(name, namespace: "default")
                    let condition = route[path: ["status", "conditions"]]?.arrayValue?.first { $0["type"]?.stringValue == "ResolvedRefs" }
                    return condition?["status"]?.stringValue == "False" ? condition?["message"]?.stringValue : nil
                }
                #expect(resolved.contains("Tunnel \"\(name)\" not found"))

                // No private key reached a log line, at any level.
                #expect(privateKeys.count == 4 && Set(privateKeys).count == 4)
                #expect(!logs.all.isEmpty)
                let logged = logs.all.joined(separator: "\n")
                for key in privateKeys {
                    #expect(!logged.contains(key.base64) && !logged.contains(key.rawRepresentation.map { String(format: "%02x", $0) }.joined()))
                }
            } catch {
                Issue.record(error)
            }
            for service in services { service.cancel() }
            for service in services { _ = try? await service.value }
            try? await interfaces.remove(gatewayInterface)
            try? await gateway?.close()
            try? await httpClient.shutdown()
            await site.stop()
            await cluster.stop()
        }
    }
}
