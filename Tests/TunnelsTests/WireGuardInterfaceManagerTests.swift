import Foundation
import Logging
import IPAddresses
import PortcullisTestSupport
import Testing
@testable import Tunnels

/// The interface manager on real interfaces in this process's network namespace: wireguard-go (or kernel
/// WireGuard where the kernel has it), `wg` and `ip`. Every test uses its own names, ports and networks and
/// removes what it made, also when it fails. One test at a time, so as not to starve timing-sensitive tests.
@Suite(.enabled(if: WireGuardTestEnvironment.isAvailable, "needs root, /dev/net/tun, ip, wg and wireguard-go (.ci/run installs them)"), .serialized)
struct WireGuardInterfaceManagerTests {
    let manager = WireGuardInterfaceManager(logger: Logger(label: "test.wireguard", factory: { _ in SwiftLogNoOpLogHandler() }))
    let octet = WireGuardTestEnvironment.randomOctet()

    func name() -> String { "pct" + WireGuardTestEnvironment.uniqueSuffix() }

    func configuration(_ name: String, port: Int, privateNetwork: String? = nil) -> WireGuardInterfaceConfiguration {
        WireGuardInterfaceConfiguration(
            name: name,
            privateKey: .generate(),
            listenPort: port,
            address: IPNetwork("10.251.\(octet).1/32")!,
            peer: .init(
                publicKey: WireGuardPrivateKey.generate().publicKey,
                allowedIPs: [IPNetwork("10.251.\(octet).2/32")!, IPNetwork(privateNetwork ?? "10.252.\(octet).0/24")!]
            )
        )
    }

    static func port() -> Int { Int.random(in: 40000...59999) }

    /// Runs `body`, then removes the interfaces whatever happened.
    func withInterfaces(_ names: [String], _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            for name in names { try? await manager.remove(name) }
            throw error
        }
        for name in names { try await manager.remove(name) }
    }

    static func ip(_ arguments: String...) async throws -> String {
        try await ExternalTool("ip").run(arguments).stdout
    }

    @Test func appliesReappliesAndRemoves() async throws {
        let name = name()
        var configuration = configuration(name, port: Self.port())
        try await withInterfaces([name]) {
            try await manager.apply(configuration)
            let state = try #require(try await manager.state(of: name))
            #expect(state.privateKey == configuration.privateKey)
            #expect(state.listenPort == configuration.listenPort)
            #expect(state.peers.map(\.publicKey) == [configuration.peer.publicKey])
            #expect(Set(state.peers[0].allowedIPs) == Set(configuration.peer.allowedIPs))
            #expect(try await Self.ip("-o", "addr", "show", "dev", name).contains("inet 10.251.\(octet).1/32"))
            #expect(try await Self.ip("-o", "link", "show", "dev", name).contains(",UP"))
            let routes = try await Self.ip("-o", "route", "show", "dev", name)
            #expect(routes.contains("10.251.\(octet).2 ") && routes.contains("10.252.\(octet).0/24 "), "\(routes)")

            try await manager.apply(configuration)
            #expect(try await manager.state(of: name) == state, "reapplying changes nothing")

            configuration.peer.publicKey = WireGuardPrivateKey.generate().publicKey
            configuration.peer.allowedIPs = [IPNetwork("10.251.\(octet).2/32")!]
            configuration.privateKey = .generate()
            try await manager.apply(configuration)
            let changed = try #require(try await manager.state(of: name))
            #expect(changed.privateKey == configuration.privateKey)
            #expect(changed.peers.map(\.publicKey) == [configuration.peer.publicKey])
            #expect(!(try await Self.ip("-o", "route", "show", "dev", name).contains("10.252.\(octet).0/24")), "a route no longer allowed is removed")
        }
        #expect(try await manager.state(of: name) == nil)
        #expect(!FileManager.default.fileExists(atPath: "/var/run/wireguard/\(name).sock"))
    }

    @Test func aTakenListenPortIsReportedWithTheInterfaceAndPort() async throws {
        let first = name()
        let second = name()
        let port = Self.port()
        try await withInterfaces([first, second]) {
            try await manager.apply(configuration(first, port: port, privateNetwork: "10.253.\(octet).0/24"))
            let error = await #expect(throws: WireGuardError(.listenPortInUse)) {
                try await manager.apply(configuration(second, port: port, privateNetwork: "10.254.\(octet).0/24"))
            }
            #expect(error?.message.contains("UDP port \(port)") == true && error?.message.contains(second) == true, "\(String(describing: error))")
        }
    }

    @Test func aNetworkRoutedElsewhereIsAConflictNamingIt() async throws {
        let first = name()
        let second = name()
        try await withInterfaces([first, second]) {
            try await manager.apply(configuration(first, port: Self.port()))
            var other = configuration(second, port: Self.port())
            other.address = IPNetwork("10.251.\(octet).3/32")!
            other.peer.allowedIPs = [IPNetwork("10.251.\(octet).4/32")!, IPNetwork("10.252.\(octet).0/24")!]
            let error = await #expect(throws: WireGuardError(.routeConflict)) { try await manager.apply(other) }
            #expect(error?.message.contains("10.252.\(octet).0/24") == true && error?.message.contains(first) == true, "\(String(describing: error))")
        }
    }

    @Test func anInterfaceThatIsNotWireGuardIsAConflict() async throws {
        let name = name()
        _ = try await ExternalTool("ip").run(["link", "add", name, "type", "veth", "peer", "name", name + "p"])
        do {
            let error = await #expect(throws: WireGuardError(.interfaceConflict)) {
                try await manager.apply(configuration(name, port: Self.port()))
            }
            #expect(error?.message.contains(name) == true)
        }
        _ = try await ExternalTool("ip").run(["link", "del", name])
    }

    @Test func theWgToolReadsAndWritesWhatTheSocketDoes() async throws {
        // Kernel WireGuard is configured with `wg`; wg speaks UAPI to wireguard-go, so the same commands
        // can be checked here against a wireguard-go interface.
        let name = name()
        let configuration = configuration(name, port: Self.port())
        try await withInterfaces([name]) {
            try await manager.apply(configuration)
            let socketState = try #require(try await manager.state(of: name))
            #expect(try await manager.read(name, .wgTool) == socketState)

            var rotated = configuration
            rotated.privateKey = .generate()
            rotated.listenPort = Self.port()
            let change = WireGuardDeviceChange(from: socketState, to: rotated)
            try await manager.write(change, to: name, .wgTool, listenPort: rotated.listenPort)
            let written = try await manager.read(name, .wgTool)
            #expect(written.privateKey == rotated.privateKey)
            #expect(written.listenPort == rotated.listenPort)
        }
    }
}
