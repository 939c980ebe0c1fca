import Foundation
import Gateway
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PKI
import PortcullisTestSupport
import Testing

/// What the gateway does with requests too large for it, and with bodies too large to hold: 413 and 431
/// as problem+json, and backpressure instead of buffering.
@Suite struct RequestLimitTests {
    static func limitedRoute(port: Int, maxBody: Int64?) -> RouteConfig {
        var route = ProxyTests.route("limited", port: port)
        route.maxRequestBodyBytes = maxBody
        return route
    }

    static func problem(_ response: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(response.httpBody.utf8)) as? [String: Any])
    }

    @Test func aDeclaredBodyOverTheLimitIs413WithoutTouchingTheUpstream() async throws {
        let setup = try await ProxyTests.Setup { [Self.limitedRoute(port: $0, maxBody: 1000)] }
        let response = try await RawHTTPClient.exchange(
            port: setup.port,
            "POST /upload HTTP/1.1\r\nHost: a\r\nX-Request-ID: big-1\r\nContent-Length: 1001\r\n\r\n",
            extraBody: ByteBuffer(repeating: 0x62, count: 1001)
        )
        #expect(response.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(response)")
        #expect(response.httpHeader("content-type") == "application/problem+json")
        #expect(response.httpHeader("connection") == "close")
        let problem = try Self.problem(response)
        #expect(problem["type"] as? String == "https://portcullis.io/problems/content-too-large")
        #expect(problem["status"] as? Int == 413)
        #expect(problem["instance"] as? String == "big-1")
        #expect((problem["detail"] as? String)?.contains("1000 bytes") == true)
        #expect(setup.upstream.requestCount("/upload") == 0)

        // At the limit, the request goes through.
        let fits = try await RawHTTPClient.exchange(
            port: setup.port,
            "POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n",
            extraBody: ByteBuffer(repeating: 0x62, count: 1000)
        )
        #expect(try ProxyTests.echo(fits)["bodyBytes"] as? Int == 1000)
        try await setup.stop()
    }

    @Test func aChunkedBodyThatOutgrowsTheLimitIs413AndTheGatewayServesOn() async throws {
        let setup = try await ProxyTests.Setup { [Self.limitedRoute(port: $0, maxBody: 64 * 1024)] }
        // Twice, so that one of them finds a pooled upstream connection and streams before the body outgrows the limit.
        for _ in 0..<2 {
            let warm = try await RawHTTPClient.exchange(port: setup.port, "GET /warm HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            #expect(warm.hasPrefix("HTTP/1.1 200 OK\r\n"))
            var body = ByteBuffer(string: "10000\r\n")  // one chunk of 64 KiB, then another: more than the limit
            body.writeRepeatingByte(0x62, count: 0x10000)
            body.writeString("\r\n10\r\n0123456789abcdef\r\n")
            let response = try await RawHTTPClient.exchange(
                port: setup.port,
                "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
                extraBody: body
            )
            #expect(response.hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"), "\(response)")
            #expect(try Self.problem(response)["type"] as? String == "https://portcullis.io/problems/content-too-large")
        }
        let after = try await RawHTTPClient.exchange(port: setup.port, "GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        #expect(after.hasPrefix("HTTP/1.1 200 OK\r\n"))
        try await setup.stop()
    }

    /// Over HTTP/2 (TLS and ALPN: curl 7.88 does not reuse a prior-knowledge h2c connection), the 413 ends
    /// the stream, not the connection: the next request on it is served.
    @Test func anHTTP2StreamOverTheLimitIs413AndTheConnectionServesOn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-limit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let authority = try CertificateAuthority.generate(now: Date())
        let caFile = directory.appendingPathComponent("ca.pem").path
        try (try authority.trustAnchorPEM).write(toFile: caFile, atomically: true, encoding: .utf8)
        let certificate = try authority.issue(.loopbackServer(), now: Date())
        let bodyFile = directory.appendingPathComponent("body").path
        try Data(repeating: 0x62, count: 4000).write(to: URL(fileURLWithPath: bodyFile))

        let upstream = try await TestUpstream()
        let tls = try GatewayTLS(certificateChainPEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM)
        let state = GatewayState(GatewayConfig(routes: [Self.limitedRoute(port: upstream.port, maxBody: 1000)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, tls: tls).start()
        let url = "https://localhost:\(gateway.localAddress!.port!)"
        let curl = try await ExternalTool("curl").run([
            "-sS", "-v", "--http2", "--cacert", caFile, "-w", "\\n%{http_version} %{http_code}\\n", "--data-binary", "@\(bodyFile)", "\(url)/big",
            "--next", "-sS", "-v", "--http2", "--cacert", caFile, "-w", "\\n%{http_version} %{http_code}\\n", "--data-binary", "small", "\(url)/small",
        ])
        #expect(curl.stdout.contains("content-too-large"), "\(curl.stdout) \(curl.stderr)")
        #expect(curl.stdout.contains("\n2 413\n"), "\(curl.stdout)")
        #expect(curl.stdout.hasSuffix("\n2 200\n"), "\(curl.stdout) \(curl.stderr)")
        #expect(curl.stderr.contains("Re-using existing connection"), "\(curl.stderr)")
        #expect(upstream.requestCount("/big") == 0)
        #expect(upstream.requestCount("/small") == 1)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func headerFieldsOverTheDecoderLimitAre431() async throws {
        let setup = try await ProxyTests.Setup { [ProxyTests.route("api", port: $0)] }
        let response = try await RawHTTPClient.exchange(
            port: setup.port,
            "GET / HTTP/1.1\r\nHost: a\r\nX-Large: \(String(repeating: "a", count: 100 * 1024))\r\n\r\n"
        )
        #expect(response.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "\(response.prefix(200))")
        let problem = try Self.problem(response)
        #expect(problem["type"] as? String == "https://portcullis.io/problems/request-header-fields-too-large")
        #expect((problem["detail"] as? String)?.contains("80 KiB") == true)
        #expect(setup.upstream.requestCount("/") == 0)
        try await setup.stop()
    }

    /// An upload to an upstream that does not read: what the client gets to send is bounded by socket
    /// buffers and the gateway's small watermarks, not by the body's size; once the upstream reads, the
    /// whole body arrives.
    @Test(.timeLimit(.minutes(2))) func anUploadTheUpstreamDoesNotReadStallsTheClientInsteadOfBuffering() async throws {
        let upstream = try await StalledUpstream()
        let state = GatewayState(GatewayConfig(generation: 1, routes: [ProxyTests.route("upload", port: upstream.port)]))
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start()
        let size = 512 << 20
        let written = NIOLockedValueBox(0)
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let head = "PUT /upload HTTP/1.1\r\nHost: a\r\nContent-Length: \(size)\r\n\r\n"
                    try channel.pipeline.syncOperations.addHandler(BulkWriter(head: head, bodySize: size, written: written))
                }
            }
            .connect(host: "127.0.0.1", port: gateway.localAddress!.port!)
            .get()
        // Until the client stalls: nothing more written for half a second.
        var last = -1
        while written.withLockedValue({ $0 }) != last {
            last = written.withLockedValue { $0 }
            try await Task.sleep(for: .milliseconds(500))
        }
        #expect(last < 128 << 20, "the client got \(last >> 20) MiB of \(size >> 20) MiB into the gateway with the upstream not reading")
        #expect(upstream.receivedBytes == 0)
        upstream.startReading()
        while upstream.receivedBytes < size { try await Task.sleep(for: .milliseconds(50)) }
        #expect(written.withLockedValue { $0 } == size)
        try await client.close()
        try await gateway.close()
        try await upstream.stop()
    }
}

