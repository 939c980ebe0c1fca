import NIOHTTP1

/// How a client's request and the upstream's response are rewritten on the way through.
enum ForwardedRequest {
    /// Headers that describe one connection, not the message (RFC 9110 §7.6.1); never forwarded.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    ]

    /// Client credentials meant for the gateway; forwarded only when the route says so.
    static let clientCredentials: Set<String> = ["authorization", "proxy-authorization"]

    /// What the rewrite does with a request header, told from its name without lowercasing it.
    enum HeaderRole: Equatable {
        case hopByHop, host, forwardedFor, replaced, clientCredential, other
    }

    /// The role of a header name: ``hopByHop`` and ``clientCredentials`` by name, `Host`,
    /// `X-Forwarded-For`, and the headers the gateway sets itself (`X-Forwarded-Host`,
    /// `X-Forwarded-Proto`, `X-Request-ID`), compared ignoring ASCII case.
    static func role(of name: String) -> HeaderRole {
        let utf8 = name.utf8
        switch utf8.count {
        case 2: return utf8.equalsIgnoringASCIICase("te") ? .hopByHop : .other
        case 4: return utf8.equalsIgnoringASCIICase("host") ? .host : .other
        case 7:
            if utf8.equalsIgnoringASCIICase("upgrade") || utf8.equalsIgnoringASCIICase("trailer") { return .hopByHop }
            return .other
        case 10:
            if utf8.equalsIgnoringASCIICase("connection") || utf8.equalsIgnoringASCIICase("keep-alive") { return .hopByHop }
            return .other
        case 12: return utf8.equalsIgnoringASCIICase("x-request-id") ? .replaced : .other
        case 13: return utf8.equalsIgnoringASCIICase("authorization") ? .clientCredential : .other
        case 15: return utf8.equalsIgnoringASCIICase("x-forwarded-for") ? .forwardedFor : .other
        case 16:
            if utf8.equalsIgnoringASCIICase("x-forwarded-host") { return .replaced }
            return utf8.equalsIgnoringASCIICase("proxy-connection") ? .hopByHop : .other
        case 17:
            if utf8.equalsIgnoringASCIICase("transfer-encoding") { return .hopByHop }
            return utf8.equalsIgnoringASCIICase("x-forwarded-proto") ? .replaced : .other
        case 19: return utf8.equalsIgnoringASCIICase("proxy-authorization") ? .clientCredential : .other
        default: return .other
        }
    }

    /// Whether `body` holds for a token of the `Connection` headers (trimmed, as bytes); read in
    /// place, without allocating. False at once when there is no `Connection` header, as a rule.
    private static func anyConnectionToken(in headers: HTTPHeaders, _ body: (Substring.UTF8View) -> Bool) -> Bool {
        for (name, value) in headers where name.utf8.count == 10 && name.utf8.equalsIgnoringASCIICase("connection") {
            let bytes = Substring(value).utf8
            var start = bytes.startIndex
            while start < bytes.endIndex {
                let end = bytes[start...].firstIndex(of: UInt8(ascii: ",")) ?? bytes.endIndex
                var token = bytes[start..<end]
                while let first = token.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { token = token.dropFirst() }
                while let last = token.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { token = token.dropLast() }
                if !token.isEmpty && body(token) { return true }
                start = end == bytes.endIndex ? end : bytes.index(after: end)
            }
        }
        return false
    }

    /// Whether the `Connection` headers name a header other than the hop-by-hop ones (which go anyway):
    /// only then is each header's name looked for among their tokens.
    private static func connectionNamesOthers(_ headers: HTTPHeaders) -> Bool {
        anyConnectionToken(in: headers) { token in !hopByHopNames.contains { token.equalsIgnoringASCIICase($0.utf8) } }
    }

    private static let hopByHopNames = Array(hopByHop)

