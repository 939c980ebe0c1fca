import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
public import PKI

/// An HTTPS upstream on loopback that requires a client certificate issued by a given CA and answers
/// with the serial number (upper-case hex) of the one it was shown.
public final class MutualTLSUpstream: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    /// - Parameters:
    ///   - serverAuthority: Issues the upstream's own certificate (for 127.0.0.1).
    ///   - clientCAPEM: The CA client certificates must chain to.
    public init(serverAuthority: CertificateAuthority, clientCAPEM: String) async throws {
        let server = try serverAuthority.issue(.loopbackServer(), now: Date())
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(server.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(server.privateKeyPEM.utf8), format: .pem))
        )
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCAPEM.utf8)))
        let context = try NIOSSLContext(configuration: configuration)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = NIOSSLServerHandler(context: context)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(SerialEcho(tls: tls))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    final class SerialEcho: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let tls: NIOSSLServerHandler

        init(tls: NIOSSLServerHandler) { self.tls = tls }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let serial = tls.peerCertificate.map { $0.serialNumber.map { String(format: "%02X", $0) }.joined() } ?? "none"
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: String(serial.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: serial)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    public func stop() async throws { try await channel.close() }
}

