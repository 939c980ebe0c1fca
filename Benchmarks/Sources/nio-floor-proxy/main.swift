// The floor for a SwiftNIO reverse proxy: the least a proxy built on NIO's HTTP/1.1 codec does per
// request, to measure the Portcullis gateway against what its stack costs by itself.
//   nio-floor-proxy --port 18092 --upstream-port 18080
// Each client connection gets one keep-alive connection to the upstream, opened when the client
// connects; request and response parts are handed across as they come. No routing, header rewriting,
// request ids, timeouts, pooling, backpressure or error answers: none of what a gateway needs, so
// only a benchmark may use it.

import NIOCore
import NIOHTTP1
import NIOPosix

var port = 18092
var upstreamPort = 18080
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? port
    case "--upstream-port": upstreamPort = Int(arguments.next() ?? "") ?? upstreamPort
    default: break
    }
}

/// The client side: forwards request parts to the upstream connection, holding them until it is open.
final class ClientSide: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstreamPort: Int
    private var upstream: (any Channel)?
    private var held: [HTTPClientRequestPart] = []

    init(upstreamPort: Int) { self.upstreamPort = upstreamPort }

    func channelActive(context: ChannelHandlerContext) {
        let client = NIOLoopBound(context.channel, eventLoop: context.eventLoop)
        ClientBootstrap(group: context.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(UpstreamSide(client: client.value))
                }
            }
            .connect(host: "127.0.0.1", port: upstreamPort)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    self.upstream = channel
                    for part in self.held { channel.write(part, promise: nil) }
                    if !self.held.isEmpty { channel.flush() }
                    self.held = []
                case .failure:
                    context.close(promise: nil)
                }
            }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part: HTTPClientRequestPart
        switch unwrapInboundIn(data) {
        case .head(let head): part = .head(head)
        case .body(let body): part = .body(.byteBuffer(body))
        case .end(let trailers): part = .end(trailers)
        }
        guard let upstream else { return held.append(part) }
        if case .end = part { upstream.writeAndFlush(part, promise: nil) } else { upstream.write(part, promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        upstream?.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// The upstream side: forwards response parts to the client.
final class UpstreamSide: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let client: any Channel

    init(client: any Channel) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): client.write(HTTPServerResponsePart.head(head), promise: nil)
        case .body(let body): client.write(HTTPServerResponsePart.body(.byteBuffer(body)), promise: nil)
        case .end(let trailers): client.writeAndFlush(HTTPServerResponsePart.end(trailers), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.close(promise: nil)
        context.fireChannelInactive()
    }
}

/// Serves on `port` until the process ends.
func proxy(port: Int, upstreamPort: Int) async throws {
    let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                    withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false
                )
                try channel.pipeline.syncOperations.addHandler(ClientSide(upstreamPort: upstreamPort))
            }
        }
        .bind(host: "127.0.0.1", port: port)
        .get()
    print("nio-floor-proxy listening on 127.0.0.1:\(port)")
    try await server.closeFuture.get()
}

try await proxy(port: port, upstreamPort: upstreamPort)
