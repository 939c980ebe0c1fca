import NIOCore
import NIOHTTP1

/// Serialises HTTP/1.1 pipelining for a handler that serves one request at a time: a request's
/// head is handed on only once the response to the one before it has ended (its `.end` was
/// written). Parts that arrive earlier are held, in order, with any parse error behind them.
///
/// In place of NIO's `HTTPServerPipelineHandler`, which stops reading the socket while every
/// response is pending and starts again after it (two `epoll_ctl` per request, even from a client
/// that never pipelines). This one lets reads run while nothing is held, which is always the case
/// for a client that waits for each response; it withholds reads only while it holds parts, so it
/// never keeps more than one read's worth.
///
/// Half-closure is not handled (the gateway's connections do not allow it), nor quiescing.
final class HTTPPipeliningGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Held {
        case part(HTTPServerRequestPart)
        case error(any Error)
    }

    /// Whether a request's head was handed on and the response to it has not ended.
    private var responsePending = false
    /// Whether the request handed on last has ended (its `.end` was handed on).
    private var requestEnded = true
    /// What arrived behind a request whose response has not ended, in arrival order.
    private var held = CircularBuffer<Held>(initialCapacity: 4)
    /// Whether a read was withheld while parts were held.
    private var readPending = false
    /// Whether held parts are being handed on (a response written meanwhile must not start again).
    private var delivering = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard held.isEmpty else {
            held.append(.part(part))
            return
        }
        switch part {
        case .head:
            guard !responsePending else {
                held.append(.part(part))
                return
            }
            responsePending = true
            requestEnded = false
        case .end:
            requestEnded = true
        case .body:
            break
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A parse error behind a request still being answered belongs to what follows that request:
        // it waits its turn, so the response in progress completes first.
        if !held.isEmpty || (error is HTTPParserError && responsePending && requestEnded) {
            held.append(.error(error))
            return
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        if case .end = unwrapOutboundIn(data) {
            responsePending = false
            if !held.isEmpty { deliverHeld(context: context) }
        }
    }

    func read(context: ChannelHandlerContext) {
        if held.isEmpty {
            context.read()
        } else {
            readPending = true
        }
    }

    /// Hands on held parts until the next head whose turn has not come, then reads again if a
    /// read was withheld and nothing is held any more.
    private func deliverHeld(context: ChannelHandlerContext) {
        guard !delivering else { return }
        delivering = true
        defer { delivering = false }
        while let next = held.first {
            switch next {
            case .part(let part):
                switch part {
                case .head:
                    if responsePending { return }
                    responsePending = true
                    requestEnded = false
                case .end:
                    requestEnded = true
                case .body:
                    break
                }
                held.removeFirst()
                context.fireChannelRead(wrapInboundOut(part))
            case .error(let error):
                held.removeFirst()
                context.fireErrorCaught(error)
            }
        }
        if readPending {
            readPending = false
            context.read()
        }
    }
}

@available(*, unavailable)
extension HTTPPipeliningGuard: Sendable {}
