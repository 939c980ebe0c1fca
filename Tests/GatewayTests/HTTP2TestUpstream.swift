import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import PKI

/// A test upstream on loopback for HTTP/2 routes: HTTP/2 without TLS (h2c, prior knowledge), HTTP/2 over
/// TLS (ALPN offers only `h2`), or HTTP/1.1 over TLS (ALPN offers only `http/1.1`, for an upstream that
/// cannot do what the route asks). Each request is answered as ``TestUpstream`` answers it, except that
/// requests for `/barrier/<n>` are held until n of them are in flight, on any of its connections, and
/// `/kill-connection` closes the whole connection it came on, its other streams with it, the first
/// request for `/refuse-once` has its stream reset with `REFUSED_STREAM`, and `/hold` is never answered.
/// ``silence()`` makes it stop reading its connections, as a peer that vanished would (its PINGs go
/// unanswered); it counts the PINGs it receives.
final class HTTP2TestUpstream: Sendable {
    enum Speaks {
        case h2c
        case h2OverTLS
        case http1OverTLS
    }

    /// The first connection stops taking streams with GOAWAY when its stream number `after` arrives,
    /// naming its stream number `lastProcessed` as the last it processes; it never answers the streams
    /// after that one. Later connections behave.
    struct GoAway {
        var after: Int
        var lastProcessed: Int
    }

    let channel: any Channel
    /// Trusts the upstream's certificate (for 127.0.0.1), when it speaks TLS.
    let trustedCAPEM: String
    var port: Int { channel.localAddress!.port! }
    private let connections: NIOLockedValueBox<Int>
    /// Connections accepted so far.
    var connectionCount: Int { connections.withLockedValue { $0 } }
    private let open: NIOLockedValueBox<[ObjectIdentifier: any Channel]>
    /// Connections accepted and not closed yet.
    var openConnectionCount: Int { open.withLockedValue { $0.count } }
    private let pings: NIOLockedValueBox<Int>
    /// PINGs received (not their ACKs), on any connection.
    var pingCount: Int { pings.withLockedValue { $0 } }
    private let held: NIOLockedValueBox<Int>
    /// `/hold` requests received.
    var heldCount: Int { held.withLockedValue { $0 } }

