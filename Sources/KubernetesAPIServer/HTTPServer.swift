import Kubernetes
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTP request, its body read in full (bounded by ``HTTPServer/maximumBodySize``).
struct HTTPRequest: Sendable {
    var method: HTTPMethod
    /// The path without the query string, percent-decoded per segment by the router.
    var path: String
    /// Query parameters; for a repeated parameter, the last value.
    var query: [String: String]
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// An HTTP response: a complete body, or a streamed one (a watch).
enum HTTPResponse: Sendable {
    /// Writes one chunk of a streamed body, waiting while the client is slow to read.
    typealias ChunkWriter = @Sendable (ByteBuffer) async throws -> Void

    case full(status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer)
    /// `produce` writes the body chunk by chunk and returns when it is complete; it is cancelled
    /// when the client goes away.
    case stream(status: HTTPResponseStatus, headers: HTTPHeaders, produce: @Sendable (ChunkWriter) async -> Void)
}

/// An HTTP/1.1 server on NIO, optionally behind TLS, that hands each request to an async handler.
///
/// Bodies over ``maximumBodySize`` get 413 without being buffered. A streamed response ends when its
/// producer returns, or when the client goes away (the producer is then cancelled).
struct HTTPServer: Sendable {
    /// kube-apiserver's request body limit.
    static let maximumBodySize = 3 * 1024 * 1024

    typealias Handler = @Sendable (HTTPRequest) async -> HTTPResponse

    let host: String
    let port: Int
    let tlsContext: NIOSSLContext?
    let group: any EventLoopGroup
    let logger: Logger
    let handler: Handler

    /// Binds the listening socket; the returned channel runs with ``serve(_:)``.
    func bind() async throws -> NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never> {
        let tlsContext = self.tlsContext
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
    }

    /// Accepts connections until the task is cancelled.
    func serve(_ listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            try await listener.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        let closeFuture = connection.channel.closeFuture
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body = ByteBuffer()
                var tooLarge = false
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        body.clear()
                        tooLarge = false
                        if let length = requestHead.headers.first(name: "content-length").flatMap(Int.init),
                            length > HTTPServer.maximumBodySize
                        {
                            tooLarge = true
                        }
                    case .body(var chunk):
                        if !tooLarge {
                            if body.readableBytes + chunk.readableBytes > HTTPServer.maximumBodySize {
                                tooLarge = true
                                body.clear()
                            } else {
                                body.writeBuffer(&chunk)
                            }
                        }
                    case .end:
                        guard let requestHead = head else { continue }
                        head = nil
                        let keepAlive = requestHead.isKeepAlive && !tooLarge
                        let response: HTTPResponse
                        if tooLarge {
                            response = HTTPServer.statusResponse(APIError.requestTooLarge)
                        } else {
                            response = await handler(HTTPServer.request(from: requestHead, body: body))
                        }
                        let completed = try await write(response, to: outbound, version: requestHead.version, keepAlive: keepAlive, closeFuture: closeFuture)
                        if !keepAlive || !completed { return }
                    }
                }
            }
        } catch {
            logger.debug("connection ended", metadata: ["apiserver.error": "\(error)"])
        }
    }

    /// Writes a response; returns false when the client went away during a stream.
    private func write(
        _ response: HTTPResponse,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        version: HTTPVersion,
        keepAlive: Bool,
        closeFuture: EventLoopFuture<Void>
    ) async throws -> Bool {
        switch response {
        case .full(let status, var headers, let body):
            headers.replaceOrAdd(name: "content-length", value: String(body.readableBytes))
            if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
            try await outbound.write(contentsOf: [
                .head(HTTPResponseHead(version: version, status: status, headers: headers)), .body(.byteBuffer(body)), .end(nil),
            ])
            return true
        case .stream(let status, var headers, let produce):
            headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
            try await outbound.write(.head(HTTPResponseHead(version: version, status: status, headers: headers)))
            // Stream until the producer is done or the client disconnects, whichever is first.
            let finished = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    await produce { chunk in try await outbound.write(.body(.byteBuffer(chunk))) }
                    do {
                        try await outbound.write(.end(nil))
                        return true
                    } catch {
                        return false
                    }
                }
                group.addTask {
                    // Wait for the close in a way cancellation ends (`EventLoopFuture.get()` ignores it): once
                    // the producer is done the connection must go back to reading the next request.
                    let (closed, signal) = AsyncStream<Void>.makeStream()
                    closeFuture.whenComplete { _ in signal.finish() }
                    for await _ in closed {}
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
            return finished
        }
    }

    static func request(from head: HTTPRequestHead, body: ByteBuffer) -> HTTPRequest {
        let uri = head.uri
        let pathPart: Substring
        var query: [String: String] = [:]
        if let questionMark = uri.firstIndex(of: "?") {
            pathPart = uri[..<questionMark]
            for pair in uri[uri.index(after: questionMark)...].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = percentDecode(parts[0])
                query[name] = parts.count > 1 ? percentDecode(parts[1]) : ""
            }
        } else {
            pathPart = uri[...]
        }
        return HTTPRequest(method: head.method, path: String(pathPart), query: query, headers: head.headers, body: body)
    }

    /// Decodes `%XX` escapes and `+` (as a space, in query strings).
    static func percentDecode(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A Status error as a complete JSON response.
    static func statusResponse(_ error: APIError) -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        return .full(
            status: HTTPResponseStatus(statusCode: error.code),
            headers: headers,
            body: ByteBuffer(string: error.status.description)
        )
    }
}
