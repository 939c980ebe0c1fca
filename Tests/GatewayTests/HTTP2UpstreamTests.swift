import Foundation
@testable import Gateway
import MetricsTestKit
import NIOCore
import NIOPosix
import Resilience
import Testing

/// Routes to HTTP/2 upstreams, over TLS with ALPN and without TLS (h2c), on real sockets.
@Suite struct HTTP2UpstreamTests {
    static func route(port: Int, tls trustedCAPEM: String?, retry: RetryConfiguration = RetryConfiguration()) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: "h2"),
            upstream: UpstreamTarget(
                scheme: trustedCAPEM == nil ? .http : .https, host: "127.0.0.1", port: port,
                tls: trustedCAPEM.map { UpstreamTarget.TLS(trustedCAPEM: $0) }, httpProtocol: .http2
            ),
            retry: retry
        )
    }

    @Test(arguments: [HTTP2TestUpstream.Speaks.h2OverTLS, .h2c])
    func requestsAndBodiesGoBothWays(_ speaks: HTTP2TestUpstream.Speaks) async throws {
        let upstream = try await HTTP2TestUpstream(speaks)
        let route = Self.route(port: upstream.port, tls: speaks == .h2c ? nil : upstream.trustedCAPEM)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let port = gateway.localAddress!.port!

        let get = try await RawHTTPClient.exchange(port: port, "GET /items?page=2 HTTP/1.1\r\nHost: gw.example.com\r\nX-Request-ID: req-h2\r\nTE: trailers\r\nConnection: close, TE\r\n\r\n")
        #expect(get.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(get)")
        let echo = try ProxyTests.echo(get)
        #expect(echo["uri"] as? String == "/items?page=2")
        let headers = ProxyTests.headers(echo)
        #expect(headers.first { $0.0 == "host" }?.1 == "127.0.0.1:\(upstream.port)", "the Host header went as :authority")
        #expect(headers.first { $0.0 == "x-forwarded-host" }?.1 == "gw.example.com")
        #expect(headers.first { $0.0 == "x-request-id" }?.1 == "req-h2")
        #expect(headers.first { $0.0 == "te" }?.1 == "trailers", "HTTP/2 upstreams (gRPC among them) are told the client takes trailers")
        #expect(!headers.contains { $0.0 == "connection" })
        #expect(get.httpHeader("x-request-id") == "req-h2")

        let size = 3 * 1024 * 1024 + 17
        let upload = try await RawHTTPClient.exchange(
            port: port,
            "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n",
            extraBody: ByteBuffer(repeating: 0x62, count: size)
        )
        #expect(upload.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(upload.prefix(300))")
        #expect(try ProxyTests.echo(upload)["bodyBytes"] as? Int == size)
        let download = try await RawHTTPClient.exchange(port: port, "GET /stream/\(size) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(download.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(download.httpBody.utf8.count == size)
        #expect(upstream.connectionCount <= 2, "one connection per event loop at most, all requests multiplexed on it")
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func concurrentRequestsAreStreamsOnOneConnection() async throws {
        let upstream = try await HTTP2TestUpstream(.h2OverTLS)
        let metrics = TestMetrics()
        // One event loop, so one pool: every request must go to the same connection.
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, tls: upstream.trustedCAPEM)]), metricsFactory: metrics)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, group: loop).start()
        let port = gateway.localAddress!.port!
        let origin = "https://127.0.0.1:\(upstream.port)"

        // The upstream holds every request until all 24 are in flight: they can only be concurrent streams.
        let count = 24
        let responses = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<count {
                group.addTask { try await RawHTTPClient.exchange(port: port, "GET /barrier/\(count) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK") }, "\(responses.filter { !$0.hasPrefix("HTTP/1.1 200") }.first ?? "")")
        #expect(upstream.connectionCount == 1, "\(count) concurrent requests went as streams on one connection")
        #expect(try metrics.expectCounter("portcullis_upstream_connects_total", [("upstream", origin), ("result", "success")]).totalValue == 1)
        // Once the streams closed, the connection stays open for the next requests, idle.
        var idle: Double?
        for _ in 0..<100 {
            idle = try metrics.expectMeter("portcullis_upstream_connections", [("upstream", origin), ("state", "idle")]).lastValue
            if idle == 1 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(idle == 1)
        #expect(try metrics.expectMeter("portcullis_upstream_connections", [("upstream", origin), ("state", "active")]).lastValue == 0)

        let described = try #require(JSONSerialization.jsonObject(with: Data(state.describe().utf8)) as? [String: Any])
        #expect((described["routes"] as? [[String: Any]])?.first?["protocol"] as? String == "HTTP/2", "/debug/config says which routes speak HTTP/2")

        #expect(try await RawHTTPClient.exchange(port: port, "GET /again HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
        #expect(upstream.connectionCount == 1)
        #expect(try metrics.expectCounter("portcullis_upstream_connection_reuses_total", [("upstream", origin)]).totalValue >= 1)
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func moreConnectionsOpenOnlyWhenTheUpstreamsStreamLimitIsReached() async throws {
        let upstream = try await HTTP2TestUpstream(.h2c, maximumStreams: 4)
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gateway = try await GatewayServer(
            host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, tls: nil)])), group: loop
        ).start()
        let port = gateway.localAddress!.port!
        // Ten requests held until all ten are in flight, four streams a connection at most: 4 + 4 + 2.
        let responses = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<10 {
                group.addTask { try await RawHTTPClient.exchange(port: port, "GET /barrier/10 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK") }, "\(responses.filter { !$0.hasPrefix("HTTP/1.1 200") }.first ?? "")")
        #expect(upstream.connectionCount == 3)
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func streamsAGoAwayLeftUnprocessedGoAgainOnANewConnection() async throws {
        // The first connection processes its first 5 streams, and sends GOAWAY when its 10th arrives.
        let upstream = try await HTTP2TestUpstream(.h2c, goAway: HTTP2TestUpstream.GoAway(after: 10, lastProcessed: 5))
        let metrics = TestMetrics()
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        // One attempt and no retry budget: what goes again after a GOAWAY must not depend on them.
        let retry = RetryConfiguration(attempts: 1, budget: RetryBudgetConfiguration(percent: 0, minPerSecond: 0))
        let state = GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, tls: nil, retry: retry)]), metricsFactory: metrics)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, group: loop).start()
        let port = gateway.localAddress!.port!

        // POSTs are not idempotent: they may be sent again only because the upstream never processed them.
        let responses = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await RawHTTPClient.exchange(port: port, "POST /orders/\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK") }, "\(responses.filter { !$0.hasPrefix("HTTP/1.1 200") }.first ?? "")")
        #expect(try responses.allSatisfy { try ProxyTests.echo($0)["bodyBytes"] as? Int == 5 }, "the replayed bodies arrived whole")
        #expect(upstream.connectionCount == 2, "the unprocessed streams went on one new connection")
        let retries = try metrics.expectCounter("portcullis_gateway_retries_total", [("route", "default/h2")]).totalValue
        #expect(retries == 0, "streams a GOAWAY left unprocessed go again within their attempt, not as retries the budget pays for")
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func aRefusedStreamIsRetriedWhateverTheMethodAndIsA502WhenNoAttemptIsLeft() async throws {
        for attempts in [2, 1] {
            let upstream = try await HTTP2TestUpstream(.h2c)
            let metrics = TestMetrics()
            let route = Self.route(port: upstream.port, tls: nil, retry: RetryConfiguration(attempts: attempts, backoff: BackoffConfiguration(base: .milliseconds(1), max: .milliseconds(2))))
            let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]), metricsFactory: metrics)).start()
            let response = try await RawHTTPClient.exchange(
                port: gateway.localAddress!.port!, "POST /refuse-once HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
            )
            if attempts == 2 {
                #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
                #expect(try ProxyTests.echo(response)["bodyBytes"] as? Int == 5)
                #expect(try metrics.expectCounter("portcullis_gateway_retries_total", [("route", "default/h2")]).totalValue == 1)
            } else {
                #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway"), "\(response)")
                #expect(response.contains("https://portcullis.io/problems/upstream-unreachable"))
                #expect(response.contains("(REFUSED_STREAM) after 1 attempt"), "\(response)")
            }
            try await gateway.close()
            try await upstream.stop()
        }
    }

    @Test func aLostConnectionFailsItsStreamsAtOnceAndTheNextRequestConnectsAgain() async throws {
        let upstream = try await HTTP2TestUpstream(.h2c)
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gateway = try await GatewayServer(
            host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, tls: nil)])), group: loop
        ).start()
        let port = gateway.localAddress!.port!
        // A POST is not sent again on a fresh connection: its upstream may have acted on it.
        let started = ContinuousClock.now
        async let hanging = RawHTTPClient.exchange(port: port, "POST /hang HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        while upstream.connectionCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(100))
        let killer = try await RawHTTPClient.exchange(port: port, "POST /kill-connection HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let hung = try await hanging
        for response in [killer, hung] {
            #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
            #expect(response.contains("https://portcullis.io/problems/upstream-protocol-error"))
        }
        // Well under the 15 s request timeout, with room for a machine the whole suite keeps busy.
        #expect(ContinuousClock.now - started < .seconds(10), "both failed with the connection, not at the 15 s request timeout")
        #expect(upstream.connectionCount == 1, "both streams were on the one connection")
        #expect(try await RawHTTPClient.exchange(port: port, "GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
        #expect(upstream.connectionCount == 2)
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func anUpstreamThatStaysSilentAfterTheHTTP2PrefaceFailsAtTheConnectTimeout() async throws {
        // Takes connections and reads nothing, answers nothing.
        let silent = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        var route = Self.route(port: silent.localAddress!.port!, tls: nil)
        route.timeouts.connect = .milliseconds(300)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let started = ContinuousClock.now
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
        #expect(response.contains("did not answer the HTTP/2 connection preface with SETTINGS"), "\(response)")
        #expect(ContinuousClock.now - started < .seconds(5), "at the 300 ms connect timeout, not the 15 s request timeout")
        try await gateway.close()
        try await silent.close()
    }

    @Test func anUpstreamThatSpeaksOnlyHTTP1IsAClear502() async throws {
        // Over TLS, ALPN selects http/1.1.
        let tlsUpstream = try await HTTP2TestUpstream(.http1OverTLS)
        // Without TLS, an HTTP/1.1 server answers the connection preface with an HTTP/1.1 error.
        let plainUpstream = try await TestUpstream()
        var overTLS = Self.route(port: tlsUpstream.port, tls: tlsUpstream.trustedCAPEM)
        overTLS.match = RouteMatchRule(path: .prefix("/tls"))
        var cleartext = Self.route(port: plainUpstream.port, tls: nil)
        cleartext.key = RouteKey(namespace: "default", name: "h2c")
        cleartext.match = RouteMatchRule(path: .prefix("/plain"))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [overTLS, cleartext]))).start()
        let port = gateway.localAddress!.port!

        let alpn = try await RawHTTPClient.exchange(port: port, "GET /tls HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(alpn.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(alpn)")
        #expect(alpn.contains("https://portcullis.io/problems/upstream-protocol-error"))
        // It offers only http/1.1 and the gateway only h2, so ALPN agrees on nothing.
        #expect(alpn.contains("did not select HTTP/2 by TLS ALPN (it selected no protocol)"), "\(alpn)")
        #expect(tlsUpstream.connectionCount == 1, "a protocol mismatch is not retried")

        let h2c = try await RawHTTPClient.exchange(port: port, "GET /plain HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(h2c.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(h2c)")
        #expect(h2c.contains("https://portcullis.io/problems/upstream-protocol-error"))
        #expect(h2c.contains("did not answer the HTTP/2 connection preface with SETTINGS"), "\(h2c)")
        try await gateway.close()
        try await tlsUpstream.stop()
        try await plainUpstream.stop()
    }

    /// Waits until `condition` holds, for `limit` at most; false if it never did.
    static func eventually(within limit: Duration = .seconds(20), _ condition: () throws -> Bool) async throws -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try condition()
    }

    @Test(arguments: [HTTP2TestUpstream.Speaks.h2c, .h2OverTLS])
    func aConnectionThatStopsAnsweringPINGsIsClosedItsStreamsFailAndTheNextRequestConnectsAgain(_ speaks: HTTP2TestUpstream.Speaks) async throws {
        let upstream = try await HTTP2TestUpstream(speaks)
        let metrics = TestMetrics()
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var route = Self.route(port: upstream.port, tls: speaks == .h2c ? nil : upstream.trustedCAPEM, retry: RetryConfiguration(attempts: 1))
        // Under TLS's 5 s wait for a close_notify: the dead connection must fail its streams without it.
        route.timeouts.request = .seconds(5)
        let pool = UpstreamPoolConfiguration(http2: .init(pingInterval: .milliseconds(200), pingTimeout: .milliseconds(300)))
        let state = GatewayState(GatewayConfig(routes: [route]), metricsFactory: metrics)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, group: loop, upstreamPool: pool).start()
        let port = gateway.localAddress!.port!
        let origin = "\(speaks == .h2c ? "http" : "https")://127.0.0.1:\(upstream.port)"

        // A request the upstream holds is in flight on the connection when the upstream goes silent.
        async let hung = RawHTTPClient.exchange(port: port, "POST /hold HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        #expect(try await Self.eventually { upstream.heldCount == 1 }, "the held request reached the upstream")
        try await upstream.silence()
        let silenced = ContinuousClock.now
        let response = try await hung
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
        #expect(response.contains("https://portcullis.io/problems/upstream-protocol-error"))
        #expect(response.contains("died before it answered"), "\(response)")
        #expect(response.contains("nothing answered a PING within 300 ms; the gateway closed it as dead"), "\(response)")
        #expect(ContinuousClock.now - silenced < .seconds(5), "at the PING timeout, not the request timeout")
        #expect(try metrics.expectCounter("portcullis_upstream_ping_timeouts_total", [("upstream", origin)]).totalValue == 1)

        // The dead connection left the pool: the next request opens a new one.
        let after = try await RawHTTPClient.exchange(port: port, "GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(after.hasPrefix("HTTP/1.1 200 OK"), "\(after)")
        #expect(upstream.connectionCount == 2)
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func anIdleConnectionThatAnswersPINGsStaysOpenAndIsReused() async throws {
        let upstream = try await HTTP2TestUpstream(.h2c)
        let metrics = TestMetrics()
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = UpstreamPoolConfiguration(http2: .init(pingInterval: .milliseconds(100), pingTimeout: .milliseconds(500)))
        let state = GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, tls: nil)]), metricsFactory: metrics)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, group: loop, upstreamPool: pool).start()
        let port = gateway.localAddress!.port!
        let origin = "http://127.0.0.1:\(upstream.port)"

        #expect(try await RawHTTPClient.exchange(port: port, "GET /first HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200 OK"))
        // Idle, the connection is pinged; three answered PINGs span three PING timeouts at least.
        #expect(try await Self.eventually { upstream.pingCount >= 3 }, "PINGs went out on the idle connection")
        #expect(upstream.openConnectionCount == 1)
        let again = try await RawHTTPClient.exchange(port: port, "GET /again HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(again.hasPrefix("HTTP/1.1 200 OK"), "\(again)")
        #expect(upstream.connectionCount == 1, "the pinged connection was kept and reused")
        #expect(try metrics.expectCounter("portcullis_upstream_connection_reuses_total", [("upstream", origin)]).totalValue == 1)
        #expect(try metrics.expectCounter("portcullis_upstream_ping_timeouts_total", [("upstream", origin)]).totalValue == 0)
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }

    @Test func aConnectionDrainsBeforeItRunsOutOfStreamIDsAndItsStreamsFinish() async throws {
        let upstream = try await HTTP2TestUpstream(.h2c)
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var pool = UpstreamPoolConfiguration()
        pool.http2.streamsPerConnection = 7
        // One attempt: a stream cut off by a connection closing too early would be a failed request, not a retry.
        let route = Self.route(port: upstream.port, tls: nil, retry: RetryConfiguration(attempts: 1))
        let gateway = try await GatewayServer(
            host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route])), group: loop, upstreamPool: pool
        ).start()
        let port = gateway.localAddress!.port!

        // One after another: 7 streams on the first connection, which then closes; 3 on the second.
        for index in 0..<10 {
            let response = try await RawHTTPClient.exchange(port: port, "POST /seq/\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
            #expect(response.hasPrefix("HTTP/1.1 200 OK"), "request \(index): \(response)")
        }
        #expect(upstream.connectionCount == 2)
        #expect(try await Self.eventually { upstream.openConnectionCount == 1 }, "the first connection closed once its last stream ended")

        // Twenty at once, held until all twenty are in flight: the second connection's last 4 streams, then
        // 7 + 7 + 2 on new ones. Draining connections keep their streams open until they are answered.
        let responses = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await RawHTTPClient.exchange(port: port, "POST /barrier/20 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK") }, "\(responses.filter { !$0.hasPrefix("HTTP/1.1 200") }.first ?? "")")
        #expect(upstream.connectionCount == 5)
        #expect(try await Self.eventually { upstream.openConnectionCount == 1 }, "the drained connections closed; the last, with room, stays")
        try await gateway.close()
        try await upstream.stop()
        try await loop.shutdownGracefully()
    }
}