/// Writes a request head and a body of `bodySize` bytes as fast as the connection takes them, counting
/// what the kernel accepted.
private final class BulkWriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private static let chunk = ByteBuffer(repeating: 0x62, count: 1 << 20)
    private let head: String
    private let bodySize: Int
    private let written: NIOLockedValueBox<Int>
    private var offered = 0

    init(head: String, bodySize: Int, written: NIOLockedValueBox<Int>) {
        self.head = head
        self.bodySize = bodySize
        self.written = written
    }

    func channelActive(context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
        writeWhileWritable(context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writeWhileWritable(context)
    }

    private func writeWhileWritable(_ context: ChannelHandlerContext) {
        let written = self.written
        while context.channel.isWritable && offered < bodySize {
            let size = min(Self.chunk.readableBytes, bodySize - offered)
            offered += size
            context.write(wrapOutboundOut(Self.chunk.getSlice(at: 0, length: size)!)).whenSuccess { written.withLockedValue { $0 += size } }
        }
        context.flush()
    }
}

/// An upstream that accepts connections and reads nothing until ``startReading()``; then it counts the
/// bytes that arrive after the request head, and never answers.
final class StalledUpstream: Sendable {
    let channel: any Channel
    private let connections = NIOLockedValueBox<[any Channel]>([])
    private let received = NIOLockedValueBox(0)
    private let reading = NIOLockedValueBox(false)
    var port: Int { channel.localAddress!.port! }
    /// Bytes of request bodies received (everything after the first blank line of each connection).
    var receivedBytes: Int { received.withLockedValue { $0 } }

    init() async throws {
        let connections = self.connections
        let received = self.received
        let reading = self.reading
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0.append(channel) }
                if reading.withLockedValue({ $0 }) { channel.setOption(.autoRead, value: true).whenFailure { _ in } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteCounter(received))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func startReading() {
        reading.withLockedValue { $0 = true }
        for connection in connections.withLockedValue({ $0 }) { connection.setOption(.autoRead, value: true).whenFailure { _ in } }
    }

    func stop() async throws {
        for connection in connections.withLockedValue({ $0 }) { try? await connection.close() }
        try await channel.close()
    }

    private final class ByteCounter: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let received: NIOLockedValueBox<Int>
        /// The last bytes before the body starts, to find the end of the head across reads.
        var headTail: [UInt8] = []
        var inBody = false

        init(_ received: NIOLockedValueBox<Int>) { self.received = received }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            guard !inBody else {
                received.withLockedValue { $0 += buffer.readableBytes }
                return
            }
            let bytes = headTail + Array(buffer.readableBytesView)
            guard let end = bytes.firstRange(of: Array("\r\n\r\n".utf8)) else {
                headTail = Array(bytes.suffix(3))
                return
            }
            inBody = true
            received.withLockedValue { $0 += bytes.count - end.upperBound }
        }
    }
}
