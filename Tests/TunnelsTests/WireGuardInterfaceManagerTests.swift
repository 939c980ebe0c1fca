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
            addressPool: IPNetwork("10.251.\(octet).0/24")!,
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
            #expect(try await Self.ip("-o", "addr", "show", "dev", name).contains("inet 10.251.\(octet).1/32 scope global noprefixroute"))
            #expect(try await Self.ip("-o", "link", "show", "dev", name).contains(",UP"))
            // The pool and the private network in the interface's own table, with an unreachable default; a
            // rule for the tunnel address selects it; nothing in the main table.
            let table = String(configuration.routingTable)
            let routes = try await Self.ip("-o", "route", "show", "table", table)
            #expect(routes.contains("10.251.\(octet).0/24 dev \(name) ") && routes.contains("10.252.\(octet).0/24 dev \(name) "), "\(routes)")
            #expect(routes.contains("unreachable default"), "\(routes)")
            #expect(try await Self.ip("rule", "show").contains("\(WireGuardInterfaceManager.rulePriority):\tfrom 10.251.\(octet).1 lookup \(table)"))
            #expect(try await Self.ip("route", "show", "table", "main", "dev", name).isEmpty)

            try await manager.apply(configuration)
            #expect(try await manager.state(of: name) == state, "reapplying changes nothing")
            #expect(try await Self.ip("-o", "route", "show", "table", table) == routes)
            #expect(try await Self.ip("rule", "show").components(separatedBy: "lookup \(table)").count == 2, "one rule")

            configuration.peer.publicKey = WireGuardPrivateKey.generate().publicKey
            configuration.peer.allowedIPs = [IPNetwork("10.251.\(octet).2/32")!]
            configuration.privateKey = .generate()
            try await manager.apply(configuration)
            let changed = try #require(try await manager.state(of: name))
            #expect(changed.privateKey == configuration.privateKey)
            #expect(changed.peers.map(\.publicKey) == [configuration.peer.publicKey])
            #expect(!(try await Self.ip("-o", "route", "show", "table", table).contains("10.252.\(octet).0/24")), "a route no longer allowed is removed")

            // A new address moves the rule.
            configuration.address = IPNetwork("10.251.\(octet).5/32")!
            try await manager.apply(configuration)
            let rules = try await Self.ip("rule", "show")
            #expect(rules.contains("from 10.251.\(octet).5 lookup \(table)") && !rules.contains("from 10.251.\(octet).1 lookup"), "\(rules)")
        }
        #expect(try await manager.state(of: name) == nil)
        #expect(!FileManager.default.fileExists(atPath: "/var/run/wireguard/\(name).sock"))
        let table = String(configuration.routingTable)
        #expect(!(try await Self.ip("rule", "show").contains("lookup \(table)")), "the rule goes with the interface")
        let left = try await ExternalTool("ip").run(["route", "show", "table", table])
        #expect(left.stdout.isEmpty, "and the table: \(left.stdout)")
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

    @Test func tunnelsWithTheSameNetworksRouteEachInItsOwnTable() async throws {
        let first = name()
        let second = name()
        try await withInterfaces([first, second]) {
            try await manager.apply(configuration(first, port: Self.port()))
            var other = configuration(second, port: Self.port())
            other.address = IPNetwork("10.251.\(octet).3/32")!
            other.peer.allowedIPs = [IPNetwork("10.251.\(octet).4/32")!, IPNetwork("10.252.\(octet).0/24")!]
            try await manager.apply(other)
            for name in [first, second] {
                let routes = try await Self.ip("-o", "route", "show", "table", String(WireGuardInterfaceConfiguration.routingTable(for: name)))
                #expect(routes.contains("10.252.\(octet).0/24 dev \(name) "), "\(routes)")
            }
            let chosen = try await Self.ip("route", "get", "10.252.\(octet).9", "from", "10.251.\(octet).3")
            #expect(chosen.contains("dev \(second) "), "the second tunnel's address selects the second tunnel: \(chosen)")
        }
    }

    @Test func aRoutingTableInUseIsAConflictNamingTheInterfaceAndChangesNothing() async throws {
        let name = name()
        let table = String(WireGuardInterfaceConfiguration.routingTable(for: name))
        _ = try await ExternalTool("ip").run(["route", "add", "10.253.\(octet).0/24", "dev", "lo", "table", table])
        do {
            let error = await #expect(throws: WireGuardError(.routeConflict)) {
                try await manager.apply(configuration(name, port: Self.port()))
            }
            #expect(error?.message.contains("interface \(name)") == true && error?.message.contains("table \(table)") == true, "\(String(describing: error))")
            #expect(error?.message.contains("10.253.\(octet).0/24 through lo") == true, "\(String(describing: error))")
            #expect(!(try await Self.ip("rule", "show").contains("lookup \(table)")))
            #expect(try await Self.ip("-o", "route", "show", "table", table) == "10.253.\(octet).0/24 dev lo scope link \n")
        }
        try? await manager.remove(name)
        #expect(try await Self.ip("-o", "route", "show", "table", table) == "10.253.\(octet).0/24 dev lo scope link \n", "removing leaves the other's table alone")
        _ = try await ExternalTool("ip").run(["route", "del", "10.253.\(octet).0/24", "dev", "lo", "table", table])

        // A rule for the table that is not the interface's own.
        _ = try await ExternalTool("ip").run(["rule", "add", "fwmark", "0x77", "lookup", table, "priority", "20000"])
        do {
            let error = await #expect(throws: WireGuardError(.routeConflict)) {
                try await manager.apply(configuration(name, port: Self.port()))
            }
            #expect(error?.message.contains("20000: from all lookup \(table)") == true, "\(String(describing: error))")
        }
        try? await manager.remove(name)
        _ = try await ExternalTool("ip").run(["rule", "del", "fwmark", "0x77", "lookup", table, "priority", "20000"])
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
