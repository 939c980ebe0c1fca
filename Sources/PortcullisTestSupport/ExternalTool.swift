public import Foundation

/// A real program the tests run, found on PATH (kubectl, wg, wireguard-go, ...).
public struct ExternalTool: Sendable {
    public let name: String
    /// Where the program is, or `nil` when it is not on PATH.
    public let url: URL?

    public init(_ name: String) {
        self.name = name
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        url = path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    public static let kubectl = ExternalTool("kubectl")

    /// What a finished run printed and how it exited.
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs the program to completion, blocking the calling thread.
    public func run(_ arguments: [String]) throws -> Output {
        try ExternalTool.runBlocking(url ?? URL(fileURLWithPath: name), arguments)
    }

    /// Runs the program to completion without blocking the cooperative pool.
    public func run(_ arguments: [String]) async throws -> Output {
        try await ExternalTool.run(url ?? URL(fileURLWithPath: name), arguments)
    }

    /// Runs any executable to completion, capturing both output streams. The waiting happens on a
    /// thread of its own, never on the cooperative pool, so a server in the same process keeps running.
    public static func run(_ executable: URL, _ arguments: [String]) async throws -> Output {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try runBlocking(executable, arguments) })
            }
            thread.start()
        }
    }

    private static func runBlocking(_ executable: URL, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read stderr on another thread so neither pipe can fill up and stall the child.
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errorData.isSet { Thread.sleep(forTimeInterval: 0.001) }
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: errorData.data, as: UTF8.self)
        )
    }
}

/// Data handed from a reader thread, guarded by a lock.
private final class LockedData: @unchecked Sendable {  // every access holds `lock`
    private let lock = NSLock()
    private var value: Data?

    func set(_ data: Data) { lock.withLock { value = data } }
    var isSet: Bool { lock.withLock { value != nil } }
    var data: Data { lock.withLock { value ?? Data() } }
}
