import Foundation
public import Logging
import IPAddresses
import Synchronization

/// Manages WireGuard interfaces on this host: kernel WireGuard where the kernel has it
/// (`ip link add <name> type wireguard`, configured with `wg`), else a `wireguard-go` child per interface
/// (configured over its UAPI socket); addresses, link state, routes and rules with `ip`.
///
/// Each interface routes its networks in a routing table of its own, which a rule selects for connections
/// from the interface's address only (see `WireGuardInterfaceManager+Routing.swift`): a connection bound
/// to that address goes through the tunnel, and no other connection of this host does, whatever the
/// tunnel's networks. Every command runs off the cooperative pool; every failure is a ``WireGuardError``
/// naming the interface, port, table or network involved.
public final class WireGuardInterfaceManager: WireGuardInterfaceManaging {
    public struct Configuration: Sendable, Hashable {
        /// Which WireGuard implementation new interfaces use.
        public enum Implementation: Sendable, Hashable {
            /// Kernel WireGuard when the kernel has it, else wireguard-go.
            case automatic
            case kernel
            case userspace
        }

        /// Default `.automatic`.
        public var implementation: Implementation
        /// Where wireguard-go puts its UAPI sockets. Default `/var/run/wireguard` (wireguard-go's own choice).
        public var socketDirectory: String
        /// How long a new wireguard-go may take to open its UAPI socket. Default 5 s.
        public var startTimeout: Duration
        /// The named network namespace (`ip netns`) the interfaces, routes and rules are made in. Default `nil`:
        /// this process's. Tests use it to keep what they route off the host.
        public var networkNamespace: String?

        public init(
            implementation: Implementation = .automatic,
            socketDirectory: String = "/var/run/wireguard",
            startTimeout: Duration = .seconds(5),
            networkNamespace: String? = nil
        ) {
            self.implementation = implementation
            self.socketDirectory = socketDirectory
            self.startTimeout = startTimeout
            self.networkNamespace = networkNamespace
        }
    }

    /// How a live interface is configured and read.
    enum Control: Sendable, Hashable {
        /// Kernel WireGuard, through `wg`.
        case wgTool
        /// wireguard-go, through its UAPI socket.
        case uapi(socket: String)
    }

    public let configuration: Configuration
    private let logger: Logger
    private let ipTool = CommandRunner.locate("ip")
    private let wgTool = CommandRunner.locate("wg")
    private let wireGuardGo = CommandRunner.locate("wireguard-go")
    /// The wireguard-go children this manager started, by interface.
    private let daemons = Mutex<[String: WireGuardGoProcess]>([:])
    /// Whether `ip link add … type wireguard` works here; learned on the first interface created.
    private let kernelSupport = Mutex<Bool?>(nil)

