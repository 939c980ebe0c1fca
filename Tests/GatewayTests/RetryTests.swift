import Foundation
import Gateway
import NIOCore
import Resilience
import Testing

/// Retries, per-try and idle timeouts against a misbehaving upstream on loopback.
@Suite struct RetryTests {
    static func route(
        port: Int,
        retry: RetryConfiguration,
        timeouts: TimeoutConfiguration = TimeoutConfiguration(request: .seconds(10))
    ) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: "retried"),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port),
            timeouts: timeouts,
            retry: retry,
            bulkhead: BulkheadConfiguration(maxRequests: 1000, maxPending: 1000)
        )
    }

    static let fastBackoff = BackoffConfiguration(base: .milliseconds(5), max: .milliseconds(20))
    /// A budget that admits every retry these tests make one at a time.
    static let ample = RetryBudgetConfiguration(percent: 100, minPerSecond: 100)

    static func start(_ route: (Int) -> RouteConfig) async throws -> (TestUpstream, any Channel, Int) {
        let upstream = try await TestUpstream()
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route(upstream.port)]))).start()
        return (upstream, gateway, gateway.localAddress!.port!)
    }

    static func request(_ port: Int, _ method: String = "GET", _ path: String, headers: String = "", body: String = "") async throws -> String {
        let length = body.isEmpty ? "" : "Content-Length: \(body.utf8.count)\r\n"
        return try await RawHTTPClient.exchange(port: port, "\(method) \(path) HTTP/1.1\r\nHost: gw\r\n\(headers)\(length)Connection: close\r\n\r\n\(body)")
    }

    @Test func listedStatusesAreRetriedAndOthersPassThrough() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 3, statuses: [503], backoff: Self.fastBackoff, budget: Self.ample))
        }
        let retried = try await Self.request(port, "GET", "/fail-first/2/503")
        #expect(retried.hasPrefix("HTTP/1.1 200 OK"), "\(retried)")
        #expect(upstream.requestCount("/fail-first/2/503") == 3)

        let exhausted = try await Self.request(port, "GET", "/fail-first/5/503")
        #expect(exhausted.hasPrefix("HTTP/1.1 503"), "the last response is returned when attempts run out")
        #expect(upstream.requestCount("/fail-first/5/503") == 3)

        let unlisted = try await Self.request(port, "GET", "/fail-first/1/500")
        #expect(unlisted.hasPrefix("HTTP/1.1 500"))
        #expect(upstream.requestCount("/fail-first/1/500") == 1)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func retryAfterIsHonouredWithinTheDeadline() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 2, statuses: [503], backoff: Self.fastBackoff), timeouts: TimeoutConfiguration(request: .seconds(5)))
        }
        let started = ContinuousClock.now
        let response = try await Self.request(port, "GET", "/fail-first/1/503?retry-after=1")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(ContinuousClock.now - started >= .seconds(1), "the retry waited for Retry-After")

        // A Retry-After beyond the deadline: the 503 is returned at once instead.
        let quick = ContinuousClock.now
        let beyond = try await Self.request(port, "GET", "/fail-first/1/503?retry-after=30")
        #expect(beyond.hasPrefix("HTTP/1.1 503"))
        #expect(ContinuousClock.now - quick < .seconds(5), "not the 30 s Retry-After")
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func onlyIdempotentRequestsAreRetriedAndTheirBodiesReplayed() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 2, statuses: [503], backoff: Self.fastBackoff))
        }
        let post = try await Self.request(port, "POST", "/fail-first/1/503", body: "payload")
        #expect(post.hasPrefix("HTTP/1.1 503"), "a POST may have had effects: not retried")
        #expect(upstream.requestCount("/fail-first/1/503") == 1)

        let keyed = try await Self.request(port, "POST", "/fail-first/1/503?keyed", headers: "Idempotency-Key: 42\r\n", body: "payload")
        #expect(keyed.hasPrefix("HTTP/1.1 200 OK"), "\(keyed)")
        #expect(try ProxyTests.echo(keyed)["bodyBytes"] as? Int == 7, "the body was sent again in full")

        // A body larger than the replay buffer cannot be sent again.
        let large = String(repeating: "x", count: 100_000)
        let unreplayable = try await Self.request(port, "PUT", "/fail-first/1/503?large", body: large)
        #expect(unreplayable.hasPrefix("HTTP/1.1 503"))
        #expect(upstream.requestCount("/fail-first/1/503?large") == 1)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aHangingAttemptEndsAtThePerTryTimeoutAndIsRetried() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(
                port: $0,
                retry: RetryConfiguration(attempts: 2, retryOn: [.connectFailure, .timeout], backoff: Self.fastBackoff),
                // Long enough that a second attempt reaches the upstream on a loaded machine.
                timeouts: TimeoutConfiguration(request: .seconds(10), perTry: .milliseconds(1500))
            )
        }
        let started = ContinuousClock.now
        let response = try await Self.request(port, "GET", "/hang-first/1")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
        #expect(upstream.requestCount("/hang-first/1") == 2)
        #expect(ContinuousClock.now - started >= .milliseconds(1500), "the first attempt waited for its per-try timeout")
        #expect(ContinuousClock.now - started < .seconds(8))

        let timedOut = try await Self.request(port, "GET", "/hang-first/9")
        #expect(timedOut.hasPrefix("HTTP/1.1 504"))
        #expect(timedOut.contains("per-try timeout"))
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aResetIsRetriedOnlyWhenTheRouteSaysSo() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 2, retryOn: [.connectFailure, .reset], backoff: Self.fastBackoff))
        }
        let response = try await Self.request(port, "GET", "/close-once")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aFullOutageCannotMultiplyTheLoad() async throws {
        let budget = RetryBudgetConfiguration(percent: 20, minPerSecond: 3)
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 5, statuses: [503], backoff: Self.fastBackoff, budget: budget))
        }
        let requests = 200
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<requests { group.addTask { try await Self.request(port, "GET", "/fail-first/100000/503") } }
            for try await response in group { #expect(response.hasPrefix("HTTP/1.1 503")) }
        }
        let seconds = (ContinuousClock.now - started).components.seconds + 1
        let attempts = upstream.requestCount("/fail-first/100000/503")
        let limit = Int(Double(requests) * 1.2) + 3 * Int(seconds)
        #expect(attempts <= limit, "\(attempts) upstream attempts for \(requests) requests (limit \(limit), without a budget up to \(requests * 5))")
        #expect(attempts > requests, "some retries were admitted")
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aStalledResponseEndsAtTheIdleTimeout() async throws {
        let (upstream, gateway, port) = try await Self.start {
            Self.route(port: $0, retry: RetryConfiguration(attempts: 1), timeouts: TimeoutConfiguration(request: .zero, idle: .seconds(1)))
        }
        let started = ContinuousClock.now
        let response = try await Self.request(port, "GET", "/stall")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"))
        #expect(response.httpBody.count == 10, "the connection closed after the 10 bytes that came")
        #expect(ContinuousClock.now - started >= .seconds(1))
        #expect(ContinuousClock.now - started < .seconds(8))

        let silent = try await Self.request(port, "GET", "/hang")
        #expect(silent.hasPrefix("HTTP/1.1 504"))
        #expect(silent.contains("no byte moved"))
        try await gateway.close()
        try await upstream.stop()
    }
}
