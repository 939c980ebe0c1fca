import NIOHTTP1

/// How a client's request and the upstream's response are rewritten on the way through.
enum ForwardedRequest {
    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1); never forwarded.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Client credentials meant for the gateway; forwarded only when the route says so.
    static let clientCredentials: Set<String> = ["authorization", "proxy-authorization"]

    /// The request head sent upstream.
    ///
    /// - Removes hop-by-hop headers (and any named in `Connection`), and the client's credentials
    ///   unless the route forwards them; a header a route credential sets is never the client's.
    /// - Adds the route's credentials (`credentialHeaders`, lowercase names), in order.
    /// - Passes a protocol upgrade on (`Connection: upgrade` with the client's `Upgrade`), as for WebSocket.
    /// - Tells an HTTP/2 upstream `TE: trailers` when the client sent it.
    /// - Sets `Host` to the upstream, `X-Forwarded-Host` to the client's host, appends the client
    ///   address to `X-Forwarded-For`, sets `X-Forwarded-Proto`, and sets `X-Request-ID`.
    /// - Rewrites the path: the upstream's base path, then the request path with the matched
    ///   prefix replaced when the route rewrites it; the query string is kept.
    static func upstreamHead(
        _ head: HTTPRequestHead,
        route: RouteConfig,
        clientAddress: String?,
        inboundScheme: String,
        requestID: String,
        credentialHeaders: [(name: String, value: String)] = []
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 4 + credentialHeaders.count)
        let connectionTokens = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        var originalHost: Substring?
        var forwardedFor: String?
        for (name, value) in head.headers {
            let lowercased = name.lowercased()
            if hopByHop.contains(lowercased) || connectionTokens.contains(where: { $0 == lowercased }) { continue }
            if !credentialHeaders.isEmpty && credentialHeaders.contains(where: { $0.name == lowercased }) { continue }
            switch lowercased {
            case "host":
                originalHost = Substring(value)
            case "x-forwarded-for":
                forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
            case "x-forwarded-host", "x-forwarded-proto", "x-request-id":
                continue
            case "authorization", "proxy-authorization":
                if route.forwardClientCredentials { headers.add(name: name, value: value) }
            default:
                headers.add(name: name, value: value)
            }
        }
        let upstream = route.upstream
        let defaultPort = upstream.scheme == .https ? 443 : 80
        let host = upstream.host.contains(":") ? "[\(upstream.host)]" : upstream.host
        headers.add(name: "host", value: upstream.port == defaultPort ? host : "\(host):\(upstream.port)")
        if let originalHost { headers.add(name: "x-forwarded-host", value: String(originalHost)) }
        if let clientAddress {
            headers.add(name: "x-forwarded-for", value: forwardedFor.map { $0 + ", " + clientAddress } ?? clientAddress)
        } else if let forwardedFor {
            headers.add(name: "x-forwarded-for", value: forwardedFor)
        }
        headers.add(name: "x-forwarded-proto", value: inboundScheme)
        headers.add(name: "x-request-id", value: requestID)
        if let upgrade = head.headers.first(name: "upgrade"), connectionTokens.contains("upgrade") {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        if upstream.httpProtocol == .http2, head.headers[canonicalForm: "te"].contains(where: { $0.lowercased() == "trailers" }) {
            // The one TE HTTP/2 allows (RFC 9113 §8.2.2), which gRPC servers require.
            headers.add(name: "te", value: "trailers")
        }
        for credential in credentialHeaders { headers.add(name: credential.name, value: credential.value) }
        if head.version.major == 1 && head.version.minor == 0 && head.headers.first(name: "content-length") == nil
            && head.method != .GET && head.method != .HEAD
        {
            // An HTTP/1.0 body without a length ends with the connection; say so upstream with chunking.
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        return HTTPRequestHead(
            version: .http1_1,
            method: head.method,
            uri: upstreamURI(head.uri, route: route),
            headers: headers
        )
    }

    /// The upstream path and query for a request URI.
    static func upstreamURI(_ uri: String, route: RouteConfig) -> String {
        let queryStart = uri.firstIndex(of: "?") ?? uri.endIndex
        var path = Substring(uri[..<queryStart])
        var rewritten = ""
        if let replacement = route.rewritePrefix, case .prefix(let prefix) = route.match.path {
            let matched = prefix.hasSuffix("/") ? prefix.dropLast() : Substring(prefix)
            if path.hasPrefix(matched) {
                path = path.dropFirst(matched.count)
                let base = replacement.hasSuffix("/") ? String(replacement.dropLast()) : replacement
                rewritten = path.isEmpty ? (base.isEmpty ? "/" : base) : base + path
            }
        }
        if rewritten.isEmpty { rewritten = String(path) }
        if rewritten.isEmpty { rewritten = "/" }
        if !rewritten.hasPrefix("/") { rewritten = "/" + rewritten }
        return route.upstream.basePath + rewritten + uri[queryStart...]
    }

    /// The response head sent to the client: hop-by-hop headers removed, the request id added.
    static func clientHead(_ head: HTTPResponseHead, requestID: String, keepAlive: Bool) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        let connectionTokens = head.headers[canonicalForm: "connection"].map { $0.lowercased() }
        for (name, value) in head.headers {
            let lowercased = name.lowercased()
            if hopByHop.contains(lowercased) || connectionTokens.contains(where: { $0 == lowercased }) { continue }
            headers.add(name: name, value: value)
        }
        if headers.first(name: "x-request-id") == nil { headers.add(name: "x-request-id", value: requestID) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
    }

    /// A request id: 128 random bits in hex.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
