import NIOCore
import NIOPosix

/// WireGuard's cross-platform userspace API: a text protocol on a unix socket
/// (`/var/run/wireguard/<interface>.sock`) that wireguard-go serves. A request is `get=1` or `set=1` and
/// `key=value` lines, ended by a blank line; the answer ends with `errno=N` and a blank line.
enum WireGuardUAPI {
    /// How long one exchange may take.
    static let timeout: Duration = .seconds(5)

    /// Reads the interface's state (`get=1`).
    static func get(socket path: String) async throws -> WireGuardDeviceState {
        try WireGuardDeviceState.parseUAPI(try await exchange("get=1\n\n", socket: path))
    }

    /// Applies a `set=1` request.
    ///
    /// - Returns: The errno the interface answered with; 0 is success (-98, EADDRINUSE: the listen port is taken).
    static func set(_ request: String, socket path: String) async throws -> Int {
        let answer = try await exchange(request, socket: path)
        guard let line = answer.split(separator: "\n").last(where: { $0.hasPrefix("errno=") }), let errno = Int(line.dropFirst(6)) else {
            throw WireGuardError(.protocolError, "UAPI \(path): the answer to set=1 has no errno line")
        }
        return errno
    }

    /// Sends one request and reads the answer up to its `errno=` line and the blank line after it.
    private static func exchange(_ request: String, socket path: String) async throws -> String {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(2))
            .connect(unixDomainSocketPath: path) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(string: request))
                    var answer = ""
                    for try await chunk in inbound {
                        answer += String(buffer: chunk)
                        if answer.hasPrefix("errno=") || answer.contains("\nerrno="), answer.hasSuffix("\n\n") { return answer }
                    }
                    throw WireGuardError(.protocolError, "UAPI \(path): the connection closed before the answer was complete")
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let answer = try await group.next() ?? nil else {
                channel.channel.close(promise: nil)
                throw WireGuardError(.protocolError, "UAPI \(path): no answer within \(timeout)")
            }
            return answer
        }
    }
}