    /// - Parameters:
    ///   - maximumStreams: The `SETTINGS_MAX_CONCURRENT_STREAMS` it sends; NIO's default (100) when `nil`.
    init(_ speaks: Speaks, goAway: GoAway? = nil, maximumStreams: Int? = nil) async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let server = try authority.issue(.loopbackServer(), now: Date())
        trustedCAPEM = try authority.trustAnchorPEM
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(server.certificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(server.privateKeyPEM.utf8), format: .pem))
        )
        configuration.applicationProtocols = speaks == .http1OverTLS ? ["http/1.1"] : ["h2"]
        let tls = speaks == .h2c ? nil : try NIOSSLContext(configuration: configuration)
        let connections = NIOLockedValueBox(0)
        self.connections = connections
        let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])
        self.open = open
        let pings = NIOLockedValueBox(0)
        self.pings = pings
        let held = NIOLockedValueBox(0)
        self.held = held
        let barrier = Barrier()
        let refused = NIOLockedValueBox(false)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelInitializer { channel in
                let number = connections.withLockedValue { count in
                    count += 1
                    return count
                }
                open.withLockedValue { $0[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in _ = open.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls { try sync.addHandler(NIOSSLServerHandler(context: tls)) }
                    if speaks == .http1OverTLS {
                        try sync.configureHTTPServerPipeline()
                        try sync.addHandler(TestUpstream.EchoHandler(closedOnce: NIOLockedValueBox(false), requests: NIOLockedValueBox([:])))
                        return
                    }
                    let streams = NIOLockedValueBox(0)
                    let goAway = number == 1 ? goAway : nil
                    var http2 = NIOHTTP2Handler.ConnectionConfiguration()
                    if let maximumStreams {
                        http2.initialSettings = [
                            HTTP2Setting(parameter: .maxConcurrentStreams, value: maximumStreams),
                            HTTP2Setting(parameter: .maxHeaderListSize, value: 16384),
                        ]
                    }
                    _ = try sync.configureHTTP2Pipeline(mode: .server, connectionConfiguration: http2, streamConfiguration: .init()) { stream in
                        let index = streams.withLockedValue { count in
                            count += 1
                            return count
                        }
                        return stream.eventLoop.makeCompletedFuture {
                            let sync = stream.pipeline.syncOperations
                            try sync.addHandler(RefuseOnce(refused: refused))
                            try sync.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                            if let goAway, index == goAway.after {
                                let last = HTTP2StreamID(2 * goAway.lastProcessed - 1)
                                let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: last, errorCode: .noError, opaqueData: nil))
                                stream.parent?.writeAndFlush(frame, promise: nil)
                            }
                            if let goAway, index > goAway.lastProcessed {
                                try sync.addHandler(Unanswered())
                                return
                            }
                            try sync.addHandler(ConnectionKiller())
                            try sync.addHandler(Hold(held: held))
                            try sync.addHandler(BarrierHandler(barrier: barrier))
                            try sync.addHandler(TestUpstream.EchoHandler(closedOnce: NIOLockedValueBox(false), requests: NIOLockedValueBox([:])))
                        }
                    }
                    try sync.addHandler(PingCounter(pings: pings))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
    }

    func stop() async throws {
        try await channel.close()
        for connection in open.withLockedValue({ Array($0.values) }) { try? await connection.close() }
    }

    /// Stops reading every connection open now: nothing more is answered on them, PINGs included.
    /// Connections accepted later behave.
    func silence() async throws {
        for connection in open.withLockedValue({ Array($0.values) }) { try await connection.setOption(.autoRead, value: false).get() }
    }

    /// Requests for `/barrier/<n>` wait here until n have arrived.
    final class Barrier: Sendable {
        private let waiting = NIOLockedValueBox<[EventLoopPromise<Void>]>([])

        func arrive(_ promise: EventLoopPromise<Void>, expecting count: Int) {
            let released = waiting.withLockedValue { waiting -> [EventLoopPromise<Void>] in
                waiting.append(promise)
                guard waiting.count >= count else { return [] }
                defer { waiting = [] }
                return waiting
            }
            for promise in released { promise.succeed() }
        }
    }

    /// Holds a `/barrier/<n>` request's parts until the barrier lets them through.
    final class BarrierHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias InboundOut = HTTPServerRequestPart
        let barrier: Barrier
        private var held: [HTTPServerRequestPart]?

        init(barrier: Barrier) { self.barrier = barrier }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let part = unwrapInboundIn(data)
            if case .head(let head) = part, head.uri.hasPrefix("/barrier/"), let count = Int(head.uri.dropFirst("/barrier/".count)) {
                held = [part]
                let promise = context.eventLoop.makePromise(of: Void.self)
                promise.futureResult.assumeIsolated().whenSuccess {
                    for part in self.held ?? [] { context.fireChannelRead(self.wrapInboundOut(part)) }
                    self.held = nil
                }
                barrier.arrive(promise, expecting: count)
                return
            }
            if held != nil {
                held?.append(part)
            } else {
                context.fireChannelRead(data)
            }
        }
    }

    /// Closes the connection (not just the stream) of a request for `/kill-connection`.
    final class ConnectionKiller: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data), head.uri == "/kill-connection" {
                context.channel.parent?.close(promise: nil)
                return
            }
            context.fireChannelRead(data)
        }
    }

    /// Resets the first `/refuse-once` stream with `REFUSED_STREAM`, before it is processed.
    final class RefuseOnce: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame.FramePayload
        typealias OutboundOut = HTTP2Frame.FramePayload
        let refused: NIOLockedValueBox<Bool>
        private var refusing = false

        init(refused: NIOLockedValueBox<Bool>) { self.refused = refused }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .headers(let headers) = unwrapInboundIn(data), headers.headers.first(name: ":path") == "/refuse-once" {
                refusing = refused.withLockedValue { refused in
                    defer { refused = true }
                    return !refused
                }
                if refusing { context.writeAndFlush(wrapOutboundOut(.rstStream(.refusedStream)), promise: nil) }
            }
            if !refusing { context.fireChannelRead(data) }
        }
    }

    /// Counts the PINGs a connection receives (NIO answers them).
    final class PingCounter: ChannelInboundHandler {
        typealias InboundIn = HTTP2Frame
        let pings: NIOLockedValueBox<Int>

        init(pings: NIOLockedValueBox<Int>) { self.pings = pings }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .ping(_, ack: false) = unwrapInboundIn(data).payload { pings.withLockedValue { $0 += 1 } }
            context.fireChannelRead(data)
        }
    }

    /// Takes a request for `/hold` and never answers it.
    final class Hold: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        let held: NIOLockedValueBox<Int>
        private var holding = false

        init(held: NIOLockedValueBox<Int>) { self.held = held }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .head(let head) = unwrapInboundIn(data), head.uri == "/hold" {
                holding = true
                held.withLockedValue { $0 += 1 }
            }
            if !holding { context.fireChannelRead(data) }
        }
    }

    /// A stream the upstream does not process: nothing is ever answered on it.
    final class Unanswered: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }
}
