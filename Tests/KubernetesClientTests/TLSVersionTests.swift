import Foundation
import Kubernetes
import KubernetesClient
import Logging
import NIOSSL
import PKI
import PortcullisTestSupport
import Testing

/// TLS 1.2 or later between the controller and the API server: the client refuses a server that speaks only TLS
/// 1.1, and the embedded API server refuses TLS 1.0 and 1.1 clients, both in real handshakes.
@Suite struct TLSVersionTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func theClientRefusesAServerThatSpeaksOnlyTLS11() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        func list(from server: HTTPSTestServer) async throws -> String {
            let client = try KubernetesClient(
                configuration: .init(server: "https://127.0.0.1:\(server.port)", tls: .init(certificateAuthorityPEM: try authority.trustAnchorPEM)),
                logger: Self.quiet
            )
            var outcome = "listed"
            do {
                _ = try await client.resources(.namespaces).list()
            } catch {
                outcome = "\(error)"
            }
            try await client.shutdown()
            return outcome
        }
        let old = try await HTTPSTestServer(authority: authority, maximumVersion: .tlsv11)
        let refused = try await list(from: old)
        #expect(refused.contains("PROTOCOL_VERSION"), "\(refused)")
        // Speaking TLS 1.2, the same server is reached (and answers something that is not a namespace list).
        let current = try await HTTPSTestServer(authority: authority, maximumVersion: .tlsv12)
        let reached = try await list(from: current)
        #expect(!reached.contains("PROTOCOL_VERSION") && !reached.contains("handshake"), "\(reached)")
        try await old.stop()
        try await current.stop()
    }

    @Test func theEmbeddedAPIServerRefusesClientsOlderThanTLS12() async throws {
        let server = try await TestAPIServer()
        for old in [TLSVersion.tlsv1, .tlsv11] {
            await #expect(throws: (any Error).self, "a client speaking at most \(old)") {
                try await TLSHandshake.attempt(port: server.port, maximumVersion: old)
            }
        }
        #expect(try await TLSHandshake.attempt(port: server.port, maximumVersion: .tlsv12) == .tlsv12)
        await server.stop()
    }
}
