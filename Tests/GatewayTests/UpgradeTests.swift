import Foundation
import Gateway
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Resilience
import Testing

/// An upstream that accepts a WebSocket upgrade: it answers the handshake with 101 and a greeting in
/// the same packet, then echoes every byte.
final class UpgradingUpstream: Sendable {
    let channel: any Channel
    let handshakes: NIOLockedValueBox<[String]>
    var port: Int { channel.localAddress!.port! }

    init() async throws {
        let handshakes = NIOLockedValueBox<[String]>([])
        self.handshakes = handshakes
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Echo(handshakes: handshakes)) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    final class Echo: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let handshakes: NIOLockedValueBox<[String]>
        var request = ""
        var upgraded = false

        init(handshakes: NIOLockedValueBox<[String]>) { self.handshakes = handshakes }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard !upgraded else {
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                return
            }
            request += buffer.readString(length: buffer.readableBytes) ?? ""
            guard request.contains("\r\n\r\n") else { return }
            upgraded = true
            handshakes.withLockedValue { $0.append(request) }
            let response = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\nhello"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        }
    }
}

/// A raw client that keeps its connection open and collects what arrives.
final class InteractiveClient: Sendable {
    let channel: any Channel
    let received = NIOLockedValueBox("")

    init(port: Int) async throws {
        let received = self.received
        channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RawHTTPClient.Collector(NIOLockedValueBox(ByteBuffer()), onRead: { text in received.withLockedValue { $0 += text } })) }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    }

    func send(_ text: String) { channel.writeAndFlush(ByteBuffer(string: text), promise: nil) }

    func waitFor(_ text: String) async throws -> Bool {
        for _ in 0..<250 {
            if received.withLockedValue({ $0.contains(text) }) { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}

@Suite struct UpgradeTests {
    @Test func aWebSocketUpgradeIsRelayedBothWays() async throws {
        let upstream = try await UpgradingUpstream()
        let route = RouteConfig(
            key: RouteKey(namespace: "default", name: "ws"),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstream.port)
        )
        let gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: GatewayState(GatewayConfig(routes: [route]))).start()
        let client = try await InteractiveClient(port: gateway.localAddress!.port!)
        client.send("GET /chat HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        #expect(try await client.waitFor("hello"), "\(client.received.withLockedValue { $0 })")
        let response = client.received.withLockedValue { $0 }
        #expect(response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"))
        #expect(response.httpHeader("upgrade") == "websocket")
        #expect(response.httpHeader("connection")?.lowercased() == "upgrade")
        let handshake = try #require(upstream.handshakes.withLockedValue { $0.first })
        #expect(handshake.httpHeader("upgrade") == "websocket")
        #expect(handshake.httpHeader("sec-websocket-key") == "dGhlIHNhbXBsZSBub25jZQ==")

        client.send("ping-1")
        #expect(try await client.waitFor("ping-1"))
        client.send("ping-2")
        #expect(try await client.waitFor("ping-2"))
        try await client.channel.close()
        try await gateway.close()
        try await upstream.channel.close()
    }
}
