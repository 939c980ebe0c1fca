import Foundation
import Synchronization

/// The token cache's wake-up signal and run state, shared by the cache and its entries.
///
/// One consumer (the loop in ``TokenCache/run()``) waits; anyone signals. A signal with no waiter is kept, so none
/// is lost between the loop's look at the entries and its wait.
final class TokenCacheScheduler: Sendable {
    enum RunState: Sendable {
        /// `run()` has not started: requests queue.
        case notStarted
        case running
        /// `run()` returned: requests fail.
        case finished
    }

    private enum Wake {
        case idle
        case signalled
        case waiting(CheckedContinuation<Void, Never>)
    }

    private struct State {
        var run: RunState = .notStarted
        var wake: Wake = .idle
    }

    private let state = Mutex(State())
    let clock: any CredentialClock

    init(clock: any CredentialClock) { self.clock = clock }

    var runState: RunState { state.withLock { $0.run } }

    func setRunState(_ run: RunState) { state.withLock { $0.run = run } }

    /// Wakes the loop, or makes its next wait return at once.
    func wake() {
        let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
            switch state.wake {
            case .idle, .signalled:
                state.wake = .signalled
                return nil
            case .waiting(let continuation):
                state.wake = .idle
                return continuation
            }
        }
        continuation?.resume()
    }

    /// Returns when woken, at `deadline` by the clock, or when the task is cancelled.
    func wait(until deadline: Date?) async {
        guard let deadline else {
            await waitForSignal()
            return
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [clock] in try? await clock.sleep(until: deadline) }
            group.addTask { await self.waitForSignal() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow: Bool = state.withLock { state in
                    if case .signalled = state.wake {
                        state.wake = .idle
                        return true
                    }
                    if Task.isCancelled { return true }
                    state.wake = .waiting(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let continuation: CheckedContinuation<Void, Never>? = state.withLock { state in
                guard case .waiting(let continuation) = state.wake else { return nil }
                state.wake = .idle
                return continuation
            }
            continuation?.resume()
        }
    }
}

/// Runs `operation`, failing with ``CredentialError/Reason/timeout`` if it has not finished by `deadline` on `clock`
/// (the operation is then cancelled).
func withDeadline<T: Sendable>(
    _ deadline: Date,
    timeout: Duration,
    clock: any CredentialClock,
    operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await clock.sleep(until: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw CredentialError(.timeout, "the token service did not answer within \(timeout)")
        }
        return value
    }
}
