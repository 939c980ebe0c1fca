import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A test upstream on loopback: answers every request with a JSON description of what it received
/// (method, URI, headers, body length, and the client address it came from), or misbehaves as the request path asks:
/// `/hang` never answers, `/close` closes without answering, `/close-once` does so only the first
/// time, `/stream/<n>` streams n bytes, `/require-auth/<v>` answers 401 unless Authorization is `Bearer <v>`,
/// `/fail-first/<n>/<status>[?retry-after=<s>]` answers `status` to the first n requests on that path,
/// `/hang-first/<n>` does not answer the first n, `/stall` sends a head and 10 bytes of 100, then nothing, and
/// `/truncate` sends the same and closes the connection, and `/control-header` answers with a header value
/// holding a control character (which only an HTTP/2 upstream gets out: NIO's HTTP/1.1 encoder refuses it).
final class TestUpstream: Sendable {
    let channel: any Channel
    var port: Int { channel.localAddress!.port! }

    /// A loopback port nothing listens on. A port freed by a stopped server is no good: tests running
    /// in parallel may bind it meanwhile. Port 1 (tcpmux) is never served on these machines.
    static let refusingPort = 1

    init() async throws {
        let connections = NIOLockedValueBox(0)
        let closedOnce = NIOLockedValueBox(false)
        let requests = NIOLockedValueBox<[String: Int]>([:])
        self.requestsBox = requests
        self.channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Room for the bursts the load tests make: a dropped SYN would be retried only after a second.
            .serverChannelOption(.backlog, value: 1024)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(closedOnce: closedOnce, requests: requests))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        self.connectionsBox = connections
    }

    private let connectionsBox: NIOLockedValueBox<Int>
    var connectionCount: Int { connectionsBox.withLockedValue { $0 } }
    private let requestsBox: NIOLockedValueBox<[String: Int]>

    /// How many requests arrived for `uri` (path and query).
    func requestCount(_ uri: String) -> Int { requestsBox.withLockedValue { $0[uri] ?? 0 } }

    func stop() async throws { try await channel.close() }

    final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var head: HTTPRequestHead?
        var bodyBytes = 0
        let closedOnce: NIOLockedValueBox<Bool>
        let requests: NIOLockedValueBox<[String: Int]>

        init(closedOnce: NIOLockedValueBox<Bool>, requests: NIOLockedValueBox<[String: Int]>) {
            self.closedOnce = closedOnce
            self.requests = requests
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                bodyBytes = 0
                requests.withLockedValue { $0[head.uri, default: 0] += 1 }
                if head.uri == "/close" { context.close(promise: nil) }
                let firstClose = head.uri == "/close-once" && closedOnce.withLockedValue { closed in
                    defer { closed = true }
                    return !closed
                }
                if firstClose {
                    context.close(promise: nil)
                    self.head = nil
                }
            case .body(let body):
                bodyBytes += body.readableBytes
            case .end:
                guard let head else { return }
                if head.uri == "/hang" || head.uri == "/close" { return }
                let count = requests.withLockedValue { $0[head.uri] ?? 0 }
                let segments = head.uri.split(separator: "?")[0].split(separator: "/")
                if segments.first == "hang-first", segments.count == 2, let n = Int(segments[1]), count <= n { return }
                if segments.first == "fail-first", segments.count == 3, let n = Int(segments[1]), let status = Int(segments[2]), count <= n {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "6")
                    if let retryAfter = head.uri.split(separator: "retry-after=").dropFirst().first { headers.add(name: "retry-after", value: String(retryAfter)) }
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "failed")))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    return
                }
                if head.uri == "/control-header" {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "2")
                    headers.add(name: "x-value", value: "a\u{1}b")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    return
                }
                if head.uri == "/truncate" {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "100")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    let channel = context.channel
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 10))))).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                    return
                }
                if head.uri == "/stall" {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "100")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 10)))), promise: nil)
                    return
                }
                if head.uri.hasPrefix("/stream/"), let count = Int(head.uri.dropFirst("/stream/".count)) {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: String(count))
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                    var remaining = count
                    while remaining > 0 {
                        let size = min(remaining, 64 * 1024)
                        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: size)))), promise: nil)
                        remaining -= size
                    }
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    return
                }
                if head.uri.hasPrefix("/require-auth/"), head.headers.first(name: "authorization") != "Bearer " + head.uri.dropFirst("/require-auth/".count) {
                    var headers = HTTPHeaders()
                    headers.add(name: "content-length", value: "0")
                    headers.add(name: "www-authenticate", value: "Bearer error=\"invalid_token\"")
                    context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .unauthorized, headers: headers))), promise: nil)
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                    return
                }
                var description: [String: Any] = ["method": head.method.rawValue, "uri": head.uri, "bodyBytes": bodyBytes]
                description["client"] = (context.channel.remoteAddress ?? context.channel.parent?.remoteAddress)?.ipAddress
                var headers: [[String]] = []
                for (name, value) in head.headers { headers.append([name, value]) }
                description["headers"] = headers
                let body = try! JSONSerialization.data(withJSONObject: description, options: [.sortedKeys])
                var responseHeaders = HTTPHeaders()
                responseHeaders.add(name: "content-type", value: "application/json")
                responseHeaders.add(name: "content-length", value: String(body.count))
                responseHeaders.add(name: "connection", value: "keep-alive, x-upstream-private")
                responseHeaders.add(name: "x-upstream-private", value: "hop")
                responseHeaders.add(name: "keep-alive", value: "timeout=5")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: responseHeaders))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}

