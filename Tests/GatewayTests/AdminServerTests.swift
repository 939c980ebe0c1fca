import Foundation
import Logging
import NIOCore
import PortcullisTestSupport
import Testing

@testable import Gateway

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

/// `/debug/*` answers loopback clients only, unless exposed; probes and metrics answer everyone. The other client
/// is a real one in a network namespace of the test's own, across a veth pair.
@Suite(
    .serialized,
    .enabled(if: getuid() == 0 && ExternalTool("ip").url != nil && ExternalTool("curl").url != nil, "needs root, ip and curl for a network namespace")
)
struct AdminServerDebugExposureTests {
    /// A namespace with a veth pair to this one: the admin server is reached at `hostAddress` from `clientAddress`.
    struct OtherHost {
        let suffix = WireGuardTestEnvironment.uniqueSuffix()
        let octet = WireGuardTestEnvironment.randomOctet()
        var hostAddress: String { "172.30.\(octet).1" }
        var hostVeth: String { "pav" + suffix }
        let namespace: NetworkNamespace

        init() async throws {
            namespace = try await NetworkNamespace.create("pad-" + suffix)
            let ip = NetworkNamespace.ip
            for arguments in [
                ["link", "add", hostVeth, "type", "veth", "peer", "name", "paw" + suffix, "netns", namespace.name],
                ["addr", "add", "\(hostAddress)/30", "dev", hostVeth],
                ["link", "set", hostVeth, "up"],
            ] {
                let output = try await ip.run(arguments)
                guard output.status == 0 else { throw NetworkSetupError(message: "ip \(arguments.joined(separator: " ")): \(output.stderr)") }
            }
            try await namespace.run(["ip", "addr", "add", "172.30.\(octet).2/30", "dev", "paw" + suffix])
            try await namespace.run(["ip", "link", "set", "paw" + suffix, "up"])
        }

        /// `curl` from the namespace: the status line's code and the body.
        func get(_ url: String) async throws -> (status: Int, contentType: String, body: String) {
            let output = try await namespace.attempt(["curl", "-s", "-m", "5", "-o", "-", "-w", "\n%{http_code} %{content_type}", url])
            var lines = output.stdout.components(separatedBy: "\n")
            let last = lines.removeLast().split(separator: " ", maxSplits: 1)
            return (Int(last.first ?? "") ?? 0, last.count > 1 ? String(last[1]) : "", lines.joined(separator: "\n"))
        }

        func remove() async {
            _ = try? await NetworkNamespace.ip.run(["link", "del", hostVeth])
            await namespace.delete()
        }
    }

    static func admin(exposeDebug: Bool) async throws -> any Channel {
        try await AdminServer(
            host: "0.0.0.0", port: 0, isReady: { true }, describeConfig: { #"{"routes":[]}"# }, renderMetrics: { "up 1\n" },
            breakerExchange: BreakerExchange(identity: "test", state: GatewayState(), logger: Logger(label: "test")),
            exposeDebug: exposeDebug
        ).start()
    }

    @Test func debugAnswersLoopbackClientsOnlyUnlessExposed() async throws {
        let other = try await OtherHost()
        do {
            let admin = try await Self.admin(exposeDebug: false)
            let port = admin.localAddress!.port!
            let base = "http://\(other.hostAddress):\(port)"
            for path in ["/debug/config", "/debug/breakers"] {
                let refused = try await other.get(base + path)
                #expect(refused.status == 403, "\(path): \(refused)")
                #expect(refused.contentType == "application/problem+json")
                let problem = try #require(try JSONSerialization.jsonObject(with: Data(refused.body.utf8)) as? [String: Any])
                #expect(problem["type"] as? String == "https://portcullis.io/problems/debug-not-exposed")
                #expect(problem["status"] as? Int == 403)
                #expect((problem["detail"] as? String)?.contains("--expose-debug") == true, "\(refused.body)")
                #expect(!refused.body.contains("routes"), "nothing of the config leaks")
                // From loopback (as through kubectl port-forward) it answers.
                let local = try await RawHTTPClient.exchange(port: port, "GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                #expect(local.hasPrefix("HTTP/1.1 200"), "\(local)")
            }
            // Probes and Prometheus reach it from anywhere.
            #expect(try await other.get(base + "/healthz").status == 200)
            #expect(try await other.get(base + "/readyz").status == 200)
            #expect(try await other.get(base + "/metrics").body == "up 1\n")
            try await admin.close()

            let exposed = try await Self.admin(exposeDebug: true)
            let answer = try await other.get("http://\(other.hostAddress):\(exposed.localAddress!.port!)/debug/config")
            #expect(answer.status == 200 && answer.body == #"{"routes":[]}"#, "\(answer)")
            try await exposed.close()
        } catch {
            await other.remove()
            throw error
        }
        await other.remove()
    }

    @Test func loopbackIsRecognisedInEveryForm() throws {
        for (address, loopback) in [("127.0.0.1", true), ("127.8.9.10", true), ("::1", true), ("::ffff:127.0.0.1", true),
                                    ("172.30.1.2", false), ("::ffff:172.30.1.2", false), ("fe80::1", false), ("::", false)] {
            #expect(AdminServer.isLoopback(try SocketAddress(ipAddress: address, port: 80)) == loopback, "\(address)")
        }
        #expect(!AdminServer.isLoopback(nil))
    }
}
