import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
import NIOTLS
public import NIOSSL
public import PKI

/// An HTTPS server on loopback that answers every request with 200 and `ok`, speaking TLS up to a given version:
/// one that stops at TLS 1.1 is what a client that requires TLS 1.2 must refuse.
public final class HTTPSTestServer: Sendable {
    public let channel: any Channel
    public var port: Int { channel.localAddress!.port! }

    /// - Parameters:
    ///   - authority: Issues the server's certificate (for 127.0.0.1 and localhost).
    ///   - maximumVersion: The newest TLS version it speaks.
    public init(authority: CertificateAuthority, maximumVersion: TLSVersion) async throws {
        let server = try authority.issue(.loopbackServer(), now: Date())
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(server.certificatePEM.utf8)).map {
                .certificate($0)
            },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(server.privateKeyPEM.utf8), format: .pem))
        )
        configuration.minimumTLSVersion = .tlsv1
        configuration.maximumTLSVersion = maximumVersion
        let context = try NIOSSLContext(configuration: configuration)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OK())
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    final class OK: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            var headers = HTTPHeaders()
            headers.add(name: "content-length", value: "2")
            headers.add(name: "content-type", value: "text/plain")
            let head = HTTPResponseHead(version: .http1_1, status: .ok, headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    public func stop() async throws { try await channel.close() }
}

/// A TLS client handshake with a chosen range of versions, to see which versions a listener accepts.
public enum TLSHandshake {
    /// Connects to `host:port` and completes a TLS handshake speaking at most `maximumVersion` (and at least
    /// `minimumVersion`), without verifying the certificate: only the version is in question.
    ///
    /// - Returns: The version negotiated.
    /// - Throws: The handshake's error, e.g. when the server refuses every version offered.
    public static func attempt(
        host: String = "127.0.0.1",
        port: Int,
        minimumVersion: TLSVersion = .tlsv1,
        maximumVersion: TLSVersion
    ) async throws -> TLSVersion {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        configuration.certificateVerification = .none
        configuration.applicationProtocols = ["http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: TLSVersion.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: context, serverHostname: nil)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(HandshakeWatcher(promise: promise))
                }
            }
            .connect(host: host, port: port)
            .get()
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    /// Fulfils its promise with the negotiated version when the handshake completes, or fails it with the first
    /// error, or when the connection closes first.
    final class HandshakeWatcher: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let promise: EventLoopPromise<TLSVersion>
        var done = false

        init(promise: EventLoopPromise<TLSVersion>) { self.promise = promise }

        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if case TLSUserEvent.handshakeCompleted = event, !done {
                done = true
                if let version = try? context.pipeline.syncOperations.nioSSL_tlsVersion() {
                    promise.succeed(version)
                } else {
                    promise.fail(ChannelError.ioOnClosedChannel)
                }
            }
            context.fireUserInboundEventTriggered(event)
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            if !done {
                done = true
                promise.fail(error)
            }
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            if !done {
                done = true
                promise.fail(ChannelError.ioOnClosedChannel)
            }
        }
    }
}

@available(*, unavailable)
extension TLSHandshake.HandshakeWatcher: Sendable {}
