import NIOSSL
import Synchronization

/// The certificate gateway replicas present to each other on the admin port, and the CA they trust for it:
/// one `kubernetes.io/tls` Secret the leader issues from the peer CA and every replica reads. The peer CA
/// issues nothing else; in particular it is not the installation CA, which issues tenants' client
/// certificates, so no certificate a tenant can obtain chains to it.
///
/// Both ends verify: a replica accepts a TLS connection only with a client certificate that chains to the
/// peer CA and names ``peerName``; a replica sending a transition checks that the server's certificate chains
/// to it and names ``peerName`` (peers are reached by pod IP, so the name is an identity, not an address).
/// A client that fails either check gets no HTTP answer at all, so nothing about the breakers.
/// Replaceable while running: each new connection uses the certificate current when it opens.
public final class PeerTLS: Sendable {
    /// The DNS name every peer certificate carries. Under `.invalid` (RFC 2606), so no real host has it.
    public static let peerName = "breaker-peer.portcullis.invalid"

    private struct Contexts {
        var server: NIOSSLContext
        var client: NIOSSLContext
        var certificateChainPEM: String
        var trustedCAPEM: String
    }

    private let contexts = Mutex<Contexts?>(nil)

    /// No certificate yet: TLS connections are refused and nothing is sent until ``update(certificateChainPEM:privateKeyPEM:trustedCAPEM:)``.
    public init() {}

    /// Uses this certificate and CA for new connections from now on.
    ///
    /// - Parameters:
    ///   - certificateChainPEM: The replica's certificate (`tls.crt`), naming ``peerName``.
    ///   - privateKeyPEM: Its key (`tls.key`).
    ///   - trustedCAPEM: The peer CA (`ca.crt`); peers must chain to it, and to nothing else.
    /// - Returns: Whether anything changed.
    /// - Throws: `NIOSSLError` when the PEM cannot be read or the key does not match; the current
    ///   certificate then stays.
    @discardableResult
    public func update(certificateChainPEM: String, privateKeyPEM: String, trustedCAPEM: String) throws -> Bool {
        if let current = contexts.withLock({ $0 }), current.certificateChainPEM == certificateChainPEM, current.trustedCAPEM == trustedCAPEM {
            return false
        }
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificateChainPEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = NIOSSLPrivateKeySource.privateKey(try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem))
        let roots = NIOSSLTrustRoots.certificates(try NIOSSLCertificate.fromPEMBytes(Array(trustedCAPEM.utf8)))

        var server = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: key)
        server.trustRoots = roots
        // A server that verifies requires a client certificate; the name is checked per request (``presentsPeerName(_:)``).
        server.certificateVerification = .noHostnameVerification
        server.minimumTLSVersion = .tlsv12

        var client = TLSConfiguration.makeClientConfiguration()
        client.certificateChain = chain
        client.privateKey = key
        client.trustRoots = roots
        client.certificateVerification = .fullVerification
        client.minimumTLSVersion = .tlsv12

        let new = Contexts(
            server: try NIOSSLContext(configuration: server),
            client: try NIOSSLContext(configuration: client),
            certificateChainPEM: certificateChainPEM,
            trustedCAPEM: trustedCAPEM
        )
        contexts.withLock { $0 = new }
        return true
    }

    /// The certificate chain new connections present; `nil` until one is loaded.
    public var certificateChainPEM: String? { contexts.withLock { $0?.certificateChainPEM } }

    /// The context the admin port accepts peers with; `nil` until a certificate is loaded.
    var server: NIOSSLContext? { contexts.withLock { $0?.server } }

    /// The context transitions are sent with; `nil` until a certificate is loaded.
    var client: NIOSSLContext? { contexts.withLock { $0?.client } }

    /// Whether `certificate` (already verified against the CA) names ``peerName`` among its DNS names.
    static func presentsPeerName(_ certificate: NIOSSLCertificate) -> Bool {
        certificate._subjectAlternativeNames().contains { name in
            name.nameType == .dnsName && name.contents.elementsEqual(peerName.utf8)
        }
    }
}
