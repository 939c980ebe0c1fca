public import Foundation
public import NIOCore
import NIOHTTP1
public import NIOPosix
import Synchronization

/// One request a fake received, body read in full.
public struct FakeHTTPRequest: Sendable {
    public var method: String
    /// The request target as sent (path and query).
    public var uri: String
    /// The path without the query, not percent-decoded.
    public var path: String
    /// Header names and values in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// When the fake received it, by the fake's clock.
    public var receivedAt: Date

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body as UTF-8 text.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The form-encoded body's parameters in order (`+` as space, `%XX` decoded).
    public var formPairs: [(String, String)] {
        bodyText.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.formDecode(parts[0]), parts.count > 1 ? Self.formDecode(parts[1]) : "")
        }
    }

    /// The form parameters by name (the last of a repeated name).
    public var form: [String: String] {
        var result: [String: String] = [:]
        for (name, value) in formPairs { result[name] = value }
        return result
    }

    /// The body as a JSON object, if it is one.
    public var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    static func formDecode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

/// A response a fake sends.
public struct FakeHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response (`application/json; charset=utf-8`).
    public static func json(_ status: Int, _ text: String, headers: [(name: String, value: String)] = []) -> FakeHTTPResponse {
        FakeHTTPResponse(
            status: status,
            headers: [("Content-Type", "application/json; charset=utf-8")] + headers,
            body: Array(text.utf8)
        )
    }

    /// A JSON response from a JSON-serializable object, keys sorted.
    public static func json(_ status: Int, object: Any, headers: [(name: String, value: String)] = []) -> FakeHTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return json(status, String(decoding: data, as: UTF8.self), headers: headers)
    }

    /// A plain-text response.
    public static func text(_ status: Int, _ text: String) -> FakeHTTPResponse {
        FakeHTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }
}

/// An HTTP/1.1 server on a loopback port, on NIO, handing each request to an async handler. For fakes in tests.
public final class FakeHTTPServer: Sendable {
    public typealias Handler = @Sendable (FakeHTTPRequest) async -> FakeHTTPResponse

    /// The bound port.
    public let port: Int
    /// `http://127.0.0.1:<port>`.
    public let baseURL: String
    private let channel: any Channel
    private let connections: ConnectionSet

    private init(channel: any Channel, port: Int, connections: ConnectionSet) {
        self.channel = channel
        self.port = port
        self.baseURL = "http://127.0.0.1:\(port)"
        self.connections = connections
    }

    /// Binds `127.0.0.1` on a free port and serves `handler`.
    ///
    /// - Parameters:
    ///   - group: The event loops; NIO's singleton by default.
    ///   - now: The time recorded with each request.
    ///   - handler: Answers each request.
    public static func start(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        now: @escaping @Sendable () -> Date = { Date() },
        handler: @escaping Handler
    ) async throws -> FakeHTTPServer {
        let connections = ConnectionSet()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(FakeHTTPHandler(handler: handler, now: now))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        guard let port = channel.localAddress?.port else {
            try await channel.close()
            throw ChannelError.unknownLocalAddress
        }
        return FakeHTTPServer(channel: channel, port: port, connections: connections)
    }

    /// Stops listening and closes every open connection.
    public func stop() async {
        try? await channel.close()
        for connection in connections.drain() { try? await connection.close() }
    }
}

/// The accepted connections, so ``FakeHTTPServer/stop()`` can close pooled keep-alive connections too.
final class ConnectionSet: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func insert(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        channels.withLock { $0[id] = channel }
        channel.closeFuture.whenComplete { [weak self] _ in
            self?.channels.withLock { _ = $0.removeValue(forKey: id) }
        }
    }

    func drain() -> [any Channel] {
        channels.withLock { channels in
            let all = Array(channels.values)
            channels.removeAll()
            return all
        }
    }
}

/// Collects a request, runs the async handler in a task, writes the response on the event loop.
final class FakeHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let handler: FakeHTTPServer.Handler
    private let now: @Sendable () -> Date
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(handler: @escaping FakeHTTPServer.Handler, now: @escaping @Sendable () -> Date) {
        self.handler = handler
        self.now = now
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? head.uri
            let request = FakeHTTPRequest(
                method: head.method.rawValue,
                uri: head.uri,
                path: path,
                headers: head.headers.map { (name: $0.name, value: $0.value) },
                body: body,
                receivedAt: now()
            )
            let keepAlive = head.isKeepAlive
            let version = head.version
            let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            let eventLoop = context.eventLoop
            let handler = self.handler
            Task {
                let response = await handler(request)
                eventLoop.execute {
                    let context = loopBound.value
                    var headers = HTTPHeaders(response.headers.map { ($0.name, $0.value) })
                    headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
                    if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                    let status = HTTPResponseStatus(statusCode: response.status)
                    context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
                    context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
                    let done = eventLoop.makePromise(of: Void.self)
                    context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: done)
                    if !keepAlive {
                        done.futureResult.whenComplete { _ in loopBound.value.close(promise: nil) }
                    }
                }
            }
        }
    }
}

@available(*, unavailable)
extension FakeHTTPHandler: Sendable {}