/// Sends raw bytes to a server and collects everything it answers until it closes the connection.
enum RawHTTPClient {
    static func exchange(port: Int, _ request: String, extraBody: ByteBuffer? = nil) async throws -> String {
        let collected = NIOLockedValueBox(ByteBuffer())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(collected))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        channel.write(ByteBuffer(string: request), promise: nil)
        if let extraBody { channel.write(extraBody, promise: nil) }
        channel.flush()
        try await channel.closeFuture.get()
        var bytes = collected.withLockedValue { $0 }
        return bytes.readString(length: bytes.readableBytes) ?? ""
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let collected: NIOLockedValueBox<ByteBuffer>
        let onRead: (@Sendable (String) -> Void)?
        init(_ collected: NIOLockedValueBox<ByteBuffer>, onRead: (@Sendable (String) -> Void)? = nil) {
            self.collected = collected
            self.onRead = onRead
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            onRead?(String(buffer: buffer))
            _ = collected.withLockedValue { $0.writeBuffer(&buffer) }
        }
    }
}

extension String {
    /// The body of a raw HTTP/1.1 response (after the blank line).
    var httpBody: Substring {
        guard let range = range(of: "\r\n\r\n") else { return "" }
        return self[range.upperBound...]
    }

    /// The value of a header in a raw HTTP response, matched case-insensitively.
    func httpHeader(_ name: String) -> String? {
        for line in split(separator: "\r\n") {
            if line.isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 && parts[0].lowercased() == name.lowercased() { return parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

/// An HTTP/1.1 client on one keep-alive connection, one request at a time: for latency
/// measurements, where a process or a connection per request would measure the client.
final class KeepAliveClient: Sendable {
    let channel: any Channel

    init(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        channel = try await ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseHandler())
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
    }

    /// Sends `GET path` and returns the response status once the whole response arrived.
    func get(_ path: String) async throws -> Int {
        let promise = channel.eventLoop.makePromise(of: Int.self)
        var headers = HTTPHeaders()
        headers.add(name: "host", value: "gateway")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers)
        channel.eventLoop.execute { [channel] in
            guard let handler = try? channel.pipeline.syncOperations.handler(type: ResponseHandler.self) else {
                return promise.fail(ChannelError.ioOnClosedChannel)
            }
            handler.waiting = promise
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        return try await promise.futureResult.get()
    }

    func close() async {
        try? await channel.close()
    }

    final class ResponseHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        var waiting: EventLoopPromise<Int>?
        private var status = 0

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body: break
            case .end:
                waiting?.succeed(status)
                waiting = nil
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            waiting?.fail(ChannelError.ioOnClosedChannel)
            waiting = nil
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            waiting?.fail(error)
            waiting = nil
            context.close(promise: nil)
        }
    }
}
