import Foundation
import Gateway
import IPAddresses
import NIOCore
import Testing

/// A Route through a Tunnel connects from the tunnel's address, which alone selects the tunnel's routing table;
/// on loopback, 127.0.0.2 stands in for it (every 127/8 address is local), and the upstream sees which
/// address each connection came from.
@Suite struct TunnelBindingTests {
    static func routes(to port: Int, http2: Bool) -> [RouteConfig] {
        let direct = UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port, httpProtocol: http2 ? .http2 : .http1)
        var tunneled = direct
        tunneled.tunnel = UpstreamTarget.Tunnel(name: "mainframe", sourceAddress: IPAddress("127.0.0.2")!)
        return [
            RouteConfig(key: RouteKey(namespace: "default", name: "direct"), match: RouteMatchRule(path: .prefix("/direct")), upstream: direct),
            RouteConfig(key: RouteKey(namespace: "default", name: "tunneled"), match: RouteMatchRule(path: .prefix("/tunnel")), upstream: tunneled),
        ]
    }

    /// The upstream's answers on one client connection, as (URI, client address) in order.
    static func clients(_ response: String) throws -> [(uri: String, client: String)] {
        try response.components(separatedBy: "HTTP/1.1 200 OK").dropFirst().map { part in
            let json = try #require(part.components(separatedBy: "\r\n\r\n").dropFirst().first)
            let echo = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return (echo["uri"] as? String ?? "", echo["client"] as? String ?? "")
        }
    }

    @Test(arguments: [false, true])
    func aRouteThroughATunnelConnectsFromTheTunnelAddressOnConnectionsOfItsOwn(http2: Bool) async throws {
        let h1 = http2 ? nil : try await TestUpstream()
        let h2 = http2 ? try await HTTP2TestUpstream(.h2c) : nil
        let port = h1?.port ?? h2?.port ?? 0
        let state = GatewayState(GatewayConfig(generation: 1, routes: Self.routes(to: port, http2: http2)))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        // One client connection, so one event loop and one pool: the routes take turns on the same origin.
        let requests = ["/direct/1", "/tunnel/1", "/direct/2", "/tunnel/2"].enumerated().map { index, path in
            "GET \(path) HTTP/1.1\r\nHost: a\r\n\(index == 3 ? "Connection: close\r\n" : "")\r\n"
        }
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, requests.joined())
        let clients = try Self.clients(response)
        #expect(clients.map(\.uri) == ["/direct/1", "/tunnel/1", "/direct/2", "/tunnel/2"], "\(response)")
        #expect(clients.map(\.client) == ["127.0.0.1", "127.0.0.2", "127.0.0.1", "127.0.0.2"])
        #expect((h1?.connectionCount ?? h2?.connectionCount) == 2, "one connection each: the pool never lends one to the other")
        try await gateway.close()
        try await h1?.stop()
        try await h2?.stop()
    }
}
