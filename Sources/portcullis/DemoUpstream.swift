import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The upstream `portcullis dev --demo` starts: it answers every request with what it received
/// (method, path, headers), so a newcomer's first curl through the gateway shows what the gateway
/// added and removed on the way.
enum DemoUpstream {
    /// Listens on `port` (0 picks a free one) until the returned channel is closed.
    static func start(host: String = "127.0.0.1", port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        var head: HTTPRequestHead?
        var bodyBytes = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                bodyBytes = 0
            case .body(let body):
                bodyBytes += body.readableBytes
            case .end:
                guard let head else { return }
                var headers: [String: String] = [:]
                for (name, value) in head.headers {
                    let key = name.lowercased()
                    headers[key] = headers[key].map { $0 + ", " + value } ?? value
                }
                let answer: [String: Any] = [
                    "upstream": "portcullis demo upstream", "method": head.method.rawValue, "path": head.uri,
                    "bodyBytes": bodyBytes, "headers": headers,
                ]
                let body = (try? JSONSerialization.data(withJSONObject: answer, options: [.prettyPrinted, .sortedKeys])) ?? Data()
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "content-type", value: "application/json")
                responseHeaders.add(name: "content-length", value: String(body.count + 1))
                let keepAlive = head.isKeepAlive
                if !keepAlive { responseHeaders.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: responseHeaders))), promise: nil)
                var buffer = ByteBuffer(bytes: body)
                buffer.writeString("\n")
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
                self.head = nil
            }
        }
    }
}
