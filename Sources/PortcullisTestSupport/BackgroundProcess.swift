public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running program started by a test (a server), whose output the test can wait on.
public final class BackgroundProcess: @unchecked Sendable {  // `output` is guarded by `lock`
    private let process = Process()
    private let lock = NSLock()
    private var output = ""

    /// Starts `executable` with `arguments`; stdout and stderr are collected together.
    public init(_ executable: URL, _ arguments: [String]) throws {
        process.executableURL = executable
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.lock.withLock { self.output += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
    }

    deinit { terminate() }

    /// Whether it is still running.
    public var isRunning: Bool { process.isRunning }

    /// Everything printed so far.
    public var printed: String { lock.withLock { output } }

    /// Waits until the output contains `text`, the process exits, or `timeout` passes.
    ///
    /// - Returns: Whether the text appeared.
    public func waitFor(_ text: String, timeout: Duration = .seconds(20)) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if printed.contains(text) { return true }
            if !process.isRunning { return printed.contains(text) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Kills the process at once (SIGKILL), as a crash or an OOM kill would, and waits for it to exit.
    public func kill() {
        guard process.isRunning else { return }
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the process (SIGTERM) and waits for it to exit without blocking a thread of the
    /// cooperative pool; one still running after `grace` is killed (SIGKILL). Tests call this at their
    /// end; ``terminate(grace:)`` in a `defer` then finds nothing left to wait for.
    ///
    /// - Returns: Whether it exited on its own within `grace` (or had already).
    @discardableResult
    public func stop(grace: Duration = .seconds(10)) async -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        let exited = !process.isRunning
        if !exited {
            _ = Glibc.kill(process.processIdentifier, SIGKILL)
            while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
        }
        return exited
    }

    /// Stops the process (SIGTERM) and waits for it to exit; one still running after `grace` is killed
    /// (SIGKILL), so a process that ignores SIGTERM cannot hang the test run: the waiting blocks a
    /// thread of the cooperative pool, which has one thread per core.
    ///
    /// - Returns: Whether it exited on its own within `grace` (or had already).
    @discardableResult
    public func terminate(grace: Duration = .seconds(10)) -> Bool {
        guard process.isRunning else { return true }
        process.terminate()
        let deadline = ContinuousClock.now + grace
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        let exited = !process.isRunning
        if !exited { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return exited
    }
}