    /// Whether a `Connection` header names `name`.
    private static func connection(_ headers: HTTPHeaders, names name: String) -> Bool {
        anyConnectionToken(in: headers) { $0.equalsIgnoringASCIICase(name.utf8) }
    }

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
    ///
    /// Header names are matched without lowercasing them (no string per header), and the `Connection`
    /// tokens are read only when the request has a `Connection` header.
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
        let connectionNamesOthers = Self.connectionNamesOthers(head.headers)
        var originalHost: String?
        var forwardedFor: String?
        var upgrade: String?
        var contentLength = false
        for (name, value) in head.headers {
            if !contentLength, name.utf8.count == 14, name.utf8.equalsIgnoringASCIICase("content-length") { contentLength = true }
            let role = role(of: name)
            if role == .hopByHop || (connectionNamesOthers && connection(head.headers, names: name)) {
                if upgrade == nil, name.utf8.count == 7, name.utf8.equalsIgnoringASCIICase("upgrade") { upgrade = value }
                continue
            }
            if !credentialHeaders.isEmpty && credentialHeaders.contains(where: { name.utf8.equalsIgnoringASCIICase($0.name.utf8) }) { continue }
            switch role {
            case .host:
                originalHost = value
            case .forwardedFor:
                forwardedFor = forwardedFor.map { $0 + ", " + value } ?? value
            case .replaced:
                continue
            case .clientCredential:
                if route.forwardClientCredentials { headers.add(name: name, value: value) }
            case .hopByHop, .other:
                headers.add(name: name, value: value)
            }
        }
        let upstream = route.upstream
        headers.add(name: "host", value: hostHeader(upstream))
        if let originalHost { headers.add(name: "x-forwarded-host", value: originalHost) }
        if let clientAddress {
            headers.add(name: "x-forwarded-for", value: forwardedFor.map { $0 + ", " + clientAddress } ?? clientAddress)
        } else if let forwardedFor {
            headers.add(name: "x-forwarded-for", value: forwardedFor)
        }
        headers.add(name: "x-forwarded-proto", value: inboundScheme)
        headers.add(name: "x-request-id", value: requestID)
        if let upgrade, connection(head.headers, names: "upgrade") {
            headers.add(name: "connection", value: "upgrade")
            headers.add(name: "upgrade", value: upgrade)
        }
        if upstream.httpProtocol == .http2, head.headers[canonicalForm: "te"].contains(where: { $0.lowercased() == "trailers" }) {
            // The one TE HTTP/2 allows (RFC 9113 §8.2.2), which gRPC servers require.
            headers.add(name: "te", value: "trailers")
        }
        for credential in credentialHeaders { headers.add(name: credential.name, value: credential.value) }
        if head.version.major == 1 && head.version.minor == 0 && !contentLength && head.method != .GET && head.method != .HEAD {
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

    /// The `Host` header for an upstream: its host (an IPv6 address in brackets), with the port
    /// unless it is the scheme's default.
    static func hostHeader(_ upstream: UpstreamTarget) -> String {
        let defaultPort = upstream.scheme == .https ? 443 : 80
        let host = upstream.host.contains(":") ? "[\(upstream.host)]" : upstream.host
        return upstream.port == defaultPort ? host : "\(host):\(upstream.port)"
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

    /// The name of the first header whose value has a control character other than tab, if any.
    ///
    /// NIO's HTTP/1.1 parser refuses such messages; its HTTP/2 codec refuses only CR, LF and NUL (RFC
    /// 9113 §8.2.1), so messages that arrive over HTTP/2 are checked here: the gateway forwards no control
    /// character (see `GatewayServer.serveHTTP1`).
    static func headerWithControlCharacter(in headers: HTTPHeaders) -> String? {
        for (name, value) in headers where value.utf8.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) {
            return name
        }
        return nil
    }

    /// The response head sent to the client: hop-by-hop headers removed, the request id added.
    ///
    /// The upstream's headers are kept in place and only the hop-by-hop ones removed (as a rule just
    /// its `Connection`), rather than copied one by one into new headers.
    static func clientHead(_ head: HTTPResponseHead, requestID: String, keepAlive: Bool) -> HTTPResponseHead {
        var headers = head.headers
        let connectionNamesOthers = Self.connectionNamesOthers(head.headers)
        var hasRequestID = false
        for (name, _) in head.headers {
            if role(of: name) == .hopByHop || (connectionNamesOthers && connection(head.headers, names: name)) {
                headers.remove(name: name)
            } else if !hasRequestID, name.utf8.count == 12, name.utf8.equalsIgnoringASCIICase("x-request-id") {
                hasRequestID = true
            }
        }
        if !hasRequestID { headers.add(name: "x-request-id", value: requestID) }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
    }

    /// A request id: 128 pseudo-random bits in hex (see ``RequestIDGenerator``).
    static func newRequestID() -> String {
        RequestIDGenerator.forThisThread.make()
    }
}

extension String.UTF8View {
    /// Whether these bytes equal `other`'s, ignoring ASCII case.
    func equalsIgnoringASCIICase(_ other: some Collection<UInt8>) -> Bool {
        guard count == other.count else { return false }
        for (mine, theirs) in zip(self, other) where mine != theirs {
            guard Self.lowercased(mine) == Self.lowercased(theirs) else { return false }
        }
        return true
    }

    /// Whether these bytes equal the lowercase ASCII `literal`, ignoring their case.
    func equalsIgnoringASCIICase(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { equalsIgnoringASCIICase($0) }
    }

    fileprivate static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}

extension Substring.UTF8View {
    /// Whether these bytes equal `other`'s, ignoring ASCII case.
    func equalsIgnoringASCIICase(_ other: some Collection<UInt8>) -> Bool {
        guard count == other.count else { return false }
        for (mine, theirs) in zip(self, other) where mine != theirs {
            guard String.UTF8View.lowercased(mine) == String.UTF8View.lowercased(theirs) else { return false }
        }
        return true
    }
}
