import KubernetesClient
import Synchronization
import Testing

final class Flag: CacheSyncing {
    let value = Atomic(false)
    var hasSynced: Bool { value.load(ordering: .acquiring) }
}

extension IntegrationTests {
    @Suite struct ControllerTests {
        @Test func workersStartAfterSyncAndOutcomesDriveTheQueue() async throws {
            let queue = WorkQueue<String>(
                name: "test",
                rateLimiter: RateLimiterConfiguration(baseDelay: .milliseconds(10))
            )
            let cache = Flag()
            let calls = Recorder<String>()
            let controller = Controller(
                configuration: .init(name: "test", workers: 2),
                queue: queue,
                waitingFor: [cache],
                logger: quietLogger
            ) { key in
                calls.append(key)
                let attempt = calls.all.filter { $0 == key }.count
                switch key {
                case "flaky": if attempt < 3 { throw CancellationError() } else { return .done }
                case "later": return attempt == 1 ? .requeueAfter(.milliseconds(100)) : .done
                case "again": return attempt == 1 ? .requeue : .done
                case "broken": throw TerminalError("spec.upstream.url is invalid")
                default: return .done
                }
            }
            for key in ["ok", "flaky", "later", "again", "broken"] { queue.add(key) }
            let task = Task { try await controller.run() }
            try await Task.sleep(for: .milliseconds(150))
            #expect(calls.count == 0, "no reconcile before the caches sync")
            cache.value.store(true, ordering: .releasing)

            await eventually("every key settles") {
                let all = calls.all
                return all.filter { $0 == "flaky" }.count == 3 && all.filter { $0 == "later" }.count == 2
                    && all.filter { $0 == "again" }.count == 2
            }
            try await Task.sleep(for: .milliseconds(200))
            let all = calls.all
            #expect(all.filter { $0 == "ok" }.count == 1)
            #expect(all.filter { $0 == "broken" }.count == 1, "a terminal error is not retried")
            #expect(all.filter { $0 == "flaky" }.count == 3, "errors retry with backoff until success")
            #expect(queue.numRequeues("flaky") == 0, "success forgets the failures")
            #expect(queue.numRequeues("broken") == 0)
            let statistics = controller.statistics
            #expect(statistics.success == 4, "ok, flaky, later and again each end done once")
            #expect(statistics.error == 2)
            #expect(statistics.requeue == 1)
            #expect(statistics.requeueAfter == 1)
            #expect(statistics.terminalError == 1)
            #expect(statistics.active == 0)
            task.cancel()
            try await task.value
        }

        @Test func aKeyIsReconciledByOneWorkerAtATime() async throws {
            let queue = WorkQueue<String>(name: "test")
            let running = LockedCounter()
            let controller = Controller(
                configuration: .init(name: "serial", workers: 4),
                queue: queue,
                logger: quietLogger
            ) { _ in
                running.enter()
                try? await Task.sleep(for: .milliseconds(20))
                running.leave()
                return .done
            }
            let task = Task { try await controller.run() }
            for _ in 0..<20 {
                queue.add("same")
                try await Task.sleep(for: .milliseconds(5))
            }
            await eventually { queue.count == 0 && controller.statistics.active == 0 }
            #expect(running.maximum == 1)
            #expect(controller.statistics.success >= 2, "a key added while processing is processed again")
            task.cancel()
            try await task.value
        }
    }
}

final class LockedCounter: Sendable {
    private let state = Mutex((current: 0, maximum: 0))
    func enter() {
        state.withLock {
            $0.current += 1
            $0.maximum = max($0.maximum, $0.current)
        }
    }
    func leave() { state.withLock { $0.current -= 1 } }
    var maximum: Int { state.withLock { $0.maximum } }
}
