import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Posts one JSON body to a peer replica's admin port over mutual TLS, on a connection of its own.
///
/// Breaker transitions are rare (a breaker opens or recovers), so a connection per message costs less than
/// keeping one open to every peer; the handshake is a few milliseconds on a cluster network.
struct PeerClient: Sendable {
    /// Why a post failed, for the log.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let group: any EventLoopGroup
    /// The longest a connection may take to open.
    let connectTimeout: Duration
    /// The longest the whole exchange may take once connected (handshake, request, response).
    let exchangeTimeout: Duration

    /// Posts `body` to `path` and returns the response's status and body (at most 4 KiB of it).
    ///
    /// - Throws: ``Failure`` or the channel's error when the peer cannot be reached, fails the handshake,
    ///   or does not answer in time.
    func post(_ body: ByteBuffer, path: String, to peer: BreakerPeer, tls: NIOSSLContext) async throws -> (status: HTTPResponseStatus, body: String) {
        let loop = group.next()
        let response = loop.makePromise(of: (HTTPResponseStatus, String).self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: PeerTLS.peerName))
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(ResponseCollector(response))
                    }
                }
                .connect(host: peer.host, port: peer.port)
                .get()
        } catch {
            response.fail(error)
            throw error
        }
        let timeout = channel.eventLoop.scheduleTask(in: TimeAmount(exchangeTimeout)) {
            response.fail(Failure(description: "no answer within \(exchangeTimeout)"))
            channel.close(promise: nil)
        }
        var headers = HTTPHeaders()
        headers.add(name: "host", value: PeerTLS.peerName)
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "connection", value: "close")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: path, headers: headers)), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer {
            timeout.cancel()
            channel.close(promise: nil)
        }
        let (status, text) = try await response.futureResult.get()
        return (status, text)
    }
}

/// Completes a promise with the first response on the connection; fails it if the connection ends first.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<(HTTPResponseStatus, String)>
    private var status: HTTPResponseStatus?
    private var body = ByteBuffer()

    init(_ promise: EventLoopPromise<(HTTPResponseStatus, String)>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = head.status
        case .body(var part):
            let room = max(0, 4096 - body.readableBytes)
            if let slice = part.readSlice(length: min(room, part.readableBytes)) { body.writeImmutableBuffer(slice) }
        case .end:
            guard let status else { return }
            promise.succeed((status, String(buffer: body)))
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(PeerClient.Failure(description: "the peer closed the connection without answering"))
        context.fireChannelInactive()
    }
}

@available(*, unavailable)
extension ResponseCollector: Sendable {}
