import Foundation
import Gateway
import NIOCore
import NIOPosix
import Resilience
import PortcullisTestSupport
import Testing

/// The gateway proxying real requests on loopback sockets.
@Suite struct ProxyTests {
    struct Setup {
        let upstream: TestUpstream
        let state: GatewayState
        let gateway: any Channel
        var port: Int { gateway.localAddress!.port! }

        init(routes: (Int) -> [RouteConfig]) async throws {
            upstream = try await TestUpstream()
            state = GatewayState(GatewayConfig(generation: 1, routes: routes(upstream.port)))
            gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        }

        func stop() async throws {
            try await gateway.close()
            try await upstream.stop()
        }
    }

    static func route(_ name: String, port: Int, path: String = "/", rewrite: String? = nil, forwardCredentials: Bool = false, timeouts: TimeoutConfiguration = TimeoutConfiguration(), retry: RetryConfiguration = RetryConfiguration()) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: name),
            match: RouteMatchRule(path: .prefix(path)),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port, basePath: ""),
            rewritePrefix: rewrite,
            forwardClientCredentials: forwardCredentials,
            timeouts: timeouts,
            retry: retry
        )
    }

    static func echo(_ response: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.httpBody.utf8)) as? [String: Any])
    }

    static func headers(_ echo: [String: Any]) -> [(String, String)] {
        (echo["headers"] as? [[String]] ?? []).map { ($0[0].lowercased(), $0[1]) }
    }

    @Test func requestsAreRewrittenAsAReverseProxyShould() async throws {
        let setup = try await Setup { [Self.route("api", port: $0, path: "/api", rewrite: "/v2")] }
        let response = try await RawHTTPClient.exchange(
            port: setup.port,
            "GET /api/users?page=2 HTTP/1.1\r\nHost: gw.example.com\r\nConnection: close, X-Private\r\nX-Private: hop\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nAuthorization: Bearer client-token\r\nProxy-Authorization: Basic abc\r\nX-Forwarded-For: 203.0.113.9\r\nX-Request-ID: req-123\r\ntraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n"
        )
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        let echo = try Self.echo(response)
        #expect(echo["uri"] as? String == "/v2/users?page=2")
        let headers = Self.headers(echo)
        let names = headers.map(\.0)
        for removed in ["connection", "x-private", "keep-alive", "te", "authorization", "proxy-authorization"] {
            #expect(!names.contains(removed), "\(removed) must not reach the upstream")
        }
        #expect(headers.first { $0.0 == "host" }?.1 == "127.0.0.1:\(setup.upstream.port)")
        #expect(headers.first { $0.0 == "x-forwarded-host" }?.1 == "gw.example.com")
        #expect(headers.first { $0.0 == "x-forwarded-for" }?.1 == "203.0.113.9, 127.0.0.1")
        #expect(headers.first { $0.0 == "x-forwarded-proto" }?.1 == "http")
        #expect(headers.first { $0.0 == "x-request-id" }?.1 == "req-123")
        #expect(headers.first { $0.0 == "traceparent" }?.1 == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(response.httpHeader("x-request-id") == "req-123")
        #expect(response.httpHeader("x-upstream-private") == nil, "headers the upstream's Connection names are hop-by-hop")
        #expect(response.httpHeader("keep-alive") == nil)
        try await setup.stop()
    }

    @Test func clientCredentialsAreForwardedOnlyWhenTheRouteSaysSo() async throws {
        let setup = try await Setup { [Self.route("api", port: $0, forwardCredentials: true)] }
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET / HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer client-token\r\nConnection: close\r\n\r\n")
        #expect(Self.headers(try Self.echo(response)).first { $0.0 == "authorization" }?.1 == "Bearer client-token")
        try await setup.stop()
    }

    @Test func aRequestIDIsGeneratedWhenTheClientSendsNone() async throws {
        let setup = try await Setup { [Self.route("api", port: $0)] }
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let id = try #require(Self.headers(try Self.echo(response)).first { $0.0 == "x-request-id" }?.1)
        #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
        #expect(response.httpHeader("x-request-id") == id)
        try await setup.stop()
    }

    @Test func noRouteIsA404Problem() async throws {
        let setup = try await Setup { [Self.route("api", port: $0, path: "/api")] }
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET /nothing HTTP/1.1\r\nHost: a\r\nX-Request-ID: abc\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(response.httpHeader("content-type") == "application/problem+json")
        let problem = try #require(JSONSerialization.jsonObject(with: Data(response.httpBody.utf8)) as? [String: Any])
        #expect(problem["type"] as? String == "https://portcullis.io/problems/no-route")
        #expect(problem["status"] as? Int == 404)
        #expect(problem["instance"] as? String == "abc")
        #expect((problem["detail"] as? String)?.contains("/nothing") == true)
        try await setup.stop()
    }

    @Test func anUnreachableUpstreamIsA502AfterTheConfiguredAttempts() async throws {
        let port = TestUpstream.refusingPort
        var retry = RetryConfiguration()
        retry.attempts = 3
        retry.backoff = BackoffConfiguration(base: .milliseconds(1), max: .milliseconds(2))
        let state = GatewayState(GatewayConfig(routes: [Self.route("gone", port: port, retry: retry)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(response.contains("https://portcullis.io/problems/upstream-unreachable"))
        #expect(response.contains("after 3 attempts"))
        try await gateway.close()
    }

    @Test func aSilentUpstreamIsA504AtTheRequestTimeout() async throws {
        var timeouts = TimeoutConfiguration()
        timeouts.request = .milliseconds(300)
        let setup = try await Setup { [Self.route("slow", port: $0, timeouts: timeouts)] }
        let started = ContinuousClock.now
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET /hang HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(ContinuousClock.now - started < .seconds(3))
        try await setup.stop()
    }

    /// The connection's one deadline check serves each request on it: set again when it fires
    /// before a later request's deadline, and brought forward for a request with a sooner one.
    @Test(.timeLimit(.minutes(1))) func eachRequestOnAConnectionTimesOutAtItsOwnDeadline() async throws {
        // Long enough for the first request to be answered on a machine the whole suite keeps busy.
        var short = TimeoutConfiguration()
        short.request = .seconds(1)
        var long = TimeoutConfiguration()
        long.request = .seconds(20)
        let setup = try await Setup { [Self.route("short", port: $0, timeouts: short), Self.route("long", port: $0, path: "/long", timeouts: long)] }
        // The first request's check is due before the second's deadline: it must be set again.
        var started = ContinuousClock.now
        var response = try await RawHTTPClient.exchange(port: setup.port, "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /hang HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        #expect(response.contains("HTTP/1.1 504 Gateway Timeout\r\n"), "\(response)")
        #expect(ContinuousClock.now - started >= .seconds(1))
        // The first request's check is due long after the second's deadline: it must come sooner.
        started = ContinuousClock.now
        response = try await RawHTTPClient.exchange(port: setup.port, "GET /long/one HTTP/1.1\r\nHost: a\r\n\r\nGET /hang HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.contains("HTTP/1.1 504 Gateway Timeout\r\n"), "\(response)")
        #expect(ContinuousClock.now - started < .seconds(10))
        try await setup.stop()
    }

    @Test func anUpstreamThatClosesBeforeAnsweringIsA502() async throws {
        let setup = try await Setup { [Self.route("rude", port: $0)] }
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET /close HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"))
        #expect(response.contains("upstream-protocol-error"))
        try await setup.stop()
    }

    @Test func anUpstreamThatClosesMidBodyClosesTheClientConnection() async throws {
        let setup = try await Setup { [Self.route("api", port: $0)] }
        // Keep-alive: the gateway must close the client's connection, or the client would wait for 90 more bytes.
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET /truncate HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.httpHeader("content-length") == "100")
        #expect(response.httpBody == String(repeating: "a", count: 10))
        #expect(setup.upstream.requestCount("/truncate") == 1, "a response that started is never retried")
        try await setup.stop()
    }

    @Test func largeBodiesStreamBothWays() async throws {
        let setup = try await Setup { [Self.route("big", port: $0)] }
        let size = 32 * 1024 * 1024
        let upload = try await RawHTTPClient.exchange(
            port: setup.port,
            "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n",
            extraBody: ByteBuffer(repeating: 0x62, count: size)
        )
        #expect(try Self.echo(upload)["bodyBytes"] as? Int == size)
        let download = try await RawHTTPClient.exchange(port: setup.port, "GET /stream/\(size) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(download.httpBody.utf8.count == size)
        try await setup.stop()
    }

    @Test func keepAliveReusesBothConnections() async throws {
        let setup = try await Setup { [Self.route("api", port: $0)] }
        let two = "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let response = try await RawHTTPClient.exchange(port: setup.port, two)
        #expect(response.components(separatedBy: "HTTP/1.1 200 OK").count == 3)
        #expect(response.contains("\"uri\":\"\\/one\"") || response.contains("\"uri\":\"/one\""))
        #expect(setup.upstream.connectionCount == 1, "the second request reused the pooled upstream connection")
        try await setup.stop()
    }

    @Test func aConfigSwapUnderLoadLosesNoRequest() async throws {
        let setup = try await Setup { [Self.route("v1", port: $0)] }
        let upstreamPort = setup.upstream.port
        let results = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<200 {
                group.addTask {
                    let response = try await RawHTTPClient.exchange(port: setup.port, "GET /r\(index) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                    return response.hasPrefix("HTTP/1.1 200 OK") ? nil : response
                }
            }
            group.addTask {
                for generation in 2...50 {
                    setup.state.apply(GatewayConfig(generation: Int64(generation), routes: [Self.route("v\(generation)", port: upstreamPort)]))
                    try await Task.sleep(for: .milliseconds(2))
                }
                return nil
            }
            var failures: [String] = []
            for try await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
        #expect(results.isEmpty, "\(results.count) failed, the first: \(results.first ?? "")")
        #expect(setup.state.generation == 50)
        try await setup.stop()
    }

    @Test func aPooledConnectionTheUpstreamClosedIsRetriedOnAFreshOne() async throws {
        let setup = try await Setup { [Self.route("api", port: $0)] }
        let response = try await RawHTTPClient.exchange(
            port: setup.port,
            "GET /first HTTP/1.1\r\nHost: a\r\n\r\nGET /close-once HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        )
        #expect(response.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(response)")
        #expect(setup.upstream.connectionCount == 2)
        try await setup.stop()
    }

    /// What the gateway answers itself over HTTP/2 ends its stream cleanly: the stream is not reset under it.
    @Test func anHTTP2StreamGetsTheGatewaysOwnAnswerWhole() async throws {
        let setup = try await Setup { [Self.route("api", port: $0, path: "/api")] }
        let curl = try await ExternalTool("curl").run([
            "-sS", "--http2-prior-knowledge", "-w", "\\n%{http_version} %{http_code}", "http://127.0.0.1:\(setup.port)/nothing",
        ])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.hasSuffix("\n2 404"), "\(curl.stdout)")
        #expect(curl.stdout.contains("https://portcullis.io/problems/no-route"))
        try await setup.stop()
    }

    @Test func http2WithPriorKnowledgeIsServedWithoutTLS() async throws {
        let setup = try await Setup { [Self.route("api", port: $0)] }
        let curl = try await ExternalTool("curl").run([
            "-s", "--http2-prior-knowledge", "-w", "\\n%{http_version}", "http://127.0.0.1:\(setup.port)/h2c",
        ])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.hasSuffix("\n2"), "\(curl.stdout)")
        #expect(curl.stdout.contains(#""uri":"\/h2c""#))
        let http1 = try await ExternalTool("curl").run(["-s", "-w", "\\n%{http_version}", "http://127.0.0.1:\(setup.port)/h1"])
        #expect(http1.stdout.hasSuffix("\n1.1"), "\(http1.stdout)")
        try await setup.stop()
    }
}
