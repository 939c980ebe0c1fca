import Foundation
import Gateway
import NIOCore
import NIOSSL
import PKI
import PortcullisTestSupport
import Testing

/// TLS 1.2 or later, both ways: real handshakes from a TLS 1.0/1.1 client to the gateway's listener, and from the
/// gateway to an upstream that speaks nothing newer than TLS 1.1.
@Suite struct TLSVersionTests {
    static let authority = try! CertificateAuthority.generate(now: Date())

    @Test func theListenerRefusesClientsOlderThanTLS12() async throws {
        let issued = try Self.authority.issue(.loopbackServer(), now: Date())
        let tls = try GatewayTLS(certificateChainPEM: issued.certificatePEM, privateKeyPEM: issued.privateKeyPEM)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(), tls: tls).start()
        let port = gateway.localAddress!.port!
        for old in [TLSVersion.tlsv1, .tlsv11] {
            await #expect(throws: (any Error).self, "a client speaking at most \(old)") {
                try await TLSHandshake.attempt(port: port, maximumVersion: old)
            }
        }
        #expect(try await TLSHandshake.attempt(port: port, maximumVersion: .tlsv12) == .tlsv12)
        #expect(try await TLSHandshake.attempt(port: port, maximumVersion: .tlsv13) == .tlsv13)
        try await gateway.close()
    }

    /// Proxies one request to `upstream` and returns the gateway's answer.
    static func proxy(to upstream: HTTPSTestServer, http2: Bool) async throws -> String {
        var target = UpstreamTarget(scheme: .https, host: "127.0.0.1", port: upstream.port)
        target.tls = UpstreamTarget.TLS(trustedCAPEM: try authority.trustAnchorPEM)
        if http2 { target.httpProtocol = .http2 }
        let route = RouteConfig(key: RouteKey(namespace: "default", name: "old"), upstream: target)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        defer { gateway.close(promise: nil) }
        return try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    }

    @Test(arguments: [false, true]) func upstreamsThatSpeakOnlyTLS11AreRefused(http2: Bool) async throws {
        let old = try await HTTPSTestServer(authority: Self.authority, maximumVersion: .tlsv11)
        let answer = try await Self.proxy(to: old, http2: http2)
        #expect(answer.hasPrefix("HTTP/1.1 502"), "\(answer)")
        #expect(answer.contains("PROTOCOL_VERSION"), "the handshake failed on the version: \(answer)")
        try await old.stop()
    }

    @Test func anUpstreamThatSpeaksTLS12IsReached() async throws {
        let current = try await HTTPSTestServer(authority: Self.authority, maximumVersion: .tlsv12)
        let answer = try await Self.proxy(to: current, http2: false)
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
        #expect(answer.hasSuffix("ok"))
        try await current.stop()
    }
}
