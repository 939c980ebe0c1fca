import Foundation
import Gateway
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import Resilience
import Testing

/// Captures log records, for the access log.
struct CapturingLogHandler: LogHandler {
    let records: NIOLockedValueBox<[(message: String, metadata: [String: String])]>
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        records.withLockedValue { $0.append(("\(event.message)", (event.metadata ?? [:]).mapValues { "\($0)" })) }
    }
}

/// Per-route metrics and the access log, from real requests.
@Suite struct ObservabilityTests {
    @Test func routesCountResponsesRetriesAndBreakerTransitionsAndEveryRequestIsLogged() async throws {
        let upstream = try await TestUpstream()
        let metrics = TestMetrics()
        let ok = RouteConfig(key: RouteKey(namespace: "shop", name: "ok"), match: RouteMatchRule(path: .prefix("/ok")), upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstream.port))
        let down = RouteConfig(
            key: RouteKey(namespace: "shop", name: "down"),
            match: RouteMatchRule(path: .prefix("/down")),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: TestUpstream.refusingPort),
            retry: RetryConfiguration(attempts: 2, backoff: BackoffConfiguration(base: .milliseconds(1), max: .milliseconds(2)), budget: RetryBudgetConfiguration(percent: 100, minPerSecond: 100)),
            circuitBreaker: CircuitBreakerConfiguration(consecutiveFailures: 4, openDuration: .seconds(60))
        )
        let records = NIOLockedValueBox<[(message: String, metadata: [String: String])]>([])
        let state = GatewayState(GatewayConfig(routes: [ok, down]), metricsFactory: metrics)
        let gateway = try await GatewayServer(
            host: "127.0.0.1", port: 0, state: state, accessLog: Logger(label: "access", factory: { _ in CapturingLogHandler(records: records) })
        ).start()
        let port = gateway.localAddress!.port!
        func get(_ path: String) async throws -> String {
            try await RawHTTPClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: gw\r\nX-Request-ID: req-\(path.dropFirst())\r\nConnection: close\r\n\r\n")
        }
        #expect(try await get("/ok").hasPrefix("HTTP/1.1 200"))
        #expect(try await get("/down").hasPrefix("HTTP/1.1 502"))
        #expect(try await get("/down").hasPrefix("HTTP/1.1 502"))
        #expect(try await get("/down").hasPrefix("HTTP/1.1 503"), "the breaker opened after four failed attempts")
        #expect(try await get("/nowhere").hasPrefix("HTTP/1.1 404"))
        #expect(try await RawHTTPClient.exchange(port: port, "GET /ok?access_token=abc123 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 200"))

        func count(_ route: String, _ code: String) throws -> Int64 {
            try metrics.expectCounter("portcullis_gateway_requests_total", [("route", route), ("code", code)]).totalValue
        }
        #expect(try count("shop/ok", "2xx") == 2)
        #expect(try count("shop/down", "5xx") == 3)
        #expect(try metrics.expectTimer("portcullis_gateway_request_duration_seconds", [("route", "shop/ok")]).values.count == 2)
        #expect(try metrics.expectCounter("portcullis_gateway_retries_total", [("route", "shop/down")]).totalValue == 2, "one retry per failed request")
        #expect(try metrics.expectCounter("portcullis_gateway_circuit_breaker_transitions_total", [("route", "shop/down"), ("to", "Open")]).totalValue == 1)
        #expect(try metrics.expectGauge("portcullis_gateway_circuit_breaker_open", [("route", "shop/down")]).lastValue == 1)

        let logged = records.withLockedValue { $0 }
        #expect(logged.count == 6)
        let first = try #require(logged.first)
        #expect(first.metadata["request_id"] == "req-ok")
        #expect(first.metadata["route"] == "shop/ok")
        #expect(first.metadata["status"] == "200")
        #expect(first.metadata["method"] == "GET")
        #expect(logged[1].metadata["attempts"] == "2")
        #expect(logged[1].metadata["problem"] == "https://portcullis.io/problems/upstream-unreachable")
        #expect(logged[3].metadata["problem"] == "https://portcullis.io/problems/circuit-open")
        #expect(logged[4].metadata["status"] == "404")
        #expect(logged[5].metadata["path"] == "/ok")
        #expect(!logged.contains { $0.metadata.values.contains { $0.contains("abc123") } }, "a query may carry credentials: it is not logged")
        try await gateway.close()
        try await upstream.stop()
    }
    @Test func upstreamPoolsCountConnectionsByStateConnectsAndReuses() async throws {
        let upstream = try await TestUpstream()
        let metrics = TestMetrics()
        let routes = [
            RouteConfig(key: RouteKey(namespace: "shop", name: "ok"), match: RouteMatchRule(path: .prefix("/ok")), upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstream.port)),
            RouteConfig(key: RouteKey(namespace: "shop", name: "rude"), match: RouteMatchRule(path: .prefix("/close")), upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstream.port)),
            RouteConfig(
                key: RouteKey(namespace: "shop", name: "down"), match: RouteMatchRule(path: .prefix("/down")),
                upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: TestUpstream.refusingPort), retry: RetryConfiguration(attempts: 1)
            ),
        ]
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: routes), metricsFactory: metrics)).start()
        let port = gateway.localAddress!.port!
        let origin = "http://127.0.0.1:\(upstream.port)"
        func connections(_ state: String, _ upstream: String = origin) -> Double? {
            try? metrics.expectMeter("portcullis_upstream_connections", [("upstream", upstream), ("state", state)]).lastValue
        }
        func connects(_ result: String, _ upstream: String = origin) -> Int64? {
            try? metrics.expectCounter("portcullis_upstream_connects_total", [("upstream", upstream), ("result", result)]).totalValue
        }
        /// Waits up to 5 s for the pool's bookkeeping, which runs on the event loop after the response went out.
        func eventually(_ condition: () -> Bool) async throws -> Bool {
            for _ in 0..<250 where !condition() { try await Task.sleep(for: .milliseconds(20)) }
            return condition()
        }

        // Requests on one client connection, so on one event loop and its pool: one upstream connection,
        // made once and reused twice.
        let client = try await KeepAliveClient(port: port)
        for index in 1...3 { #expect(try await client.get("/ok/\(index)") == 200) }
        #expect(try await eventually { connections("idle") == 1 && connections("active") == 0 }, "idle \(connections("idle") ?? -1), active \(connections("active") ?? -1)")
        #expect(connects("success") == 1)
        #expect(connects("failure") == nil || connects("failure") == 0)
        #expect(try metrics.expectCounter("portcullis_upstream_connection_reuses_total", [("upstream", origin)]).totalValue == 2)
        #expect(upstream.connectionCount == 1)

        // An upstream that closes the connection it answers on: the pooled one is reused, then gone.
        #expect(try await client.get("/close") == 502)
        #expect(try await eventually { connections("idle") == 0 && connections("active") == 0 }, "idle \(connections("idle") ?? -1), active \(connections("active") ?? -1)")
        #expect(try metrics.expectCounter("portcullis_upstream_connection_reuses_total", [("upstream", origin)]).totalValue == 3)
        await client.close()

        // A refused connection counts as a failed connect of its own origin.
        #expect(try await RawHTTPClient.exchange(port: port, "GET /down HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").hasPrefix("HTTP/1.1 502"))
        let refusing = "http://127.0.0.1:\(TestUpstream.refusingPort)"
        #expect(try await eventually { connects("failure", refusing) == 1 })
        #expect(connects("success", refusing) == nil || connects("success", refusing) == 0)
        #expect(connections("active", refusing) == nil || connections("active", refusing) == 0)
        try await gateway.close()
        try await upstream.stop()
    }
}
