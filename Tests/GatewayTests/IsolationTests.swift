import Foundation
import Gateway
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import Resilience
import Testing

/// A failing upstream must not slow down the routes to healthy ones (issue #5: "a failing upstream
/// does not raise another route's p99 by more than 10%").
@Suite struct IsolationTests {
    /// Route A goes to a healthy upstream; route B to one that accepts requests and never answers, guarded as
    /// a Route would guard it: a per-try timeout, a bulkhead and a circuit breaker. A's latency is sampled
    /// one request at a time on a keep-alive connection (so one scheduling hiccup spoils one sample, not a
    /// run of them), after 300 warm-up requests, in 12 rounds of 200 samples with B idle and 200 with B
    /// under 16 clients' failing load (ABBA order, so a drift of the machine's load falls on both alike);
    /// in the median round, A's p99 under B's failure must stay within 10% of its p99 with B idle, plus a
    /// small slack.
    @Test func aFailingUpstreamDoesNotRaiseAnotherRoutesP99() async throws {
        let healthy = try await TestUpstream()
        let hanging = try await TestUpstream()
        let metrics = TestMetrics()
        var bTimeouts = TimeoutConfiguration()
        bTimeouts.request = .seconds(2)
        bTimeouts.perTry = .milliseconds(250)
        let routeA = RouteConfig(
            key: RouteKey(namespace: "shop", name: "a"), match: RouteMatchRule(path: .prefix("/a")),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: healthy.port)
        )
        let routeB = RouteConfig(
            key: RouteKey(namespace: "shop", name: "b"), match: RouteMatchRule(path: .prefix("/hang")),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: hanging.port),
            timeouts: bTimeouts,
            retry: RetryConfiguration(attempts: 2, retryOn: [.connectFailure, .timeout]),
            circuitBreaker: CircuitBreakerConfiguration(window: .count(50), minimumCalls: 10, consecutiveFailures: 5, openDuration: .seconds(1), halfOpenProbes: 2),
            bulkhead: BulkheadConfiguration(maxRequests: 16, maxPending: 16)
        )
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [routeA, routeB]), metricsFactory: metrics)).start()
        let port = gateway.localAddress!.port!

        let client = try await KeepAliveClient(port: port)
        for _ in 0..<300 { #expect(try await client.get("/a/warm") == 200) }

        /// A's latencies, one request at a time.
        func sample(_ count: Int) async throws -> [Duration] {
            var latencies: [Duration] = []
            latencies.reserveCapacity(count)
            for _ in 0..<count {
                let started = ContinuousClock.now
                let status = try await client.get("/a/item")
                latencies.append(ContinuousClock.now - started)
                #expect(status == 200)
            }
            return latencies
        }

        let bStatuses = NIOLockedValueBox<[Int: Int]>([:])
        /// Runs A's samples while 16 clients send requests to B, each pausing 50–150 ms between its requests
        /// (some 160 requests/s once the breaker answers at once; the random pause keeps them from arriving in
        /// bursts of 16, which would measure the burst, not B's failure).
        func sampleUnderFailure(_ count: Int) async throws -> [Duration] {
            let loaders = try await (0..<16).asyncMap { _ in try await KeepAliveClient(port: port) }
            let stop = NIOLockedValueBox(false)
            return try await withThrowingTaskGroup(of: [Duration].self) { group in
                for loader in loaders {
                    group.addTask {
                        while !stop.withLockedValue({ $0 }) {
                            guard let status = try? await loader.get("/hang") else { break }
                            bStatuses.withLockedValue { $0[status, default: 0] += 1 }
                            try await Task.sleep(for: .milliseconds(Int.random(in: 50...150)))
                        }
                        return []
                    }
                }
                // Let B's failure set in (bulkhead full, breaker tripping) before A is measured.
                try await Task.sleep(for: .milliseconds(300))
                let latencies = try await sample(count)
                stop.withLockedValue { $0 = true }
                for loader in loaders { await loader.close() }
                for try await _ in group {}
                return latencies
            }
        }

        func percentile(_ values: [Duration], _ p: Double) -> Duration {
            let sorted = values.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }
        // Each round measures A both ways, back to back, so the two see the same machine; a burst of other
        // work (other suites run beside this one, other builds beside the tests) spoils a round, not the
        // result, which is the median over the rounds of how far A's p99 under B's failure exceeds 1.1×
        // its p99 with B idle.
        var idle: [Duration] = []
        var failing: [Duration] = []
        var excess: [Duration] = []
        for round in 0..<12 {
            let idleRound: [Duration]
            let failingRound: [Duration]
            if round % 2 == 0 {
                idleRound = try await sample(200)
                failingRound = try await sampleUnderFailure(200)
            } else {
                failingRound = try await sampleUnderFailure(200)
                idleRound = try await sample(200)
            }
            idle += idleRound
            failing += failingRound
            excess.append(percentile(failingRound, 0.99) - percentile(idleRound, 0.99) * 1.1)
        }
        let medianExcess = excess.sorted()[excess.count / 2]
        let (idleP50, idleP99) = (percentile(idle, 0.5), percentile(idle, 0.99))
        let (failingP50, failingP99) = (percentile(failing, 0.5), percentile(failing, 0.99))
        let statuses = bStatuses.withLockedValue { $0 }
        print(
            "isolation: A p50 \(idleP50) / p99 \(idleP99) with B idle, p50 \(failingP50) / p99 \(failingP99) with B failing; "
                + "median excess over 1.1× per round \(medianExcess); B answered \(statuses.sorted { $0.key < $1.key })"
        )

        // B really failed, in every way its guards allow: timeouts, a full bulkhead, an open breaker.
        #expect(statuses[200] == nil)
        #expect(statuses[503, default: 0] > 100, "the breaker or the bulkhead refused most of B's requests")
        #expect(try metrics.expectCounter("portcullis_gateway_circuit_breaker_transitions_total", [("route", "shop/b"), ("to", "Open")]).totalValue >= 1)
        // The slack: B's load is real work on the same two cores as A's (the gateway's and the test's own
        // client's), and these cores are shared with other builds. With B's load sent to a healthy upstream
        // instead, A's p99 rose the same way (1.0 → 2.1 ms, 1.2 → 1.9 ms, 4.3 → 4.4 ms in three runs), so that
        // rise is the load's CPU, not B's failure; 2 ms covers it. What isolation guards against is far larger:
        // a loop blocked by B's hanging requests, or a lock A's requests wait on, adds B's per-try timeout
        // (250 ms), its request timeout or a connect timeout to A's tail, a hundred times the slack.
        #expect(medianExcess <= .milliseconds(2), "A's p99 exceeded 1.1× its p99 with B idle by \(medianExcess) in the median round (\(excess))")
        await client.close()
        try await gateway.close()
        try await healthy.stop()
        try await hanging.stop()
    }
}

extension Sequence {
    fileprivate func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
