import Foundation
import Gateway
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import PKI
import Testing

/// An HTTPS upstream that requires a client certificate from the test CA and answers with the
/// serial number of the one it was shown.
final class MutualTLSUpstream: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(authority: CertificateAuthority) async throws {
        let server = try authority.issue(.loopbackServer(), now: Date())
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(server.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(server.privateKeyPEM.utf8), format: .pem))
        )
        configuration.certificateVerification = .noHostnameVerification
        configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(try authority.trustAnchorPEM.utf8)))
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
}

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
        let upstream = try await MutualTLSUpstream(authority: authority)
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
        let upstream = try await MutualTLSUpstream(authority: authority)
        let state = GatewayState(GatewayConfig(generation: 1, routes: [try Self.route(port: upstream.port, authority: authority, client: nil)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway"), "\(response)")
        try await gateway.close()
        try await upstream.channel.close()
    }
}