    public init(configuration: Configuration = Configuration(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func apply(_ interface: WireGuardInterfaceConfiguration) async throws {
        try interface.validate()
        let name = interface.name
        let routing = try await routingState(table: interface.routingTable, of: name)
        let control: Control
        if let existing = try await self.control(of: name) {
            control = existing
        } else {
            control = try await create(name)
        }
        let current = try await read(name, control)
        let change = WireGuardDeviceChange(from: current, to: interface)
        if !change.isEmpty {
            try await write(change, to: name, control, listenPort: interface.listenPort)
            logger.debug("configured WireGuard interface", metadata: ["wireguard.interface": "\(name)"])
        }
        try await ensureAddress(interface.address, on: name)
        try await ensureUp(name)
        try await ensureRouting(interface, present: routing)
    }

    public func state(of name: String) async throws -> WireGuardDeviceState? {
        guard let control = try await control(of: name) else { return nil }
        return try await read(name, control)
    }

    public func remove(_ name: String) async throws {
        // The rule first, so that no lookup finds the table half emptied; the interface's routes go with it. A
        // table that another interface shares (this one's apply refused it) is left to that interface.
        let table = WireGuardInterfaceConfiguration.routingTable(for: name)
        let routing = try await ownRouting(table: table, of: name)
        let shared = !routing.foreign.isEmpty
        try await deleteRules(shared ? [] : routing.rules, table: table, of: name)
        let deleted = try await ip(["link", "del", "dev", name])
        if deleted.status != 0 && !Self.isMissingDevice(deleted) {
            throw Self.failure(deleted, doing: "deleting interface \(name)")
        }
        if let daemon = daemons.withLock({ $0.removeValue(forKey: name) }) {
            await daemon.waitForExit(timeout: .seconds(5))
        }
        try await deleteUnreachableDefaults(shared ? [] : routing.unreachableFamilies, table: table, of: name)
        if deleted.status == 0 { logger.info("deleted WireGuard interface", metadata: ["wireguard.interface": "\(name)"]) }
    }

    // MARK: - The interface

    /// How the existing interface `name` is controlled; `nil` when there is none.
    ///
    /// - Throws: ``WireGuardError/Code/interfaceConflict`` when it exists and is not WireGuard.
    private func control(of name: String) async throws -> Control? {
        let link = try await ip(["-d", "-o", "link", "show", "dev", name])
        if link.status != 0 {
            if Self.isMissingDevice(link) { return nil }
            throw Self.failure(link, doing: "reading interface \(name)")
        }
        if link.standardOutput.contains(" wireguard ") { return .wgTool }
        let socket = socketPath(name)
        if (try? await WireGuardUAPI.get(socket: socket)) != nil { return .uapi(socket: socket) }
        throw WireGuardError(
            .interfaceConflict,
            "an interface named \(name) exists and is neither kernel WireGuard nor a wireguard-go interface answering on \(socket); remove it or rename it (ip -d link show \(name))"
        )
    }

    /// Creates `name`: kernel WireGuard if the kernel has it and the configuration allows, else wireguard-go.
    private func create(_ name: String) async throws -> Control {
        if configuration.implementation != .userspace && kernelSupport.withLock({ $0 }) != false {
            let added = try await ip(["link", "add", "dev", name, "type", "wireguard"])
            if added.status == 0 {
                kernelSupport.withLock { $0 = true }
                logger.info("created WireGuard interface", metadata: ["wireguard.interface": "\(name)", "wireguard.implementation": "kernel"])
                return .wgTool
            }
            let printed = added.printed
            guard printed.contains("Unknown device type") || printed.localizedCaseInsensitiveContains("not supported") else {
                throw Self.failure(added, doing: "creating interface \(name)")
            }
            kernelSupport.withLock { $0 = false }
            if configuration.implementation == .kernel {
                throw WireGuardError(.tunUnavailable, "creating interface \(name): this kernel has no WireGuard (ip link add: \(printed))")
            }
        }
        return try await startUserspace(name)
    }

    /// Starts wireguard-go for `name` and waits until its UAPI socket answers.
    private func startUserspace(_ name: String) async throws -> Control {
        guard let wireGuardGo else {
            throw WireGuardError(
                .toolMissing,
                "creating interface \(name): the kernel has no WireGuard and wireguard-go is not installed (Debian: apt-get install wireguard-go)"
            )
        }
        let daemon = try WireGuardGoProcess(command: inNamespace(wireGuardGo), interface: name)
        daemons.withLock { $0[name] = daemon }
        let socket = socketPath(name)
        let deadline = ContinuousClock.now + configuration.startTimeout
        while ContinuousClock.now < deadline {
            if (try? await WireGuardUAPI.get(socket: socket)) != nil {
                logger.info("created WireGuard interface", metadata: ["wireguard.interface": "\(name)", "wireguard.implementation": "wireguard-go"])
                return .uapi(socket: socket)
            }
            if !daemon.isRunning { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        daemons.withLock { _ = $0.removeValue(forKey: name) }
        await daemon.waitForExit(timeout: .seconds(1))
        throw Self.daemonFailure(daemon.printed, interface: name, socket: socket, timeout: configuration.startTimeout)
    }

    private func socketPath(_ name: String) -> String {
        URL(fileURLWithPath: configuration.socketDirectory).appendingPathComponent("\(name).sock").path
    }

    // MARK: - Key, port and peer

    func read(_ name: String, _ control: Control) async throws -> WireGuardDeviceState {
        switch control {
        case .uapi(let socket):
            return try await WireGuardUAPI.get(socket: socket)
        case .wgTool:
            let dump = try await wg(["show", name, "dump"])
            guard dump.status == 0 else { throw Self.failure(dump, doing: "reading interface \(name) with wg show") }
            return try WireGuardDeviceState.parseDump(dump.standardOutput)
        }
    }

    func write(_ change: WireGuardDeviceChange, to name: String, _ control: Control, listenPort: Int) async throws {
        let portInUse = WireGuardError(
            .listenPortInUse,
            "interface \(name) cannot listen on UDP port \(listenPort): another WireGuard interface or program on this host uses it"
        )
        switch control {
        case .uapi(let socket):
            switch try await WireGuardUAPI.set(change.uapiRequest, socket: socket) {
            case 0: return
            case -98: throw portInUse  // EADDRINUSE
            case -1, -13: throw WireGuardError(.permissionDenied, "configuring interface \(name): operation not permitted")
            case let errno: throw WireGuardError(.protocolError, "wireguard-go refused the configuration of interface \(name) (errno \(errno))")
            }
        case .wgTool:
            let (arguments, input) = change.wgArguments(interface: name)
            let output = try await wg(arguments, standardInput: input)
            guard output.status != 0 else { return }
            if output.printed.contains("Address already in use") { throw portInUse }
            var redacted = output
            if let key = change.privateKey {
                redacted.standardError = redacted.standardError.replacingOccurrences(of: key.base64, with: "<redacted>")
                redacted.standardOutput = redacted.standardOutput.replacingOccurrences(of: key.base64, with: "<redacted>")
            }
            throw Self.failure(redacted, doing: "configuring interface \(name) with wg set")
        }
    }

    // MARK: - Address, link and routes

    /// The address, without a prefix route (`noprefixroute`): the tunnel's networks are routed only in its table.
    private func ensureAddress(_ address: IPNetwork, on name: String) async throws {
        let listed = try await ip(["-o", "addr", "show", "dev", name])
        guard listed.status == 0 else { throw Self.failure(listed, doing: "reading the addresses of interface \(name)") }
        var present: [IPNetwork] = []
        var withoutPrefixRoute: Set<IPNetwork> = []
        for line in listed.standardOutput.split(separator: "\n") where !line.contains("scope link") {
            let words = line.split(separator: " ")
            if let index = words.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), index + 1 < words.count,
                let network = IPNetwork(String(words[index + 1]))
            {
                present.append(network)
                if words.contains("noprefixroute") { withoutPrefixRoute.insert(network) }
            }
        }
        if !withoutPrefixRoute.contains(address) {
            let verb = present.contains(address) ? "replace" : "add"
            let added = try await ip(["addr", verb, address.description, "dev", name, "noprefixroute"])
            guard added.status == 0 else { throw Self.failure(added, doing: "adding address \(address) to interface \(name)") }
        }
        for stale in present where stale != address {
            let removed = try await ip(["addr", "del", stale.description, "dev", name])
            guard removed.status == 0 else { throw Self.failure(removed, doing: "removing address \(stale) from interface \(name)") }
        }
    }

    private func ensureUp(_ name: String) async throws {
        let link = try await ip(["-o", "link", "show", "dev", name])
        guard link.status == 0 else { throw Self.failure(link, doing: "reading interface \(name)") }
        let flags = link.standardOutput.split(separator: "<").dropFirst().first?.split(separator: ">").first ?? ""
        if flags.split(separator: ",").contains("UP") { return }
        let up = try await ip(["link", "set", "dev", name, "up"])
        guard up.status == 0 else { throw Self.failure(up, doing: "bringing interface \(name) up") }
    }

    // MARK: - Tools and errors

    func ip(_ arguments: [String]) async throws -> CommandRunner.Output {
        guard let ipTool else { throw WireGuardError(.toolMissing, "ip (iproute2) is not installed (Debian: apt-get install iproute2)") }
        return try await CommandRunner.run(ipTool, configuration.networkNamespace.map { ["-n", $0] + arguments } ?? arguments)
    }

    private func wg(_ arguments: [String], standardInput: Data? = nil) async throws -> CommandRunner.Output {
        guard let wgTool else { throw WireGuardError(.toolMissing, "wg is not installed (Debian: apt-get install wireguard-tools)") }
        let command = try inNamespace(wgTool)
        return try await CommandRunner.run(command.executable, command.arguments + arguments, standardInput: standardInput)
    }

    /// `executable`, run in ``Configuration/networkNamespace`` when there is one (`ip netns exec`).
    private func inNamespace(_ executable: URL) throws -> (executable: URL, arguments: [String]) {
        guard let namespace = configuration.networkNamespace else { return (executable, []) }
        guard let ipTool else { throw WireGuardError(.toolMissing, "ip (iproute2) is not installed (Debian: apt-get install iproute2)") }
        return (ipTool, ["netns", "exec", namespace, executable.path])
    }

    private static func isMissingDevice(_ output: CommandRunner.Output) -> Bool {
        output.printed.contains("does not exist") || output.printed.contains("Cannot find device")
    }

    /// A failed `ip` or `wg` run as an error: missing privileges get their own code and say what is needed.
    static func failure(_ output: CommandRunner.Output, doing action: String) -> WireGuardError {
        let printed = output.printed
        if printed.contains("Operation not permitted") || printed.contains("Permission denied") {
            return WireGuardError(.permissionDenied, "\(action): operation not permitted; managing network interfaces needs the NET_ADMIN capability (\(printed))")
        }
        if printed.contains("File exists") {
            return WireGuardError(.interfaceConflict, "\(action): \(printed)")
        }
        return WireGuardError(.commandFailed, "\(action): exit status \(output.status): \(printed)")
    }

    /// Why wireguard-go did not come up, from what it printed.
    static func daemonFailure(_ printed: String, interface name: String, socket: String, timeout: Duration) -> WireGuardError {
        let lowered = printed.lowercased()
        if lowered.contains("/dev/net/tun") && ["no such file", "no such device", "does not exist"].contains(where: lowered.contains) {
            return WireGuardError(
                .tunUnavailable,
                "creating interface \(name): the kernel has no WireGuard and wireguard-go cannot open /dev/net/tun (mount the TUN device into the container): \(printed)"
            )
        }
        if lowered.contains("operation not permitted") || (lowered.contains("permission denied") && lowered.contains("tun")) {
            return WireGuardError(
                .permissionDenied,
                "creating interface \(name): wireguard-go may not create a TUN device; it needs the NET_ADMIN capability: \(printed)"
            )
        }
        if lowered.contains("uapi") && lowered.contains("in use") {
            return WireGuardError(.interfaceConflict, "creating interface \(name): \(socket) is in use by another WireGuard interface of that name (in another network namespace?): \(printed)")
        }
        if printed.isEmpty {
            return WireGuardError(.commandFailed, "creating interface \(name): wireguard-go did not open \(socket) within \(timeout)")
        }
        return WireGuardError(.commandFailed, "creating interface \(name): wireguard-go failed: \(printed)")
    }
}
