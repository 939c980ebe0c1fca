import AsyncHTTPClient
import CredentialFakes
import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Reconcilers
import Resilience
import PortcullisAPI
import Synchronization
import Testing

/// Two gateway replicas against one API server: they find each other through their replica Leases, the
/// leader issues the peer certificate, and a breaker that opens on one opens on the other.
@Suite struct SharedBreakerEndToEndTests {
    /// One replica: a gateway, an admin port with the breaker exchange, and a controller.
    final class Replica: Sendable {
        let name: String
        let state = GatewayState()
        let exchange: BreakerExchange
        let gateway: any Channel
        let admin: any Channel
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let running: Task<Void, any Error>

        init(_ name: String, leader: Bool, cluster: TestCluster) async throws {
            self.name = name
            let logger = TestCluster.quiet
            let state = self.state
            exchange = BreakerExchange(identity: name, state: state, logger: logger)
            gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
            admin = try await AdminServer(host: "127.0.0.1", port: 0, isReady: { state.isReady }, describeConfig: { state.describe() }, breakerExchange: exchange).start()
            let credentials = CredentialRuntime(httpClient: httpClient, logger: logger)
            let controller = GatewayController(
                client: cluster.client, state: state, isLeader: { leader }, credentials: credentials,
                pki: PKISettings(namespace: SharedBreakerEndToEndTests.systemNamespace, issuer: nil), tenancy: .development, identity: name,
                breakerExchange: exchange, peerAddress: "127.0.0.1:\(admin.localAddress!.port!)", logger: logger
            )
            running = Task {
                try await withThrowingDiscardingTaskGroup { group in
                    group.addTask { try await credentials.run() }
                    group.addTask { try await controller.run() }
                }
            }
        }

        func breaker(_ route: String = "flaky") -> GatewayState.CircuitBreakerReport? { state.circuitBreakers()[RouteKey(namespace: "default", name: route)] }

        func get(_ path: String) async throws -> Int {
            let response = try await httpClient.execute(HTTPClientRequest(url: "http://127.0.0.1:\(gateway.localAddress!.port!)\(path)"), timeout: .seconds(15))
            return Int(response.status.code)
        }

        /// Whether the exchange has loaded the peer certificate, as `/debug/breakers` says.
        var certificateLoaded: Bool {
            let document = try? JSONSerialization.jsonObject(with: Data(exchange.describe().utf8)) as? [String: Any]
            return document?["certificateLoaded"] as? Bool == true
        }

        func stop() async {
            running.cancel()
            _ = try? await running.value
            try? await gateway.close()
            try? await admin.close()
            try? await httpClient.shutdown()
        }
    }

    static let systemNamespace = "portcullis-system"

