import Foundation
import Gateway
import NIOCore
import Resilience
import Testing

/// Circuit breakers, bulkheads and fallbacks on the request path, on real sockets.
@Suite struct PolicyTests {
    static func route(port: Int, breaker: CircuitBreakerConfiguration? = nil, bulkhead: BulkheadConfiguration = BulkheadConfiguration(), fallback: RouteConfig.Fallback? = nil, timeout: Duration = .seconds(15)) -> RouteConfig {
        var timeouts = TimeoutConfiguration()
        timeouts.request = timeout
        return RouteConfig(
            key: RouteKey(namespace: "default", name: "guarded"),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port),
            timeouts: timeouts,
            retry: RetryConfiguration(attempts: 1),
            circuitBreaker: breaker,
            bulkhead: bulkhead,
            fallback: fallback
        )
    }

    static func get(_ port: Int, _ path: String) async throws -> String {
        try await RawHTTPClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    }

    @Test func anOpenBreakerFailsFastWithoutTouchingTheUpstream() async throws {
        let upstream = try await TestUpstream()
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 2, openDuration: .seconds(30))
        let state = GatewayState(GatewayConfig(routes: [Self.route(port: upstream.port, breaker: breaker)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let port = gateway.localAddress!.port!
        #expect(try await Self.get(port, "/close").hasPrefix("HTTP/1.1 502"))
        #expect(try await Self.get(port, "/close").hasPrefix("HTTP/1.1 502"))
        let connectionsBefore = upstream.connectionCount
        let rejected = try await Self.get(port, "/fine")
        #expect(rejected.hasPrefix("HTTP/1.1 503 Service Unavailable"))
        #expect(rejected.contains("https://portcullis.io/problems/circuit-open"))
        #expect(Int(rejected.httpHeader("retry-after") ?? "") ?? 0 >= 29)
        #expect(upstream.connectionCount == connectionsBefore, "an open breaker does not reach the upstream")

        // A new config with the same breaker settings keeps the breaker open.
        state.apply(GatewayConfig(generation: 2, routes: [Self.route(port: upstream.port, breaker: breaker)]))
        #expect(try await Self.get(port, "/fine").hasPrefix("HTTP/1.1 503"))
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aStaticFallbackAnswersInsteadOfTheProblem() async throws {
        let upstream = try await TestUpstream()
        let breaker = CircuitBreakerConfiguration(consecutiveFailures: 1)
        let route = Self.route(port: upstream.port, breaker: breaker, fallback: .response(status: 200, contentType: "application/json", body: #"{"degraded":true}"#))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let port = gateway.localAddress!.port!
        let failed = try await Self.get(port, "/close")
        #expect(failed.hasPrefix("HTTP/1.1 200 OK"))
        #expect(failed.httpBody == #"{"degraded":true}"#)
        let open = try await Self.get(port, "/fine")
        #expect(open.hasPrefix("HTTP/1.1 200 OK") && open.httpBody == #"{"degraded":true}"#)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aFallbackUpstreamServesWhenThePrimaryIsDown() async throws {
        let fallback = try await TestUpstream()
        let downPort = TestUpstream.refusingPort
        let route = Self.route(port: downPort, fallback: .upstream(UpstreamTarget(scheme: .http, host: "127.0.0.1", port: fallback.port)))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let response = try await Self.get(gateway.localAddress!.port!, "/profile")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.contains("/profile"))
        try await gateway.close()
        try await fallback.stop()
    }

    @Test func aFullBulkheadRefusesAtOnce() async throws {
        let upstream = try await TestUpstream()
        let route = Self.route(port: upstream.port, bulkhead: BulkheadConfiguration(maxRequests: 1, maxPending: 0), timeout: .seconds(5))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let port = gateway.localAddress!.port!
        async let hanging = Self.get(port, "/hang")
        // The hanging request holds the slot once it reached the upstream.
        while upstream.connectionCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let started = ContinuousClock.now
        let refused = try await Self.get(port, "/fine")
        #expect(refused.hasPrefix("HTTP/1.1 503 Service Unavailable"))
        #expect(refused.contains("https://portcullis.io/problems/bulkhead-full"))
        #expect(ContinuousClock.now - started < .seconds(3), "refused at once, not after the hanging request's 5 s")
        #expect(try await hanging.hasPrefix("HTTP/1.1 504"))
        // The slot is back once the first request ended.
        #expect(try await Self.get(port, "/fine").hasPrefix("HTTP/1.1 200"))
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aWaitingRequestIsAdmittedWhenASlotFrees() async throws {
        let upstream = try await TestUpstream()
        let route = Self.route(port: upstream.port, bulkhead: BulkheadConfiguration(maxRequests: 1, maxPending: 1), timeout: .seconds(1))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let port = gateway.localAddress!.port!
        async let hanging = Self.get(port, "/hang")
        while upstream.connectionCount == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let waited = try await Self.get(port, "/fine")
        #expect(try await hanging.hasPrefix("HTTP/1.1 504"))
        #expect(!waited.contains("bulkhead-full"), "it waited for the slot instead of being refused")
        #expect(waited.hasPrefix("HTTP/1.1 200") || waited.hasPrefix("HTTP/1.1 504"), "\(waited)")
        try await gateway.close()
        try await upstream.stop()
    }
}
