import Foundation
import Gateway
import NIOCore
import Testing

@Suite struct AdminServerTests {
    @Test func readinessFollowsTheFirstConfigAndDebugShowsIt() async throws {
        let state = GatewayState()
        let admin = try await AdminServer(host: "127.0.0.1", port: 0, isReady: { state.isReady }, describeConfig: { state.describe() }).start()
        let port = admin.localAddress!.port!
        func get(_ path: String) async throws -> String {
            try await RawHTTPClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        }
        #expect(try await get("/healthz").hasPrefix("HTTP/1.1 200"))
        #expect(try await get("/readyz").hasPrefix("HTTP/1.1 503"))
        let route = RouteConfig(
            key: RouteKey(namespace: "default", name: "hello"),
            generation: 3,
            match: RouteMatchRule(path: .prefix("/hello")),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: 8090)
        )
        state.apply(GatewayConfig(generation: 7, routes: [route]))
        #expect(try await get("/readyz").hasPrefix("HTTP/1.1 200"))
        let config = try await get("/debug/config")
        let document = try #require(JSONSerialization.jsonObject(with: Data(config.httpBody.utf8)) as? [String: Any])
        #expect(document["generation"] as? Int == 7)
        let routes = try #require(document["routes"] as? [[String: Any]])
        #expect(routes.first?["route"] as? String == "default/hello")
        #expect(routes.first?["upstream"] as? String == "http://127.0.0.1:8090")
        #expect(try await get("/nope").hasPrefix("HTTP/1.1 404"))
        try await admin.close()
    }
}

@Suite struct AdminServerMetricsTests {
    @Test func metricsAreServedInThePrometheusTextFormatWhenARendererIsGiven() async throws {
        let exposition = "# TYPE portcullis_gateway_routes gauge\nportcullis_gateway_routes 3.0\n"
        let admin = try await AdminServer(
            host: "127.0.0.1",
            port: 0,
            isReady: { true },
            describeConfig: { "{}" },
            renderMetrics: { exposition }
        ).start()
        let response = try await RawHTTPClient.exchange(
            port: admin.localAddress!.port!,
            "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        #expect(response.hasPrefix("HTTP/1.1 200"))
        #expect(response.lowercased().contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(response.httpBody == exposition)
        try await admin.close()

        let without = try await AdminServer(host: "127.0.0.1", port: 0, isReady: { true }, describeConfig: { "{}" }).start()
        let notServed = try await RawHTTPClient.exchange(
            port: without.localAddress!.port!,
            "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        #expect(notServed.hasPrefix("HTTP/1.1 404"), "no renderer, no /metrics")
        try await without.close()
    }
}
