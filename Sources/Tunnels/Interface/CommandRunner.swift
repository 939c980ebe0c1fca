import Foundation
import Synchronization

/// Runs the network tools (`ip`, `wg`) to completion. The waiting happens on a thread of its own, never on
/// the cooperative pool.
struct CommandRunner: Sendable {
    /// What a finished run printed and how it exited.
    struct Output: Sendable {
        var status: Int32
        var standardOutput: String
        var standardError: String

        /// Both streams, trimmed, for error messages.
        var printed: String {
            (standardError + standardOutput).trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// Directories searched for the tools, after `$PATH`: `ip` lives in sbin, which a non-root `$PATH` lacks.
    static let extraSearchPath = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"]

    /// The executable named `name` on `$PATH` or in the sbin directories, or `nil`.
    static func locate(_ name: String) -> URL? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        return (path + extraSearchPath).lazy
            .map { URL(fileURLWithPath: $0).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// Runs `executable` with `arguments`, writing `standardInput` to it if given.
    static func run(_ executable: URL, _ arguments: [String], standardInput: Data? = nil) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try runBlocking(executable, arguments, standardInput: standardInput) })
            }
            thread.start()
        }
    }

    private static func runBlocking(_ executable: URL, _ arguments: [String], standardInput: Data?) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        let errors = Pipe()
        let input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = standardInput == nil ? FileHandle.nullDevice : input
        try process.run()
        if let standardInput {
            input.fileHandleForWriting.write(standardInput)
            try? input.fileHandleForWriting.close()
        }
        // Read standard error on another thread so that neither pipe can fill up and stall the child.
        let errorData = Mutex<Data?>(nil)
        let errorReader = Thread { let data = errors.fileHandleForReading.readDataToEndOfFile(); errorData.withLock { $0 = data } }
        errorReader.start()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while errorData.withLock({ $0 == nil }) { Thread.sleep(forTimeInterval: 0.001) }
        return Output(
            status: process.terminationStatus,
            standardOutput: String(decoding: out, as: UTF8.self),
            standardError: String(decoding: errorData.withLock { $0 ?? Data() }, as: UTF8.self)
        )
    }
}
