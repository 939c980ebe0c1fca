import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import PKI
import Synchronization

/// The upstream `portcullis dev --demo` starts: it answers every request with what it received
/// (method, path, headers), so a newcomer's first curl through the gateway shows what the gateway
/// added and removed on the way. A bearer JWT is verified as a backend would verify it: against the
/// JWKS fetched over HTTP from the issuer, with the issuer and this upstream's origin as audience;
/// the answer shows the verified claims or why verification failed.
enum DemoUpstream {
    /// Listens on `port` (0 picks a free one) until the returned channel is closed.
    ///
    /// - Parameter issuer: The gateway's issuer URL, whose JWTs are verified; `nil` verifies none.
    static func start(host: String = "127.0.0.1", port: Int, issuer: String?, httpClient: HTTPClient) async throws -> any Channel {
        let keys = issuer.map { JWKSCache(issuer: $0, httpClient: httpClient) }
        return try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(EchoHandler(keys: keys, origin: "http://\(host):\(port)"))
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// The issuer's JWKS, fetched on first use and again when a token names an unknown key.
    final class JWKSCache: Sendable {
        let issuer: String
        let httpClient: HTTPClient
        private let keys = Mutex<JSONWebKeySet?>(nil)

        init(issuer: String, httpClient: HTTPClient) {
            self.issuer = issuer
            self.httpClient = httpClient
        }

        /// The verified claims of `token` as JSON, or why it does not verify.
        func verify(_ token: String, audience: String) async -> [String: Any] {
            do {
                var verifier = JWTVerifier(keys: keys.withLock { $0 } ?? JSONWebKeySet(keys: []), issuer: issuer, audience: audience)
                if !verifier.hasKey(for: token) {
                    verifier.keys = try await fetch()
                }
                let verified = try verifier.verify(token)
                let claims = try JSONSerialization.jsonObject(with: Data(verified.claimsJSON.utf8))
                return ["verified": true, "keyID": verified.keyID, "claims": claims]
            } catch let error as PKIError {
                return ["verified": false, "error": error.message]
            } catch {
                return ["verified": false, "error": "\(error)"]
            }
        }

        private func fetch() async throws -> JSONWebKeySet {
            let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
            let response = try await httpClient.execute(HTTPClientRequest(url: base + OIDCDiscoveryDocument.jwksPath), timeout: .seconds(5))
            let body = try await response.body.collect(upTo: 1 << 20)
            let set = try JSONDecoder().decode(JSONWebKeySet.self, from: Data(body.readableBytesView))
            keys.withLock { $0 = set }
            return set
        }
    }

    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let keys: JWKSCache?
        let origin: String
        var head: HTTPRequestHead?
        var bodyBytes = 0

        init(keys: JWKSCache?, origin: String) {
            self.keys = keys
            self.origin = origin
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                bodyBytes = 0
            case .body(let body):
                bodyBytes += body.readableBytes
            case .end:
                guard let head else { return }
                self.head = nil
                var headers: [String: String] = [:]
                for (name, value) in head.headers {
                    let key = name.lowercased()
                    headers[key] = headers[key].map { $0 + ", " + value } ?? value
                }
                let answer: [String: Any] = [
                    "upstream": "portcullis demo upstream", "method": head.method.rawValue, "path": head.uri,
                    "bodyBytes": bodyBytes, "headers": headers,
                ]
                guard let keys, let authorization = head.headers.first(name: "authorization"), authorization.hasPrefix("Bearer ") else {
                    respond(answer, head: head, context: context)
                    return
                }
                let token = String(authorization.dropFirst("Bearer ".count))
                let origin = self.origin
                let promise = context.eventLoop.makePromise(of: String.self)
                promise.completeWithTask { Self.json(["identity": await keys.verify(token, audience: origin)]) }
                promise.futureResult.assumeIsolated().whenSuccess { [weak self] identity in
                    guard let self, let identity = try? JSONSerialization.jsonObject(with: Data(identity.utf8)) as? [String: Any] else { return }
                    self.respond(answer.merging(identity) { first, _ in first }, head: head, context: context)
                }
            }
        }

        private func respond(_ answer: [String: Any], head: HTTPRequestHead, context: ChannelHandlerContext) {
            var body = ByteBuffer(string: Self.json(answer))
            body.writeString("\n")
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "content-type", value: "application/json")
            responseHeaders.add(name: "content-length", value: String(body.readableBytes))
            let keepAlive = head.isKeepAlive
            if !keepAlive { responseHeaders.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: responseHeaders))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }

        static func json(_ object: [String: Any]) -> String {
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }
}