    @Test func replicasFindEachOtherThroughTheirLeasesAndShareAnOpenBreaker() async throws {
        try await TestCluster.with { cluster in
            try await cluster.createNamespace(Self.systemNamespace)
            try await cluster.apply("""
                apiVersion: portcullis.io/v1alpha1
                kind: Route
                metadata: {name: flaky, namespace: default}
                spec:
                  upstream: {url: 'http://127.0.0.1:1'}
                  retries: {attempts: 1}
                  circuitBreaker: {consecutiveFailures: 2, openDuration: 1m}
                """)
            let a = try await Replica("replica-a", leader: true, cluster: cluster)
            let b = try await Replica("replica-b", leader: false, cluster: cluster)
            do {
                // Each finds the other in the Leases, at the address its Lease gives.
                _ = try await eventually("the replicas find each other") {
                    a.exchange.currentPeers.map(\.identity) == ["replica-b"] && b.exchange.currentPeers.map(\.identity) == ["replica-a"] ? true : nil
                }
                #expect(a.exchange.currentPeers.first?.port == b.admin.localAddress?.port)
                let lease = try await cluster.client.resources(CoordinationV1.Lease.self).get("portcullis-gateway-replica-b", namespace: Self.systemNamespace)
                #expect(lease.metadata.annotations?["portcullis.io/peer-address"] == "127.0.0.1:\(b.admin.localAddress!.port!)")
                let incarnation = try #require(lease.metadata.annotations?["portcullis.io/peer-incarnation"])
                #expect(a.exchange.currentPeers.first?.incarnation == incarnation, "a restarted B would count as a new peer")

                // The leader issued one peer certificate, and both replicas loaded it.
                _ = try await eventually("both load the peer certificate") { a.certificateLoaded && b.certificateLoaded ? true : nil }
                let secret = try await cluster.client.resources(CoreV1.Secret.self).get("portcullis-peer-tls", namespace: Self.systemNamespace)
                #expect(secret.type == "kubernetes.io/tls")
                let certificate = try NIOSSLCertificate(bytes: Array(try #require(secret.data?["tls.crt"])), format: .pem)
                #expect(certificate._subjectAlternativeNames().contains { String(decoding: Array($0.contents), as: UTF8.self) == PeerTLS.peerName })

                // Both serve the route (one failure each); the second failure on A opens A's breaker, and B's.
                _ = try await eventually("both serve the route") { try await a.get("/") == 502 ? true : nil }
                _ = try await eventually("both serve the route") { try await b.get("/") == 502 ? true : nil }
                #expect(b.breaker()?.state == .closed)
                #expect(try await a.get("/") == 502)
                let tripped = ContinuousClock.now
                #expect(a.breaker()?.state == .open)
                _ = try await eventually("B follows", timeout: .seconds(1)) { b.breaker()?.state == .open ? true : nil }
                #expect(ContinuousClock.now - tripped < .seconds(1))
                #expect(b.breaker()?.changedBy == "replica-a")
                #expect(try await b.get("/") == 503, "B fails fast")

                // A peer Secret that goes away is issued anew by the leader, and both replicas load the new one.
                let first = try #require(secret.data?["tls.crt"])
                try await cluster.client.resources(CoreV1.Secret.self).delete("portcullis-peer-tls", namespace: Self.systemNamespace)
                let second = try await eventually("a new peer certificate") {
                    let reissued = try? await cluster.client.resources(CoreV1.Secret.self).get("portcullis-peer-tls", namespace: Self.systemNamespace)
                    return reissued?.data?["tls.crt"].flatMap { $0 == first ? nil : String(decoding: $0, as: UTF8.self) }
                }
                _ = try await eventually("both load it") {
                    a.exchange.tls.certificateChainPEM == second && b.exchange.tls.certificateChainPEM == second ? true : nil
                }
            } catch {
                await a.stop()
                await b.stop()
                throw error
            }
            await a.stop()
            await b.stop()
        }
    }

    @Test func routeStatusCountsTheReplicasWhoseBreakerIsOpen() async throws {
        // An upstream that fails (503) until told otherwise.
        let failing = Atomic<Bool>(false)
        let upstream = try await FakeHTTPServer.start { _ in failing.load(ordering: .relaxed) ? .text(503, "down") : .text(200, "up") }
        try await TestCluster.with { cluster in
            try await cluster.createNamespace(Self.systemNamespace)
            // Each replica keeps its own breaker, so the replicas disagree.
            try await cluster.apply("""
                apiVersion: portcullis.io/v1alpha1
                kind: Route
                metadata: {name: local, namespace: default}
                spec:
                  upstream: {url: '\(upstream.baseURL)'}
                  retries: {attempts: 1}
                  circuitBreaker: {consecutiveFailures: 2, openDuration: 2s, halfOpenProbes: 1, scope: Replica}
                """)
            let a = try await Replica("replica-a", leader: true, cluster: cluster)
            let b = try await Replica("replica-b", leader: false, cluster: cluster)
            func status() async throws -> RouteStatus? { try await cluster.client.resources(Route.self).get("local", namespace: "default").status }
            do {
                _ = try await eventually("both serve the route") {
                    let (fromA, fromB) = (try await a.get("/"), try await b.get("/"))
                    return fromA == 200 && fromB == 200 ? true : nil
                }
                _ = try await eventually("two replicas in status") { try await status()?.replicas?.total == 2 ? true : nil }

                // B's breaker opens; the leader's (A's) stays closed.
                failing.store(true, ordering: .relaxed)
                #expect(try await b.get("/") == 503)
                #expect(try await b.get("/") == 503)
                #expect(b.breaker("local")?.state == .open)
                #expect(a.breaker("local")?.state == .closed)
                let breaker = try await eventually("openReplicas 1 of 2", timeout: .seconds(20)) {
                    let breaker = try await status()?.circuitBreaker
                    return breaker?.openReplicas == 1 && breaker?.replicas == 2 ? breaker : nil
                }
                #expect(breaker.state == .closed, "state is the leader's breaker")
                #expect(breaker.halfOpenReplicas == 0)
                #expect(breaker.unreportedReplicas == nil)
                #expect(try await status()?.replicas?.total == 2)
                let lease = try await cluster.client.resources(CoordinationV1.Lease.self).get("portcullis-gateway-replica-b", namespace: Self.systemNamespace)
                #expect(lease.metadata.annotations?["portcullis.io/circuit-breakers"] == #"{"open":["default/local"]}"#)

                // The upstream recovers; B's probe after the open period closes its breaker, and the count goes back to 0.
                failing.store(false, ordering: .relaxed)
                try await Task.sleep(for: .milliseconds(2500))
                _ = try await eventually("B's probe succeeds") {
                    let code = try await b.get("/")
                    return code == 200 && b.breaker("local")?.state == .closed ? true : nil
                }
                let closed = try await eventually("openReplicas 0", timeout: .seconds(20)) {
                    let breaker = try await status()?.circuitBreaker
                    return breaker?.openReplicas == 0 ? breaker : nil
                }
                #expect(closed.halfOpenReplicas == 0)
                #expect(closed.replicas == nil, "replicas is only written while a breaker is not Closed")
                #expect(closed.state == .closed)
            } catch {
                await a.stop()
                await b.stop()
                await upstream.stop()
                throw error
            }
            await a.stop()
            await b.stop()
            await upstream.stop()
        }
    }
}
