import AsyncHTTPClient
import Foundation
import Kubernetes
import NIOCore
import NIOFoundationCompat

/// One event of a watch.
public enum WatchEvent<Object: Sendable>: Sendable {
    case added(Object)
    case modified(Object)
    /// The object's final state (with a newer resourceVersion).
    case deleted(Object)
    /// Only a newer resourceVersion: nothing changed up to it (sent with `allowWatchBookmarks=true`).
    case bookmark(WatchBookmark)
    /// The server ended the watch with a Status; 410 ``KubernetesError/Code/gone`` means re-list.
    case error(KubernetesError)
}

/// A BOOKMARK event's content.
public struct WatchBookmark: Sendable, Hashable {
    public var resourceVersion: String
    /// E.g. `k8s.io/initial-events-end: "true"` after the initial events of a `sendInitialEvents` watch.
    public var annotations: [String: String]

    public init(resourceVersion: String, annotations: [String: String] = [:]) {
        self.resourceVersion = resourceVersion
        self.annotations = annotations
    }
}

extension WatchEvent where Object: KubernetesObject {
    /// The resourceVersion the event brings the watcher to (`nil` for ERROR).
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): return object.metadata.resourceVersion
        case .bookmark(let bookmark): return bookmark.resourceVersion
        case .error: return nil
        }
    }
}

/// The events of a watch as an `AsyncSequence`, decoded from the newline-delimited JSON of the
/// streaming response body as it arrives.
///
/// Backpressure: the body is read only as fast as the sequence is iterated (AsyncHTTPClient stops
/// reading the socket when its buffer is full). Cancelling the iterating task, or dropping the
/// sequence and its iterator, cancels the request and closes the connection. The sequence ends when
/// the server ends the stream (at `timeoutSeconds`, after an ERROR event, or when it restarts).
///
/// - Throws: From `next()`: transport errors, and ``KubernetesError/Code/invalidResponse`` for a line that
///   is not a watch event (the contract says to re-list then).
public struct WatchStream<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<Object>

    let body: HTTPClientResponse.Body
    /// The longest event accepted; a longer line fails the stream rather than growing the buffer without bound.
    static var maximumEventBytes: Int { 64 * 1024 * 1024 }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(upstream: body.makeAsyncIterator())
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var upstream: HTTPClientResponse.Body.AsyncIterator
        var buffer = ByteBuffer()
        var finished = false
        let decoder = JSONDecoder()

        public mutating func next() async throws -> WatchEvent<Object>? {
            while true {
                if let line = nextLine() {
                    if line.readableBytesView.allSatisfy({
                        $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") || $0 == UInt8(ascii: "\t")
                    }) {
                        continue
                    }
                    return try decode(line)
                }
                if finished { return nil }
                guard var chunk = try await upstream.next() else {
                    finished = true
                    // A last event without its newline still counts.
                    if buffer.readableBytes > 0 {
                        let rest = buffer.readSlice(length: buffer.readableBytes)!
                        if rest.readableBytesView.contains(where: {
                            $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r")
                        }) {
                            return try decode(rest)
                        }
                    }
                    return nil
                }
                if buffer.readableBytes == 0 {
                    buffer = chunk
                } else {
                    buffer.writeBuffer(&chunk)
                }
                if buffer.readableBytes > WatchStream.maximumEventBytes {
                    throw KubernetesError(
                        code: .invalidResponse,
                        message: "watch: an event exceeds \(WatchStream.maximumEventBytes) bytes"
                    )
                }
            }
        }

        private mutating func nextLine() -> ByteBuffer? {
            guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                if buffer.readableBytes == 0, buffer.readerIndex > 0 { buffer.clear() }
                return nil
            }
            let length = newline - buffer.readerIndex
            let line = buffer.readSlice(length: length)!
            buffer.moveReaderIndex(forwardBy: 1)
            return line
        }

        private func decode(_ line: ByteBuffer) throws -> WatchEvent<Object> {
            do {
                return try decoder.decode(WatchEventBody<Object>.self, from: line).event
            } catch let error as KubernetesError {
                throw error
            } catch {
                let preview = String(buffer: line).prefix(120)
                throw KubernetesError(
                    code: .invalidResponse,
                    message: "watch: not a \(Object.self) watch event: \(error) in \(preview)"
                )
            }
        }
    }
}

/// `{"type": "...", "object": {...}}`, decoding `object` by `type`.
struct WatchEventBody<Object: KubernetesObject>: Decodable {
    let event: WatchEvent<Object>

    enum CodingKeys: String, CodingKey { case type, object }

    struct BookmarkObject: Decodable {
        struct Metadata: Decodable {
            var resourceVersion: String?
            var annotations: [String: String]?
        }

        var metadata: Metadata?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(String.self, forKey: .type)
        switch type {
        case "ADDED": event = .added(try container.decode(Object.self, forKey: .object))
        case "MODIFIED": event = .modified(try container.decode(Object.self, forKey: .object))
        case "DELETED": event = .deleted(try container.decode(Object.self, forKey: .object))
        case "BOOKMARK":
            let object = try container.decode(BookmarkObject.self, forKey: .object)
            event = .bookmark(
                WatchBookmark(
                    resourceVersion: object.metadata?.resourceVersion ?? "",
                    annotations: object.metadata?.annotations ?? [:]
                )
            )
        case "ERROR":
            let status = try container.decode(Status.self, forKey: .object)
            event = .error(KubernetesError(status: status))
        default:
            throw DecodingError.dataCorruptedError(
                forKey: .type,
                in: container,
                debugDescription: "unknown watch event type \(type)"
            )
        }
    }
}
