import NIOSSL
import Synchronization

/// The gateway's own certificate for TLS termination, replaceable while the gateway runs: each new
/// connection uses the certificate current when it arrives; open connections keep theirs. ALPN
/// offers HTTP/2 and HTTP/1.1; TLS 1.2 is the oldest version accepted.
public final class GatewayTLS: Sendable {
    private let context: Mutex<(context: NIOSSLContext, certificateChainPEM: String)>

    /// - Throws: `NIOSSLError` when the certificate chain or the key cannot be read or do not match.
    public init(certificateChainPEM: String, privateKeyPEM: String) throws {
        context = Mutex((try Self.makeContext(certificateChainPEM: certificateChainPEM, privateKeyPEM: privateKeyPEM), certificateChainPEM))
    }

    /// Serves `certificateChainPEM` to new connections from now on.
    ///
    /// - Returns: Whether the certificate changed.
    /// - Throws: `NIOSSLError` when it cannot be used; the current certificate then stays.
    @discardableResult
    public func update(certificateChainPEM: String, privateKeyPEM: String) throws -> Bool {
        guard context.withLock({ $0.certificateChainPEM }) != certificateChainPEM else { return false }
        let new = try Self.makeContext(certificateChainPEM: certificateChainPEM, privateKeyPEM: privateKeyPEM)
        context.withLock { $0 = (new, certificateChainPEM) }
        return true
    }

    /// The certificate chain new connections get.
    public var certificateChainPEM: String { context.withLock { $0.certificateChainPEM } }

    /// The context new connections use.
    var current: NIOSSLContext { context.withLock { $0.context } }

    private static func makeContext(certificateChainPEM: String, privateKeyPEM: String) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificateChainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem))
        )
        configuration.applicationProtocols = ["h2", "http/1.1"]
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}
