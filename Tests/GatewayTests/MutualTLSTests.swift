import Foundation
import Gateway
import NIOCore
import PKI
import PortcullisTestSupport
import Testing

@Suite struct MutualTLSTests {
    static func route(port: Int, authority: CertificateAuthority, client: IssuedCertificate?, name: String = "mtls", path: String = "/") throws -> RouteConfig {
        let identity = client.map { ClientIdentity(certificateChainPEM: $0.certificatePEM, privateKeyPEM: $0.privateKeyPEM) }
        return RouteConfig(
            key: RouteKey(namespace: "default", name: name),
            match: RouteMatchRule(path: .prefix(path)),
            upstream: UpstreamTarget(
                scheme: .https, host: "127.0.0.1", port: port,
                tls: UpstreamTarget.TLS(trustedCAPEM: try authority.trustAnchorPEM, clientIdentity: identity)
            )
        )
    }

    @Test func theClientCertificateIsPresentedAndItsRotationFailsNoRequest() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let upstream = try await MutualTLSUpstream(serverAuthority: authority, clientCAPEM: try authority.trustAnchorPEM)
        let first = try authority.issue(.client(commonName: "portcullis:default:mtls"), now: Date())
        let second = try authority.issue(.client(commonName: "portcullis:default:mtls"), now: Date())
        let state = GatewayState(GatewayConfig(generation: 1, routes: [try Self.route(port: upstream.port, authority: authority, client: first)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let port = gateway.localAddress!.port!
        let get: @Sendable () async throws -> String = { try await RawHTTPClient.exchange(port: port, "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n") }

        #expect(try await get().httpBody == first.serialNumber)

        // Requests keep flowing while the certificate is rotated: none fails, and the new one is presented.
        let rotated = try Self.route(port: upstream.port, authority: authority, client: second)
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask { try await get() }
                if index == 20 { state.apply(GatewayConfig(generation: 2, routes: [rotated])) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK") }, "\(results.filter { !$0.hasPrefix("HTTP/1.1 200") })")
        #expect(Set(results.map { String($0.httpBody) }).isSubset(of: [first.serialNumber, second.serialNumber]))
        #expect(try await get().httpBody == second.serialNumber)
        try await gateway.close()
        try await upstream.channel.close()
    }

    @Test func anUpstreamThatRequiresACertificateRefusesAConnectionWithoutOne() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let upstream = try await MutualTLSUpstream(serverAuthority: authority, clientCAPEM: try authority.trustAnchorPEM)
        let state = GatewayState(GatewayConfig(generation: 1, routes: [try Self.route(port: upstream.port, authority: authority, client: nil)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway"), "\(response)")
        try await gateway.close()
        try await upstream.channel.close()
    }
}
