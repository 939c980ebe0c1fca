import KubernetesClient
import PortcullisTestSupport
import Prometheus
import Synchronization
import Testing

/// The controller-runtime and work queue metrics, recorded into a registry of the test's own (never
/// the process-wide `MetricsSystem`), read back in the Prometheus text format.
extension IntegrationTests {
    @Suite struct ControllerMetricsTests {
        static func factory(_ registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
            var factory = PrometheusMetricsFactory(registry: registry)
            factory.durationHistogramBuckets = ControllerRuntimeMetrics.durationHistogramBuckets
            return factory
        }

        @Test func reconcileOutcomesAndQueueActivityAreCountedWithControllerRuntimeNames() async throws {
            let registry = PrometheusCollectorRegistry()
            let queue = WorkQueue<String>(
                name: "routes",
                rateLimiter: RateLimiterConfiguration(baseDelay: .milliseconds(10)),
                metricsFactory: Self.factory(registry)
            )
            let cache = Flag()
            let calls = Recorder<String>()
            let controller = Controller(
                configuration: .init(name: "route", workers: 2),
                queue: queue,
                waitingFor: [cache],
                logger: quietLogger,
                metricsFactory: Self.factory(registry)
            ) { key in
                calls.append(key)
                let attempt = calls.all.filter { $0 == key }.count
                switch key {
                case "flaky": if attempt < 3 { throw CancellationError() } else { return .done }
                case "later": return attempt == 1 ? .requeueAfter(.milliseconds(50)) : .done
                case "again": return attempt == 1 ? .requeue : .done
                case "broken": throw TerminalError("spec.upstream.url is invalid")
                default: return .done
                }
            }
            let route = ["controller": "route"]
            func result(_ name: String) -> [String: String] { ["controller": "route", "result": name] }

            let before = PrometheusText(registry.emitToString())
            for name in ["success", "error", "requeue", "requeue_after"] {
                #expect(before.value("controller_runtime_reconcile_total", result(name)) == 0, "\(name) starts at zero")
            }
            #expect(before.value("controller_runtime_max_concurrent_reconciles", route) == 2)
            #expect(before.value("controller_runtime_active_workers", route) == 0)
            #expect(before.value("workqueue_depth", ["name": "routes"]) == 0)
            #expect(before.types["controller_runtime_reconcile_total"] == "counter")
            #expect(before.types["controller_runtime_reconcile_time_seconds"] == "histogram")
            #expect(before.types["workqueue_depth"] == "gauge")

            for key in ["ok", "flaky", "later", "again", "broken"] { queue.add(key) }
            queue.add("ok")
            let queued = PrometheusText(registry.emitToString())
            #expect(queued.value("workqueue_depth", ["name": "routes"]) == 5, "a duplicate is not queued twice")
            #expect(queued.value("workqueue_adds_total", ["name": "routes"]) == 5)

            let task = Task { try await controller.run() }
            cache.value.store(true, ordering: .releasing)
            await eventually("every key settles and its reconcile is recorded") {
                let text = PrometheusText(registry.emitToString())
                return calls.count == 9 && text.value("workqueue_work_duration_seconds_count", ["name": "routes"]) == 9
                    && text.samples("controller_runtime_reconcile_total", matching: route).reduce(0) { $0 + $1.value } == 9
            }
            try await Task.sleep(for: .milliseconds(100))  // nothing more comes
            let after = PrometheusText(registry.emitToString())
            #expect(calls.count == 9)
            #expect(after.value("controller_runtime_reconcile_total", result("success")) == 4)
            #expect(after.value("controller_runtime_reconcile_total", result("error")) == 3, "two failures and a terminal error")
            #expect(after.value("controller_runtime_reconcile_total", result("requeue")) == 1)
            #expect(after.value("controller_runtime_reconcile_total", result("requeue_after")) == 1)
            #expect(after.value("controller_runtime_reconcile_errors_total", route) == 3)
            #expect(after.value("controller_runtime_terminal_reconcile_errors_total", route) == 1)
            #expect(after.value("controller_runtime_reconcile_time_seconds_count", route) == 9)
            #expect(
                after.samples("controller_runtime_reconcile_time_seconds_bucket", matching: route).count == 41,
                "controller-runtime's 40 buckets and +Inf"
            )
            #expect(after.value("controller_runtime_active_workers", route) == 0)
            #expect(after.value("workqueue_adds_total", ["name": "routes"]) == 9, "five keys and four that came back")
            #expect(after.value("workqueue_retries_total", ["name": "routes"]) == 3, "flaky twice, again once")
            #expect(after.value("workqueue_depth", ["name": "routes"]) == 0)
            #expect(after.value("workqueue_queue_duration_seconds_count", ["name": "routes"]) == 9)
            #expect(after.value("workqueue_work_duration_seconds_count", ["name": "routes"]) == 9)
            #expect(after.samples("workqueue_work_duration_seconds_bucket", matching: ["name": "routes"]).count == 13)
            task.cancel()
            try await task.value
        }

        @Test func workInProgressShowsInTheUnfinishedWorkGauges() async throws {
            let registry = PrometheusCollectorRegistry()
            let queue = WorkQueue<String>(name: "slow", metricsFactory: Self.factory(registry))
            let release = Atomic(false)
            let controller = Controller(
                configuration: .init(name: "slow"),
                queue: queue,
                logger: quietLogger,
                metricsFactory: Self.factory(registry)
            ) { _ in
                while !release.load(ordering: .acquiring) { try await Task.sleep(for: .milliseconds(10)) }
                return .done
            }
            queue.add("stuck")
            let task = Task { try await controller.run() }
            let name = ["name": "slow"]
            await eventually("the gauges show a key in progress for over a second", timeout: .seconds(20)) {
                let text = PrometheusText(registry.emitToString())
                return (text.value("workqueue_longest_running_processor_seconds", name) ?? 0) >= 1
            }
            let busy = PrometheusText(registry.emitToString())
            #expect(busy.value("controller_runtime_active_workers", ["controller": "slow"]) == 1)
            #expect(
                busy.value("workqueue_unfinished_work_seconds", name)
                    == busy.value("workqueue_longest_running_processor_seconds", name),
                "one key in progress: the sum is the longest"
            )
            release.store(true, ordering: .releasing)
            await eventually("the gauges drop back once it is done") {
                let text = PrometheusText(registry.emitToString())
                return text.value("workqueue_unfinished_work_seconds", name) == 0
                    && text.value("controller_runtime_active_workers", ["controller": "slow"]) == 0
            }
            task.cancel()
            try await task.value
        }
    }
}
