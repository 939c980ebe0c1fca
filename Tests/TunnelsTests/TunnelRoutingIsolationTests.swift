import Foundation
import IPAddresses
import Logging
import PortcullisTestSupport
import Testing
import Tunnels

/// A Tunnel carries only the connections bound to its address (docs/security.md §7), shown on real WireGuard
/// in two network namespaces of the test's own: the gateway's, whose default route leads to a site with a
/// backend, and the site, which runs the private side of the tunnel (wg-quick) as well. The tunnel's networks
/// cover the backend; a plain connection from the gateway's namespace must still go the direct way, and only
/// a connection bound to the tunnel address may go through the tunnel.
@Suite(
    .enabled(
        if: WireGuardTestEnvironment.isAvailable && ExternalTool("curl").url != nil && ExternalTool("python3").url != nil,
        "needs root, /dev/net/tun, ip, wg, wg-quick, wireguard-go, curl and python3 (.ci/run installs the WireGuard tools)"
    ),
    .serialized,
    .timeLimit(.minutes(2))
)
struct TunnelRoutingIsolationTests {
    /// What the tunnel routes besides its pool: networks that take the backend.
    enum Capture: CaseIterable, CustomTestStringConvertible {
        /// Every IPv4 address, in the two halves that beat a default route.
        case everything
        /// The backend's own address.
        case backendAddress

        var testDescription: String { self == .everything ? "0.0.0.0/1 and 128.0.0.0/1" : "the backend's /32" }
    }

    /// The two namespaces, the backend and the private side.
    struct Sandbox {
        let suffix = WireGuardTestEnvironment.uniqueSuffix()
        let octet = WireGuardTestEnvironment.randomOctet()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-isolation-\(UUID().uuidString)")
        let siteKey = WireGuardPrivateKey.generate()
        let listenPort = Int.random(in: 40000...59999)
        var gateway: NetworkNamespace?
        var site: NetworkNamespace?
        var backend: BackgroundProcess?

        /// The gateway's address on the link to the site: what the backend sees of a direct connection.
        var gatewayLinkAddress: String { "172.30.\(octet).1" }
        var siteLinkAddress: String { "172.30.\(octet).2" }
        var tunnelAddress: String { "10.241.\(octet).1" }
        var peerAddress: String { "10.241.\(octet).2" }
        var backendAddress: String { "10.243.\(octet).10" }
        /// Another address of the site, outside the tunnel's networks in the `.backendAddress` case.
        var otherAddress: String { "10.243.\(octet).11" }
        var interface: String { "pci" + suffix }
        var siteInterface: String { "pqi" + suffix }

