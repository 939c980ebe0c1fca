import Foundation
import Gateway
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PKI
import Resilience
import Testing

/// Shared circuit breakers between two gateway replicas in one process, each with its own gateway, admin
/// port and peer set, over real sockets and real mutual TLS.
@Suite struct BreakerExchangeTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// One replica: its gateway, its admin port with the exchange, and the exchange running.
    final class Replica: Sendable {
        let name: String
        let state: GatewayState
        let exchange: BreakerExchange
        let metrics = TestMetrics()
        let gateway: any Channel
        let admin: any Channel
        let running: Task<Void, Never>

        var gatewayPort: Int { gateway.localAddress!.port! }
        var adminPort: Int { admin.localAddress!.port! }
        var asPeer: BreakerPeer { try! BreakerPeer(identity: name, address: "127.0.0.1:\(adminPort)") }

        init(
            _ name: String, routes: [RouteConfig], certificate: IssuedCertificate?, trusting authority: CertificateAuthority,
            configuration: BreakerExchange.Configuration = .init(), adminPort: Int = 0
        ) async throws {
            self.name = name
            state = GatewayState(GatewayConfig(generation: 1, routes: routes))
            exchange = BreakerExchange(identity: name, state: state, configuration: configuration, logger: BreakerExchangeTests.quiet, metricsFactory: metrics)
            if let certificate {
                try exchange.tls.update(certificateChainPEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM, trustedCAPEM: try authority.trustAnchorPEM)
            }
            gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
            let state = self.state
            admin = try await AdminServer(host: "127.0.0.1", port: adminPort, isReady: { state.isReady }, describeConfig: { state.describe() }, breakerExchange: exchange).start()
            let exchange = self.exchange
            running = Task { await exchange.run() }
        }

        func breaker(_ route: String) -> GatewayState.CircuitBreakerReport? {
            state.circuitBreakers()[RouteKey(namespace: "default", name: route)]
        }

        func counter(_ outcome: String) throws -> Int64 {
            try metrics.expectCounter("portcullis_gateway_breaker_peer_messages_total", [("outcome", outcome)]).totalValue
        }

        func get(_ path: String) async throws -> String {
            try await RawHTTPClient.exchange(port: gatewayPort, "GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        }

        func stop() async throws {
            running.cancel()
            await running.value
            try await gateway.close()
            try await admin.close()
        }
    }

    static func route(_ name: String, port: Int, breaker: CircuitBreakerConfiguration) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: name),
            match: RouteMatchRule(path: .prefix("/\(name)")),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port),
            rewritePrefix: "/",
            retry: RetryConfiguration(attempts: 1),
            circuitBreaker: breaker
        )
    }

    static func peerCertificate(_ authority: CertificateAuthority) throws -> IssuedCertificate {
        try authority.issue(CertificateRequest(purpose: .peer, dnsNames: [PeerTLS.peerName], duration: .seconds(3600)), now: Date())
    }

    /// Two replicas that know each other, serving the same routes.
    static func pair(routesA: [RouteConfig], routesB: [RouteConfig]) async throws -> (Replica, Replica) {
        let authority = try CertificateAuthority.generate(now: Date())
        let a = try await Replica("replica-a", routes: routesA, certificate: try peerCertificate(authority), trusting: authority)
        let b = try await Replica("replica-b", routes: routesB, certificate: try peerCertificate(authority), trusting: authority)
        a.exchange.updatePeers([b.asPeer, a.asPeer])
        b.exchange.updatePeers([a.asPeer])
        return (a, b)
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes.
    static func within(_ timeout: Duration, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return try condition()
    }

    @Test func aBreakerOpenedOnOneReplicaOpensOnTheOtherWithinASecond() async throws {
        let upstream = try await TestUpstream()
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 2, openDuration: .seconds(30))
        let routes = [Self.route("orders", port: upstream.port, breaker: breaker)]
        let (a, b) = try await Self.pair(routesA: routes, routesB: routes)
        #expect(a.exchange.currentPeers.map(\.identity) == ["replica-b"], "a replica is never its own peer")

        #expect(try await a.get("/orders/close").hasPrefix("HTTP/1.1 502"))
        #expect(try await a.get("/orders/close").hasPrefix("HTTP/1.1 502"))
        let tripped = ContinuousClock.now
        #expect(a.breaker("orders")?.state == .open)
        #expect(try await Self.within(.seconds(1)) { b.breaker("orders")?.state == .open }, "B follows within a second")
        #expect(ContinuousClock.now - tripped < .seconds(1))
        #expect(b.breaker("orders")?.changedBy == "replica-a")
        #expect(a.breaker("orders")?.changedBy == nil, "A tripped on its own calls")

        // B fails fast without touching the upstream.
        let connections = upstream.connectionCount
        let rejected = try await b.get("/orders/fine")
        #expect(rejected.hasPrefix("HTTP/1.1 503"))
        #expect(rejected.contains("https://portcullis.io/problems/circuit-open"))
        #expect(Int(rejected.httpHeader("retry-after") ?? "") ?? 0 >= 29, "B stays open for A's period")
        #expect(upstream.connectionCount == connections)
        #expect(upstream.requestCount("/fine") == 0)

        // Counted once each way, and B does not echo the transition it followed.
        #expect(try await Self.within(.seconds(1)) { (try? a.counter("sent")) == 1 })
        #expect(try b.counter("received") == 1)
        #expect(try b.counter("sent") == 0)
        #expect(try a.counter("received") == 0)

        // /debug/breakers on B names the peer that opened it.
        let debug = try await RawHTTPClient.exchange(port: b.adminPort, "GET /debug/breakers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let document = try #require(JSONSerialization.jsonObject(with: Data(debug.httpBody.utf8)) as? [String: Any])
        #expect(document["replica"] as? String == "replica-b")
        let breakers = try #require(document["breakers"] as? [[String: Any]])
        #expect(breakers.first?["route"] as? String == "default/orders")
        #expect(breakers.first?["state"] as? String == "Open")
        #expect(breakers.first?["scope"] as? String == "Shared")
        #expect(breakers.first?["changedBy"] as? String == "replica-a")
        let peers = try #require(document["peers"] as? [[String: Any]])
        #expect(peers.first?["replica"] as? String == "replica-a")

        try await a.stop()
        try await b.stop()
        try await upstream.stop()
    }

    @Test func probesThatSucceedOnOneReplicaCloseTheBreakerOnTheOther() async throws {
        let upstream = try await TestUpstream()
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 2, openDuration: .milliseconds(300), halfOpenProbes: 1)
        let routes = [Self.route("orders", port: upstream.port, breaker: breaker)]
        let (a, b) = try await Self.pair(routesA: routes, routesB: routes)
        _ = try await a.get("/orders/close")
        _ = try await a.get("/orders/close")
        #expect(try await Self.within(.seconds(1)) { b.breaker("orders")?.state == .open })

        // After the open period B's first call is its probe; it succeeds and B closes, and so does A,
        // whose own breaker would otherwise stay Open until a call of its own.
        try await Task.sleep(for: .milliseconds(400))
        #expect(try await b.get("/orders/fine").hasPrefix("HTTP/1.1 200"))
        #expect(b.breaker("orders")?.state == .closed)
        #expect(try await Self.within(.seconds(1)) { a.breaker("orders")?.state == .closed }, "A follows B's recovery")
        #expect(a.breaker("orders")?.changedBy == "replica-b")
        #expect(try await a.get("/orders/fine").hasPrefix("HTTP/1.1 200"))
        try await a.stop()
        try await b.stop()
        try await upstream.stop()
    }

    @Test func aReplicaScopedBreakerAndOneWithOtherSettingsDoNotFollow() async throws {
        let upstream = try await TestUpstream()
        var local = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        local.scope = .replica
        let shared = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        let sharedOnB = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(60))
        let (a, b) = try await Self.pair(
            routesA: [
                Self.route("local", port: upstream.port, breaker: local), Self.route("changed", port: upstream.port, breaker: shared),
                Self.route("marker", port: upstream.port, breaker: shared),
            ],
            routesB: [
                Self.route("local", port: upstream.port, breaker: local), Self.route("changed", port: upstream.port, breaker: sharedOnB),
                Self.route("marker", port: upstream.port, breaker: shared),
            ]
        )
        _ = try await a.get("/local/close")
        _ = try await a.get("/changed/close")
        _ = try await a.get("/marker/close")
        #expect(a.breaker("local")?.state == .open && a.breaker("changed")?.state == .open)
        // Transitions go out in order: once the last one arrived, the earlier ones would have.
        #expect(try await Self.within(.seconds(1)) { b.breaker("marker")?.state == .open })
        #expect(b.breaker("local")?.state == .closed, "a Replica-scoped breaker is never sent")
        #expect(b.breaker("changed")?.state == .closed, "other settings on B: not applied")
        // A counts "sent" once B has answered, which may be just after B applied it.
        #expect(try await Self.within(.seconds(1)) { (try? a.counter("sent")) == 2 }, "changed and marker were sent; local was not")
        #expect(try b.counter("received") == 2)
        #expect(try await b.get("/changed/fine").hasPrefix("HTTP/1.1 200"))
        try await a.stop()
        try await b.stop()
        try await upstream.stop()
    }

    @Test func aReplicaCutOffFromItsPeersKeepsItsOwnState() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        let a = try await Replica(
            "replica-a", routes: [Self.route("orders", port: upstream.port, breaker: breaker), Self.route("billing", port: upstream.port, breaker: breaker)],
            certificate: try Self.peerCertificate(authority), trusting: authority
        )
        a.exchange.updatePeers([try BreakerPeer(identity: "replica-gone", address: "127.0.0.1:\(TestUpstream.refusingPort)")])
        #expect(try await a.get("/orders/close").hasPrefix("HTTP/1.1 502"))
        #expect(try await a.get("/orders/fine").hasPrefix("HTTP/1.1 503"), "A's own breaker opened")
        #expect(try await Self.within(.seconds(2)) { try a.counter("failed") == 1 })
        // Within the back-off (2 s) the peer is not tried: the next transition waits for it. A's breakers
        // work on their own all along.
        #expect(try await a.get("/billing/close").hasPrefix("HTTP/1.1 502"))
        #expect(try await a.get("/billing/fine").hasPrefix("HTTP/1.1 503"))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try a.counter("failed") == 1, "not tried again within the back-off")
        func peerDescription() async throws -> [String: Any] {
            let debug = try await RawHTTPClient.exchange(port: a.adminPort, "GET /debug/breakers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let document = try #require(JSONSerialization.jsonObject(with: Data(debug.httpBody.utf8)) as? [String: Any])
            return try #require((document["peers"] as? [[String: Any]])?.first)
        }
        #expect(try await peerDescription()["pending"] as? Int == 2, "both transitions wait for the peer")
        // After the back-off both are tried again (and fail again), one post at a time, latest per route.
        #expect(try await Self.within(.seconds(6)) { try a.counter("failed") >= 2 }, "retried after the back-off")
        #expect(try a.counter("sent") == 0)
        let peer = try await peerDescription()
        #expect(peer["reachable"] as? Bool == false)
        #expect((peer["lastError"] as? String)?.isEmpty == false)
        try await a.stop()
        try await upstream.stop()
    }

    @Test func aPeerWithoutACertificateFromTheCAOrWithoutThePeerNameIsRefused() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        let routes = [Self.route("orders", port: upstream.port, breaker: breaker)]
        let b = try await Replica("replica-b", routes: routes, certificate: try Self.peerCertificate(authority), trusting: authority)

        // A certificate with the peer name from another CA: B refuses the handshake.
        let stranger = try CertificateAuthority.generate(now: Date())
        let impostor = try await Replica("impostor", routes: routes, certificate: try Self.peerCertificate(stranger), trusting: authority)
        // A certificate from the CA without the peer name (an upstream client identity): B answers 403.
        let client = try await Replica("client", routes: routes, certificate: try authority.issue(.client(commonName: "portcullis:default:orders"), now: Date()), trusting: authority)
        for sender in [impostor, client] {
            sender.exchange.updatePeers([b.asPeer])
            _ = try await sender.get("/orders/close")
            #expect(sender.breaker("orders")?.state == .open)
            #expect(try await Self.within(.seconds(2)) { try sender.counter("failed") == 1 }, "\(sender.name) could not deliver")
            #expect(try sender.counter("sent") == 0)
        }
        #expect(b.breaker("orders")?.state == .closed)
        #expect(try b.counter("received") == 0, "nothing reached the exchange")

        // Without a client certificate the handshake fails; over plain HTTP the endpoint is forbidden.
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try authority.trustAnchorPEM.utf8)))
        let anonymous = try await Self.tlsExchange(port: b.adminPort, configuration: configuration)
        #expect(anonymous.isEmpty, "no answer without a client certificate: \(anonymous)")
        let body = #"{"sender":"x","namespace":"default","name":"orders","settings":"0000000000000000","state":"Open","openForMilliseconds":1000,"tripStreak":1}"#
        let plain = try await RawHTTPClient.exchange(
            port: b.adminPort,
            "POST \(BreakerExchange.path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
        #expect(plain.hasPrefix("HTTP/1.1 403"))
        #expect(plain.contains("only over mutual TLS"))
        #expect(b.breaker("orders")?.state == .closed)
        #expect(try await RawHTTPClient.exchange(port: b.adminPort, "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200"), "plain HTTP still serves probes")

        for replica in [b, impostor, client] { try await replica.stop() }
        try await upstream.stop()
    }

    @Test func aMalformedTransitionIsRefusedNamingTheField() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1)
        let b = try await Replica("replica-b", routes: [Self.route("orders", port: 1, breaker: breaker)], certificate: try Self.peerCertificate(authority), trusting: authority)
        let identity = try Self.peerCertificate(authority)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try authority.trustAnchorPEM.utf8)))
        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        func post(_ body: String) async throws -> String {
            try await Self.tlsExchange(
                port: b.adminPort, configuration: configuration,
                request: "POST \(BreakerExchange.path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            )
        }
        let badState = try await post(#"{"sender":"x","namespace":"default","name":"orders","settings":"0000000000000000","state":"Ajar","tripStreak":1}"#)
        #expect(badState.hasPrefix("HTTP/1.1 400"))
        #expect(badState.contains("state must be Open or Closed, not \"Ajar\""))
        let missing = try await post(#"{"sender":"x","namespace":"default","name":"orders","state":"Open","tripStreak":1}"#)
        #expect(missing.contains("settings is required"))
        let tooLong = try await post(#"{"sender":"x","namespace":"default","name":"orders","settings":"0000000000000000","state":"Open","openForMilliseconds":99999999999,"tripStreak":1}"#)
        #expect(tooLong.contains("openForMilliseconds must be 0 to 86400000, not 99999999999"))
        let otherSettings = try await post(#"{"sender":"x","namespace":"default","name":"orders","settings":"0000000000000000","state":"Open","openForMilliseconds":1000,"tripStreak":1}"#)
        #expect(otherSettings.hasPrefix("HTTP/1.1 409"))
        #expect(otherSettings.contains("not 0000000000000000"))
        let unknown = try await post(#"{"sender":"x","namespace":"default","name":"nope","settings":"0000000000000000","state":"Closed","tripStreak":0}"#)
        #expect(unknown.hasPrefix("HTTP/1.1 404"))
        #expect(b.breaker("orders")?.state == .closed)
        #expect(try b.counter("rejected") == 3)
        try await b.stop()
    }

    /// A peer may ask for up to a day (the message's bound); the Route's own `maxOpenDuration` (2 minutes
    /// here) is what a breaker follows at most, so a transition cannot hold a shared breaker open for a day.
    @Test func aPeersTransitionHoldsTheBreakerOpenNoLongerThanTheRoutesMaxOpenDuration() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30), maxOpenDuration: .seconds(120))
        let b = try await Replica(
            "replica-b", routes: [Self.route("orders", port: upstream.port, breaker: breaker)], certificate: try Self.peerCertificate(authority), trusting: authority
        )
        let debug = try await RawHTTPClient.exchange(port: b.adminPort, "GET /debug/breakers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let breakers = try #require(JSONSerialization.jsonObject(with: Data(debug.httpBody.utf8)) as? [String: Any])["breakers"] as? [[String: Any]]
        let settings = try #require(breakers?.first?["settings"] as? String)
        let identity = try Self.peerCertificate(authority)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try authority.trustAnchorPEM.utf8)))
        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(identity.certificatePEM.utf8)).map { .certificate($0) }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(identity.privateKeyPEM.utf8), format: .pem))
        let body = #"{"sender":"replica-a","namespace":"default","name":"orders","settings":"\#(settings)","state":"Open","openForMilliseconds":86400000,"tripStreak":10000}"#
        let answer = try await Self.tlsExchange(
            port: b.adminPort, configuration: configuration,
            request: "POST \(BreakerExchange.path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
        )
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(b.breaker("orders")?.state == .open)
        let rejected = try await b.get("/orders/fine")
        #expect(rejected.hasPrefix("HTTP/1.1 503"))
        let retryAfter = Int(rejected.httpHeader("retry-after") ?? "") ?? 0
        #expect((119...120).contains(retryAfter), "open for maxOpenDuration (120 s), not a day: retry-after \(retryAfter)")
        #expect(upstream.requestCount("/fine") == 0)
        try await b.stop()
        try await upstream.stop()
    }

    /// Opens a TLS connection with `configuration` (server name ``PeerTLS/peerName``), sends `request` and
    /// returns everything answered until the connection closes; empty when the handshake fails.
    static func tlsExchange(port: Int, configuration: TLSConfiguration, request: String = "GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") async throws -> String {
        let context = try NIOSSLContext(configuration: configuration)
        let collected = NIOLockedValueBox(ByteBuffer())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: PeerTLS.peerName))
                    try channel.pipeline.syncOperations.addHandler(RawHTTPClient.Collector(collected))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        try? await channel.writeAndFlush(ByteBuffer(string: request))
        try? await channel.closeFuture.get()
        var bytes = collected.withLockedValue { $0 }
        return bytes.readString(length: bytes.readableBytes) ?? ""
    }

    /// A port on which nothing listens (yet): bound and closed again.
    static func freePort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let port = channel.localAddress!.port!
        try await channel.close()
        return port
    }

    @Test func aPeerThatWasUnreachableWhenABreakerOpenedGetsItOnceReachable() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let backoff = Duration.seconds(1)
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        let routes = [Self.route("orders", port: upstream.port, breaker: breaker)]
        let a = try await Replica(
            "replica-a", routes: routes, certificate: try Self.peerCertificate(authority), trusting: authority,
            configuration: .init(unreachableBackoff: backoff)
        )
        // B's admin port is not listening yet when A's breaker opens.
        let port = try await Self.freePort()
        a.exchange.updatePeers([try BreakerPeer(identity: "replica-b", address: "127.0.0.1:\(port)")])
        #expect(try await a.get("/orders/close").hasPrefix("HTTP/1.1 502"))
        #expect(a.breaker("orders")?.state == .open)
        #expect(try await Self.within(.seconds(3)) { try a.counter("failed") >= 1 }, "the first post found nobody")

        try await Task.sleep(for: .milliseconds(500))
        let b = try await Replica(
            "replica-b", routes: routes, certificate: try Self.peerCertificate(authority), trusting: authority, adminPort: port
        )
        b.exchange.updatePeers([a.asPeer])
        let listening = ContinuousClock.now
        #expect(try await Self.within(.seconds(10)) { b.breaker("orders")?.state == .open }, "B learns that the breaker is open")
        let took = ContinuousClock.now - listening
        #expect(took < backoff + .seconds(1), "within the back-off and a second of B listening, not \(took)")
        #expect(b.breaker("orders")?.changedBy == "replica-a")
        // B stays open for what is left of A's period, not a fresh 30 s and not less than most of it.
        let rejected = try await b.get("/orders/fine")
        #expect(rejected.hasPrefix("HTTP/1.1 503"))
        let retryAfter = Int(rejected.httpHeader("retry-after") ?? "") ?? 0
        #expect((20...30).contains(retryAfter), "retry-after \(retryAfter)")
        #expect(upstream.requestCount("/fine") == 0)

        // Exactly one message made it, and nothing came back: B does not echo what it follows.
        try await Task.sleep(for: .seconds(2))
        #expect(try b.counter("received") == 1)
        #expect(try a.counter("sent") == 1)
        #expect(try b.counter("sent") == 0)
        #expect(try a.counter("received") == 0)
        try await a.stop()
        try await b.stop()
        try await upstream.stop()
    }

    @Test func aPeerAddedLaterIsToldTheSharedBreakersOpenOnThisReplicasOwnCalls() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let shared = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        var local = shared
        local.scope = .replica
        let routes = [
            Self.route("orders", port: upstream.port, breaker: shared), Self.route("followed", port: upstream.port, breaker: shared),
            Self.route("local", port: upstream.port, breaker: local),
        ]
        func replica(_ name: String) async throws -> Replica {
            try await Replica(name, routes: routes, certificate: try Self.peerCertificate(authority), trusting: authority)
        }
        let a = try await replica("replica-a")
        let b = try await replica("replica-b")
        let c = try await replica("replica-c")
        // A's own calls open "orders" (shared) and "local" (per replica); "followed" opens on C, and A follows C.
        c.exchange.updatePeers([a.asPeer])
        _ = try await c.get("/followed/close")
        #expect(try await Self.within(.seconds(5)) { a.breaker("followed")?.state == .open })
        _ = try await a.get("/orders/close")
        _ = try await a.get("/local/close")
        #expect(a.breaker("orders")?.state == .open && a.breaker("local")?.state == .open)
        try await Task.sleep(for: .milliseconds(500))
        #expect(try b.counter("received") == 0, "A knows no peers yet")

        // B appears in A's peer list (a new replica's Lease): A tells it what its own calls opened.
        a.exchange.updatePeers([b.asPeer])
        b.exchange.updatePeers([a.asPeer, c.asPeer])
        #expect(try await Self.within(.seconds(5)) { b.breaker("orders")?.state == .open }, "B learns about orders")
        #expect(b.breaker("orders")?.changedBy == "replica-a")
        try await Task.sleep(for: .seconds(2))
        #expect(b.breaker("followed")?.state == .closed, "A does not pass on what it follows from C")
        #expect(b.breaker("local")?.state == .closed, "a per-replica breaker is never sent")
        #expect(try b.counter("received") == 1, "one message: orders")
        #expect(try a.counter("received") == 1, "only C's; B had nothing of its own to tell")
        #expect(try c.counter("received") == 0)
        #expect(try b.counter("sent") == 0)
        for replica in [a, b, c] { try await replica.stop() }
        try await upstream.stop()
    }

    @Test func aPeerThatRestartedUnderTheSameIdentityAndAddressIsCaughtUp() async throws {
        let upstream = try await TestUpstream()
        let authority = try CertificateAuthority.generate(now: Date())
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
        let routes = [Self.route("orders", port: upstream.port, breaker: breaker)]
        func replica(_ name: String, adminPort: Int = 0) async throws -> Replica {
            try await Replica(name, routes: routes, certificate: try Self.peerCertificate(authority), trusting: authority, adminPort: adminPort)
        }
        let a = try await replica("replica-a")
        let b = try await replica("replica-b")
        let port = b.adminPort
        a.exchange.updatePeers([try BreakerPeer(identity: "replica-b", address: "127.0.0.1:\(port)", incarnation: "1")])
        _ = try await a.get("/orders/close")
        #expect(try await Self.within(.seconds(5)) { b.breaker("orders")?.state == .open })

        // B restarts between two transitions: nothing failed, so only its Lease tells A it is a new process.
        try await b.stop()
        let restarted = try await replica("replica-b", adminPort: port)
        #expect(restarted.breaker("orders")?.state == .closed)
        try await Task.sleep(for: .milliseconds(500))
        a.exchange.updatePeers([try BreakerPeer(identity: "replica-b", address: "127.0.0.1:\(port)", incarnation: "1")])
        try await Task.sleep(for: .seconds(1))
        #expect(restarted.breaker("orders")?.state == .closed, "the same incarnation: nothing to make up")
        a.exchange.updatePeers([try BreakerPeer(identity: "replica-b", address: "127.0.0.1:\(port)", incarnation: "2")])
        #expect(try await Self.within(.seconds(5)) { restarted.breaker("orders")?.state == .open }, "the restarted B is caught up")
        #expect(restarted.breaker("orders")?.changedBy == "replica-a")
        #expect(try restarted.counter("received") == 1)
        try await a.stop()
        try await restarted.stop()
        try await upstream.stop()
    }
}
