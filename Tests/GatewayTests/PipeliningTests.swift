import Foundation
@testable import Gateway
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// HTTP/1.1 pipelining: responses in request order, a request handed on only after the response
/// to the one before it ended, and reads withheld only while requests wait.
@Suite struct PipeliningTests {
    /// Pipelined requests where the gateway answers the second itself (no route) at once while the
    /// first is still with the upstream: the answers still come in request order, and a pipelined
    /// request body reaches the upstream whole.
    @Test func pipelinedResponsesComeInRequestOrder() async throws {
        let setup = try await ProxyTests.Setup { [ProxyTests.route("api", port: $0, path: "/api")] }
        let requests =
            "GET /api/one HTTP/1.1\r\nHost: a\r\n\r\n"
            + "GET /nothing HTTP/1.1\r\nHost: a\r\nX-Request-ID: second\r\n\r\n"
            + "POST /api/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
            + "GET /api/last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        let response = try await RawHTTPClient.exchange(port: setup.port, requests)
        // Each response's status line; a body ends without a line break, right before the next one.
        let statuses = response.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix { $0 != "\r\n" } }
        #expect(statuses == ["200 OK", "404 Not Found", "200 OK", "200 OK"], "\(response)")
        let one = try #require(response.range(of: "/api\\/one") ?? response.range(of: "/api/one"))
        let notFound = try #require(response.range(of: "404 Not Found"))
        let upload = try #require(response.range(of: "\"bodyBytes\":5"))
        let last = try #require(response.range(of: "/api\\/last") ?? response.range(of: "/api/last"))
        #expect(one.lowerBound < notFound.lowerBound && notFound.lowerBound < upload.lowerBound && upload.lowerBound < last.lowerBound)
        try await setup.stop()
    }

    /// Counts the reads that reach the channel.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// Records what the guard hands on.
    final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        var parts: [String] = []
        var errors = 0
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): parts.append("head \(head.uri)")
            case .body(let body): parts.append("body \(body.readableBytes)")
            case .end: parts.append("end")
            }
        }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            errors += 1
        }
    }

    static func head(_ uri: String) -> HTTPServerRequestPart {
        .head(HTTPRequestHead(version: .http1_1, method: .GET, uri: uri))
    }

    @Test func aRequestWaitsForTheResponseBeforeIt() throws {
        let counter = ReadCounter()
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([counter, HTTPPipeliningGuard(), recorder])

        try channel.writeInbound(Self.head("/one"))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.read()
        #expect(counter.reads == 1, "nothing held: reads go on while the response is pending")

        try channel.writeInbound(Self.head("/two"))
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "abc")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(recorder.parts == ["head /one", "end"], "the second request waits for the first response")
        channel.read()
        #expect(counter.reads == 1, "a read is withheld while a request is held")

        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        #expect(recorder.parts == ["head /one", "end"], "only the response's end lets the next request through")
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(recorder.parts == ["head /one", "end", "head /two", "body 3", "end"])
        #expect(counter.reads == 2, "the withheld read is made once nothing is held")
        _ = try channel.finish()
    }

    @Test func aParseErrorBehindAPendingResponseWaitsItsTurn() throws {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([HTTPPipeliningGuard(), recorder])
        try channel.writeInbound(Self.head("/one"))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        channel.pipeline.fireErrorCaught(HTTPParserError.invalidMethod)
        #expect(recorder.errors == 0, "the response to /one comes first")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(recorder.errors == 1)
        _ = try channel.finish()
    }

    /// A response that ends before its request (the gateway answered early): the rest of that request
    /// still goes through, and the next request after it is not held.
    @Test func aResponseThatEndsBeforeItsRequestHoldsNothing() throws {
        let recorder = Recorder()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([HTTPPipeliningGuard(), recorder])
        try channel.writeInbound(Self.head("/upload"))
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .payloadTooLarge)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        try channel.writeInbound(HTTPServerRequestPart.body(ByteBuffer(string: "rest")))
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        try channel.writeInbound(Self.head("/next"))
        #expect(recorder.parts == ["head /upload", "body 4", "end", "head /next"])
        _ = try channel.finish()
    }
}