        mutating func start() async throws {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("www"), withIntermediateDirectories: true)
            let gateway = try await NetworkNamespace.create("pcg-" + suffix)
            self.gateway = gateway
            let site = try await NetworkNamespace.create("pcs-" + suffix)
            self.site = site
            try await gateway.run(["ip", "link", "add", "pcga" + suffix, "type", "veth", "peer", "name", "pcsa" + suffix, "netns", site.name])
            try await gateway.run(["ip", "addr", "add", "\(gatewayLinkAddress)/30", "dev", "pcga" + suffix])
            try await gateway.run(["ip", "link", "set", "pcga" + suffix, "up"])
            try await gateway.run(["ip", "route", "add", "default", "via", siteLinkAddress])
            // Strict reverse-path filtering: replies through the tunnel must still be accepted.
            try await gateway.run(["sysctl", "-q", "-w", "net.ipv4.conf.all.rp_filter=1", "net.ipv4.conf.default.rp_filter=1"])
            try await site.run(["ip", "addr", "add", "\(siteLinkAddress)/30", "dev", "pcsa" + suffix])
            try await site.run(["ip", "link", "set", "pcsa" + suffix, "up"])
            for address in [backendAddress, otherAddress] {
                try await site.run(["ip", "addr", "add", "\(address)/32", "dev", "lo"])
            }
            let backend = try site.start(["python3", "-u", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", directory.appendingPathComponent("www").path])
            self.backend = backend
            #expect(try await backend.waitFor("Serving HTTP"), "\(backend.printed)")
        }

        /// The private side: wg-quick with the gateway as its peer, routing the gateway's tunnel address back.
        func startPrivateSide(gatewayKey: WireGuardPublicKey) async throws {
            let config = WGQuickConfig(
                header: ["the private side of the isolation test"],
                privateKey: .key(siteKey),
                address: IPNetwork("\(peerAddress)/32")!,
                peerPublicKey: gatewayKey,
                endpoint: "\(gatewayLinkAddress):\(listenPort)",
                allowedIPs: [IPNetwork("\(tunnelAddress)/32")!],
                persistentKeepalive: 0
            )
            let file = directory.appendingPathComponent("\(siteInterface).conf")
            try config.rendered().write(to: file, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
            let up = try await site!.wgQuickUp(file, log: directory.appendingPathComponent("wg-quick.log"))
            #expect(up.status == 0, "\(up.printed)")
        }

        /// A GET from the gateway's namespace, bound to `source` if given: its status (0 when it did not
        /// connect) and the client address the backend logged for it.
        func get(_ path: String, from source: String? = nil, to host: String? = nil) async throws -> (status: Int, client: String?) {
            var arguments = ["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}"]
            if let source { arguments += ["--interface", source] }
            let output = try await gateway!.attempt(arguments + ["http://\(host ?? backendAddress):8080\(path)"])
            let line = backend?.printed.split(separator: "\n").last { $0.contains("GET \(path) ") }
            return (Int(output.stdout) ?? 0, line?.split(separator: " ").first.map(String.init))
        }

        func stop() async {
            backend?.kill()
            if let site {
                _ = try? await site.attempt(["ip", "link", "del", siteInterface])
                await site.delete()
            }
            await gateway?.delete()
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test(arguments: Capture.allCases)
    func onlyConnectionsFromTheTunnelAddressGoThroughTheTunnel(_ capture: Capture) async throws {
        var sandbox = Sandbox()
        var manager: WireGuardInterfaceManager?
        do {
            try await sandbox.start()
            let interfaces = WireGuardInterfaceManager(
                configuration: .init(networkNamespace: sandbox.gateway?.name),
                logger: Logger(label: "test.wireguard", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            manager = interfaces
            let captured = capture == .everything ? ["0.0.0.0/1", "128.0.0.0/1"] : ["\(sandbox.backendAddress)/32"]
            let configuration = WireGuardInterfaceConfiguration(
                name: sandbox.interface,
                privateKey: .generate(),
                listenPort: sandbox.listenPort,
                address: IPNetwork("\(sandbox.tunnelAddress)/32")!,
                addressPool: IPNetwork("10.241.\(sandbox.octet).0/24")!,
                peer: .init(
                    publicKey: sandbox.siteKey.publicKey,
                    allowedIPs: [IPNetwork("\(sandbox.peerAddress)/32")!] + captured.map { IPNetwork($0)! }
                )
            )
            try await interfaces.apply(configuration)
            try await sandbox.startPrivateSide(gatewayKey: configuration.privateKey.publicKey)
            let gateway = try #require(sandbox.gateway)
            let table = String(configuration.routingTable)

            // What an operator sees: nothing of the tunnel's in the main table, its routes in its own.
            let main = try await gateway.run(["ip", "route", "show", "table", "main"]).stdout
            #expect(!main.contains(sandbox.interface), "\(main)")
            let own = try await gateway.attempt(["ip", "route", "show", "table", table]).stdout
            #expect(own.contains("unreachable default") && captured.allSatisfy { own.contains($0.replacingOccurrences(of: "/32", with: "")) }, "\(own)")
            #expect(try await gateway.run(["ip", "rule", "show"]).stdout.contains("from \(sandbox.tunnelAddress) lookup \(table)"))

            // A plain connection goes the direct way, and the tunnel sees nothing of it.
            let direct = try await sandbox.get("/direct-before")
            #expect(direct.status == 404 && direct.client == sandbox.gatewayLinkAddress, "\(direct); backend: \(sandbox.backend?.printed ?? "")")
            let quiet = try #require(try await interfaces.state(of: sandbox.interface)?.peers.first)
            #expect(quiet.lastHandshake == nil && quiet.transmittedBytes == 0 && quiet.receivedBytes == 0, "\(quiet)")

            // The private side says hello (the gateway learns its endpoint), then a connection bound to the
            // tunnel address reaches the backend through the tunnel.
            _ = try await sandbox.site!.attempt(["curl", "-s", "-m", "3", "http://\(sandbox.tunnelAddress):9/"])
            let tunneled = try await sandbox.get("/through-the-tunnel", from: sandbox.tunnelAddress)
            #expect(tunneled.status == 404 && tunneled.client == sandbox.tunnelAddress, "\(tunneled); backend: \(sandbox.backend?.printed ?? "")")
            let busy = try #require(try await interfaces.state(of: sandbox.interface)?.peers.first)
            #expect(busy.lastHandshake != nil && busy.transmittedBytes > 0, "\(busy)")

            // And again a plain connection: direct, and the gateway sends nothing into the tunnel for it.
            let after = try await sandbox.get("/direct-after")
            #expect(after.status == 404 && after.client == sandbox.gatewayLinkAddress, "\(after)")
            #expect(try await interfaces.state(of: sandbox.interface)?.peers.first?.transmittedBytes == busy.transmittedBytes)

            if capture == .backendAddress {
                // Bound to the tunnel address, an address outside the tunnel's networks is unreachable: it
                // does not leave by the default route either.
                let outside = try await sandbox.get("/outside", from: sandbox.tunnelAddress, to: sandbox.otherAddress)
                #expect(outside.status == 0 && outside.client == nil, "\(outside)")
                #expect(try await interfaces.state(of: sandbox.interface)?.peers.first?.transmittedBytes == busy.transmittedBytes)
            }

            try await interfaces.remove(sandbox.interface)
            #expect(!(try await gateway.run(["ip", "rule", "show"]).stdout.contains("lookup \(table)")))
            #expect(try await gateway.attempt(["ip", "route", "show", "table", table]).stdout.isEmpty)
        } catch {
            Issue.record(error)
        }
        try? await manager?.remove(sandbox.interface)
        await sandbox.stop()
    }
}
