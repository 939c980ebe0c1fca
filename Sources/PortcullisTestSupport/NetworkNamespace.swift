public import Foundation

/// What the tests that create real WireGuard interfaces and network namespaces need: root, a TUN device and
/// the tools (.ci/run installs wireguard-go, wireguard-tools and iproute2).
public enum WireGuardTestEnvironment {
    /// Why those tests cannot run here, or `nil` when they can.
    public static let unavailableReason: String? = {
        if getuid() != 0 { return "needs root to create network interfaces and namespaces" }
        if !FileManager.default.fileExists(atPath: "/dev/net/tun") { return "needs /dev/net/tun for wireguard-go" }
        for tool in ["ip", "wg", "wg-quick", "wireguard-go"] where ExternalTool(tool).url == nil {
            return "needs \(tool) on PATH (.ci/run installs wireguard-go, wireguard-tools and iproute2)"
        }
        return nil
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    /// A random suffix for interface and namespace names, so tests running in parallel never share one.
    public static func uniqueSuffix(length: Int = 6) -> String {
        String(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(length))
    }

    /// A random octet in 10–249, to give each test its own private networks.
    public static func randomOctet() -> Int { Int.random(in: 10...249) }
}

/// A network namespace made by a test (`ip netns add`), with commands run inside it. Delete it when done:
/// its interfaces (and any wireguard-go TUN device in it) go with it.
public struct NetworkNamespace: Sendable {
    public let name: String

    public static let ip = ExternalTool("ip")

    /// Creates a namespace named `name` with its loopback interface up.
    public static func create(_ name: String) async throws -> NetworkNamespace {
        try await check(ip.run(["netns", "add", name]), "ip netns add \(name)")
        let namespace = NetworkNamespace(name: name)
        try await namespace.run(["ip", "link", "set", "lo", "up"])
        return namespace
    }

    /// Runs a command inside the namespace (`ip netns exec`); throws when it fails.
    @discardableResult
    public func run(_ arguments: [String]) async throws -> ExternalTool.Output {
        try await Self.check(Self.ip.run(["netns", "exec", name] + arguments), arguments.joined(separator: " "))
    }

    /// Runs a command inside the namespace and returns how it went, failed or not.
    public func attempt(_ arguments: [String]) async throws -> ExternalTool.Output {
        try await Self.ip.run(["netns", "exec", name] + arguments)
    }

    /// Starts a long-running program inside the namespace.
    public func start(_ arguments: [String]) throws -> BackgroundProcess {
        try BackgroundProcess(Self.ip.url ?? URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "exec", name] + arguments)
    }

    /// `wg-quick up` on `configFile` inside the namespace, its output in `log`. The wireguard-go it starts stays
    /// in the background, so it must not inherit this process's descriptors: Foundation's Process waits until
    /// the last holder of the pipe it gives a child closes it. So every descriptor above 2 is closed first.
    public func wgQuickUp(_ configFile: URL, log: URL) async throws -> (status: Int32, printed: String) {
        let script = #"for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done; exec wg-quick up "$0" >"$1" 2>&1"#
        let output = try await attempt(["bash", "-c", script, configFile.path, log.path])
        return (output.status, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// Deletes the namespace; errors are ignored, so this is safe in cleanup paths.
    public func delete() async {
        _ = try? await Self.ip.run(["netns", "del", name])
    }

    @discardableResult
    static func check(_ output: ExternalTool.Output, _ what: String) throws -> ExternalTool.Output {
        guard output.status == 0 else {
            throw NetworkSetupError(message: "\(what) failed with status \(output.status): \(output.stderr)\(output.stdout)")
        }
        return output
    }
}

/// A test's network setup command failed.
public struct NetworkSetupError: Error, CustomStringConvertible {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
}
