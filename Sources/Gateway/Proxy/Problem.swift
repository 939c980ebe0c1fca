import NIOCore
import NIOHTTP1

/// A response the gateway generates itself, as RFC 9457 `application/problem+json`.
struct Problem: Sendable {
    /// The kinds of failure, each with a stable `type` URI and title.
    enum Kind: String, Sendable {
        case noRoute = "no-route"
        case badRequest = "bad-request"
        case contentTooLarge = "content-too-large"
        case requestHeaderFieldsTooLarge = "request-header-fields-too-large"
        case upstreamUnreachable = "upstream-unreachable"
        case upstreamDestinationRefused = "upstream-destination-refused"
        case upstreamProtocolError = "upstream-protocol-error"
        case timeout = "timeout"
        case circuitOpen = "circuit-open"
        case bulkheadFull = "bulkhead-full"
        case upstreamAuthFailed = "upstream-auth-failed"
        /// The admin port's `/debug/*` asked from off the host, without `--expose-debug`.
        case debugNotExposed = "debug-not-exposed"

        var status: HTTPResponseStatus {
            switch self {
            case .noRoute: return .notFound
            case .badRequest: return .badRequest
            case .contentTooLarge: return .payloadTooLarge
            case .requestHeaderFieldsTooLarge: return .requestHeaderFieldsTooLarge
            case .upstreamUnreachable, .upstreamProtocolError, .upstreamDestinationRefused: return .badGateway
            case .timeout: return .gatewayTimeout
            case .circuitOpen, .bulkheadFull, .upstreamAuthFailed: return .serviceUnavailable
            case .debugNotExposed: return .forbidden
            }
        }

        var title: String {
            switch self {
            case .noRoute: return "No route matches the request"
            case .badRequest: return "The request is malformed"
            case .contentTooLarge: return "The request body is larger than the route allows"
            case .requestHeaderFieldsTooLarge: return "The request's header fields are too large"
            case .upstreamUnreachable: return "The upstream could not be reached"
            case .upstreamProtocolError: return "The upstream broke the HTTP protocol"
            case .upstreamDestinationRefused: return "The upstream's address is not one the gateway may connect to"
            case .timeout: return "The upstream did not answer in time"
            case .circuitOpen: return "The upstream's circuit breaker is open"
            case .bulkheadFull: return "The upstream has too many requests in flight"
            case .upstreamAuthFailed: return "The gateway could not obtain a credential for the upstream"
            case .debugNotExposed: return "The debug endpoints answer loopback clients only"
            }
        }
    }

    static let typeBase = "https://portcullis.io/problems/"

    var kind: Kind
    var detail: String
    /// The request id, so a user can find the request in the access log.
    var instance: String
    /// When to try again, sent as `Retry-After` (whole seconds, rounded up).
    var retryAfter: Duration?

    init(kind: Kind, detail: String, instance: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.detail = detail
        self.instance = instance
        self.retryAfter = retryAfter
    }

    /// The response head and body, written into one buffer sized for it up front.
    func response(version: HTTPVersion, keepAlive: Bool) -> (HTTPResponseHead, ByteBuffer) {
        var body = ByteBufferAllocator().buffer(capacity: 128 + kind.title.utf8.count + detail.utf8.count + instance.utf8.count)
        body.writeStaticString("{\"type\":\"")
        body.writeString(Problem.typeBase)
        body.writeString(kind.rawValue)
        body.writeStaticString("\",\"title\":")
        Problem.writeJSONString(kind.title, to: &body)
        body.writeStaticString(",\"status\":")
        body.writeString(String(kind.status.code))
        body.writeStaticString(",\"detail\":")
        Problem.writeJSONString(detail, to: &body)
        body.writeStaticString(",\"instance\":")
        Problem.writeJSONString(instance, to: &body)
        body.writeStaticString("}")
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        headers.add(name: "content-type", value: "application/problem+json")
        headers.add(name: "content-length", value: String(body.readableBytes))
        headers.add(name: "x-request-id", value: instance)
        if let retryAfter {
            let (seconds, attoseconds) = retryAfter.components
            headers.add(name: "retry-after", value: String(max(1, seconds + (attoseconds > 0 ? 1 : 0))))
        }
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return (HTTPResponseHead(version: version, status: kind.status, headers: headers), body)
    }

    /// The body alone, as text (the admin port's answers, off the hot path).
    var json: String {
        let (_, body) = response(version: .http1_1, keepAlive: true)
        return String(buffer: body)
    }

    /// Writes `text` as a JSON string; in one piece when nothing in it needs escaping, as is usual.
    static func writeJSONString(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            buffer.writeString(text)
            buffer.writeInteger(UInt8(ascii: "\""))
            return
        }
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeString("\\\\")
            case 0..<0x20: buffer.writeString("\\u00" + String(byte, radix: 16).leftPadded(to: 2))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
