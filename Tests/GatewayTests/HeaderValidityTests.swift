import Foundation
import Gateway
import NIOCore
import NIOPosix
import PortcullisTestSupport
import Testing

/// The gateway writes headers without NIO's outbound validation (see `GatewayServer.serveHTTP1`): what it
/// forwards must have been refused on the way in when it could end a header line. These pin that down on
/// real sockets, for requests and responses.
@Suite struct HeaderValidityTests {
    @Test(arguments: ["a\u{1}b", "a\u{0}b", "a\nX-Injected: yes", "a\rX-Injected: yes", "a\u{7F}b"])
    func aRequestHeaderValueWithAControlCharacterIs400AndNeverForwarded(value: String) async throws {
        let setup = try await ProxyTests.Setup { [ProxyTests.route("api", port: $0)] }
        let response = try await RawHTTPClient.exchange(port: setup.port, "GET /control HTTP/1.1\r\nHost: a\r\nX-Value: \(value)\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(response)")
        #expect(setup.upstream.requestCount("/control") == 0)
        try await setup.stop()
    }

    @Test(arguments: ["a\u{1}b", "a\u{0}b", "a\nX-Injected: yes", "a\u{7F}b"])
    func anUpstreamResponseHeaderValueWithAControlCharacterIs502AndNeverForwarded(value: String) async throws {
        let upstream = try await RawResponseUpstream("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Value: \(value)\r\n\r\nok")
        let state = GatewayState(GatewayConfig(routes: [ProxyTests.route("api", port: upstream.port)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
        #expect(!response.contains("X-Injected") && !response.contains("X-Value"))
        try await gateway.close()
        try await upstream.stop()
    }

    /// NIO's HTTP/2 codec lets control characters other than CR, LF and NUL through; the gateway refuses them
    /// itself, from clients and from upstreams.
    @Test func anHTTP2RequestHeaderValueWithAControlCharacterIs400AndNeverForwarded() async throws {
        let setup = try await ProxyTests.Setup { [ProxyTests.route("api", port: $0)] }
        let curl = try await ExternalTool("curl").run([
            "-s", "--http2-prior-knowledge", "-H", "X-Value: a\u{1}b", "-H", "X-Request-ID: id\u{1}", "-w", "\\n%{http_version} %{http_code}",
            "http://127.0.0.1:\(setup.port)/control",
        ])
        #expect(curl.stdout.hasSuffix("\n2 400"), "\(curl.stdout) \(curl.stderr)")
        #expect(curl.stdout.contains("https://portcullis.io/problems/bad-request") && curl.stdout.contains("header x-value has a control character"), "\(curl.stdout)")
        #expect(setup.upstream.requestCount("/control") == 0)
        try await setup.stop()
    }

    @Test func anHTTP2UpstreamResponseHeaderValueWithAControlCharacterIs502() async throws {
        let upstream = try await HTTP2TestUpstream(.h2c)
        let state = GatewayState(GatewayConfig(routes: [HTTP2UpstreamTests.route(port: upstream.port, tls: nil)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let response = try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET /control-header HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(response.hasPrefix("HTTP/1.1 502 Bad Gateway\r\n"), "\(response)")
        #expect(response.contains("https://portcullis.io/problems/upstream-protocol-error") && response.contains("x-value"), "\(response)")
        try await gateway.close()
        try await upstream.stop()
    }
}

/// An upstream that answers every connection with the same bytes and closes it.
final class RawResponseUpstream: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    init(_ response: String) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Answer(response))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func stop() async throws { try await channel.close() }

    private final class Answer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let response: String
        var answered = false

        init(_ response: String) { self.response = response }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            answered = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in channel.close(promise: nil) }
        }
    }
}
