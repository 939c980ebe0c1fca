import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A `wireguard-go -f <interface>` child: the userspace WireGuard implementation for one interface, run in
/// the foreground so that this process owns (and reaps) it. It exits by itself when the interface is deleted.
final class WireGuardGoProcess: Sendable {
    /// Output kept for error messages: the last 4 KiB.
    private static let outputLimit = 4096

    let interface: String
    private let process = Process()
    private let output = Mutex("")

    /// Starts wireguard-go for `interface`. It creates the TUN device and the UAPI socket.
    ///
    /// - Parameter command: wireguard-go, or a command that runs it with these arguments (`ip netns exec`).
    init(command: (executable: URL, arguments: [String]), interface: String) throws {
        self.interface = interface
        process.executableURL = command.executable
        process.arguments = command.arguments + ["-f", interface]
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "error"
        // Marks the process as the foreground daemon, which also silences the "use the kernel module" banner.
        environment["WG_PROCESS_FOREGROUND"] = "1"
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else {
                handle.readabilityHandler = nil
                return
            }
            self.output.withLock { text in
                text += String(decoding: data, as: UTF8.self)
                if text.utf8.count > Self.outputLimit { text = String(text.suffix(Self.outputLimit)) }
            }
        }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// What it printed, trimmed.
    var printed: String { output.withLock { $0 }.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Waits up to `timeout` for it to exit (it does once its interface is deleted), then kills it. SIGKILL,
    /// because a child started from a thread that blocks SIGTERM inherits the blocked signal.
    func waitForExit(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                break  // cancelled: stop waiting and terminate it now
            }
        }
        if process.isRunning { _ = kill(process.processIdentifier, SIGKILL) }
    }
}
