import Foundation
import Gateway
import IPAddresses
import NIOCore
import PortcullisTestSupport
import Resilience
import Testing

/// The addresses the gateway connects to, checked where they resolve (docs/security.md, "Destinations"):
/// a name that resolves to a refused address is never connected to, which also holds when DNS changes its
/// answer after the controller accepted the Route.
@Suite struct DestinationTests {
    static func route(host: String, port: Int, connectHost: String? = nil, intoClusterNetwork: Bool = false) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "shop", name: "r"),
            match: RouteMatchRule(path: .prefix("/")),
            upstream: UpstreamTarget(scheme: .http, host: host, port: port, connectHost: connectHost, intoClusterNetwork: intoClusterNetwork),
            retry: RetryConfiguration(attempts: 3)
        )
    }

    /// Serves `route` with `destinations`, sends one request, and says what came back and whether the upstream
    /// saw a connection.
    static func request(_ route: (Int) -> RouteConfig, destinations: DestinationPolicy) async throws -> (response: String, upstreamConnections: Int) {
        let upstream = try await TestUpstream()
        let state = GatewayState(GatewayConfig(generation: 1, routes: [route(upstream.port)], destinations: destinations))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET /x HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n")
        let connections = upstream.connectionCount
        try await gateway.close()
        try await upstream.stop()
        return (response, connections)
    }

    @Test func aNameThatResolvesToARefusedAddressIsNeverConnectedTo() async throws {
        // localhost resolves (through /etc/hosts) to loopback, which the default policy refuses.
        let (response, connections) = try await Self.request({ Self.route(host: "shop-backend.example.com", port: $0, connectHost: "localhost") }, destinations: DestinationPolicy())
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
        #expect(response.contains("https://portcullis.io/problems/upstream-destination-refused"))
        #expect(connections == 0, "not even a TCP connection, and no retry")
    }

    @Test func aLiteralAddressIsCheckedBeforeConnecting() async throws {
        let (response, connections) = try await Self.request({ Self.route(host: "127.0.0.1", port: $0) }, destinations: DestinationPolicy())
        #expect(response.contains("upstream-destination-refused"), "\(response)")
        #expect(connections == 0)
    }

    @Test func allowedAddressesAreConnectedTo() async throws {
        let loopback = DestinationPolicy(allowedNetworks: DestinationPolicy.loopbackNetworks)
        let byName = try await Self.request({ Self.route(host: "shop-backend.example.com", port: $0, connectHost: "localhost") }, destinations: loopback)
        #expect(byName.response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(byName.response)")
        let literal = try await Self.request({ Self.route(host: "127.0.0.1", port: $0) }, destinations: loopback)
        #expect(literal.response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(literal.response)")
    }

    @Test func theGatewaysOwnPortsAreRefusedWhateverIsAllowed() async throws {
        let upstream = try await TestUpstream()
        defer { Task { try? await upstream.stop() } }
        let policy = DestinationPolicy(allowedNetworks: DestinationPolicy.loopbackNetworks, gatewayPorts: [upstream.port])
        let (response, _) = try await Self.request({ _ in Self.route(host: "localhost", port: upstream.port, connectHost: "localhost") }, destinations: policy)
        #expect(response.contains("upstream-destination-refused"), "\(response)")
        #expect(upstream.connectionCount == 0)
    }
}
