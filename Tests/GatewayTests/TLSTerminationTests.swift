import Foundation
import Gateway
import NIOCore
import PKI
import PortcullisTestSupport
import Testing

/// The gateway terminating TLS with a certificate that is replaced while it runs, checked with the
/// real openssl and curl.
@Suite struct TLSTerminationTests {
    @Test func newConnectionsGetTheRotatedCertificate() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let authority = try CertificateAuthority.generate(now: Date())
        let caFile = directory.appendingPathComponent("ca.pem").path
        try (try authority.trustAnchorPEM).write(toFile: caFile, atomically: true, encoding: .utf8)
        let first = try authority.issue(.loopbackServer(), now: Date())
        let second = try authority.issue(.loopbackServer(), now: Date())

        let upstream = try await TestUpstream()
        let route = RouteConfig(key: RouteKey(namespace: "default", name: "api"), upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstream.port))
        let tls = try GatewayTLS(certificateChainPEM: first.certificatePEM, privateKeyPEM: first.privateKeyPEM)
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route])), tls: tls).start()
        let port = gateway.localAddress!.port!

        let curl = try await ExternalTool("curl").run(["-s", "--cacert", caFile, "https://localhost:\(port)/hello"])
        #expect(curl.status == 0, "\(curl.stderr)")
        let echo = try #require(try JSONSerialization.jsonObject(with: Data(curl.stdout.utf8)) as? [String: Any])
        #expect(echo["uri"] as? String == "/hello")
        #expect(ProxyTests.headers(echo).first { $0.0 == "x-forwarded-proto" }?.1 == "https")

        // HTTP/2 by ALPN: curl negotiates h2, and several streams on one connection are each proxied.
        let h2 = try await ExternalTool("curl").run([
            "-s", "--http2", "--cacert", caFile, "-w", "\\n%{http_version}\\n",
            "https://localhost:\(port)/one", "https://localhost:\(port)/two",
        ])
        #expect(h2.status == 0, "\(h2.stderr)")
        #expect(h2.stdout.components(separatedBy: "\n").filter { $0 == "2" }.count == 2, "\(h2.stdout)")
        #expect(h2.stdout.contains(#""uri":"\/one""#) && h2.stdout.contains(#""uri":"\/two""#), "\(h2.stdout)")
        let http1 = try await ExternalTool("curl").run(["-s", "--http1.1", "--cacert", caFile, "-w", "\\n%{http_version}", "https://localhost:\(port)/three"])
        #expect(http1.stdout.hasSuffix("\n1.1"), "\(http1.stdout)")

        func servedSerial() async throws -> String {
            let output = try await ExternalTool("bash").run([
                "-c", "openssl s_client -connect 127.0.0.1:\(port) -servername localhost -CAfile \(caFile) </dev/null 2>/dev/null | openssl x509 -noout -serial",
            ])
            return String(output.stdout.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("serial=".count))
        }
        #expect(try await servedSerial() == first.serialNumber)
        #expect(try tls.update(certificateChainPEM: second.certificatePEM, privateKeyPEM: second.privateKeyPEM))
        #expect(try await servedSerial() == second.serialNumber)
        #expect(throws: (any Error).self, "a key that is not PEM is refused and the current certificate stays") {
            try tls.update(certificateChainPEM: first.certificatePEM, privateKeyPEM: "not a key")
        }
        #expect(try await servedSerial() == second.serialNumber)
        try await gateway.close()
        try await upstream.stop()
    }
}
