import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Resilience

/// Proxies the requests of one client connection, one at a time (HTTP/1.1 pipelining is serialised
/// by the ``HTTPPipeliningGuard`` in front of it), each to the upstream its route names.
///
/// Bodies stream in both directions with backpressure: while the upstream cannot take more of the
/// request, the client is not read, and while the client cannot take more of the response, the
/// upstream is not read. Only while the upstream connection is being established is the request
/// body buffered, up to ``maximumBufferedBody`` (reading stops beyond it).
///
/// A failed attempt (connect failure, reset, per-try timeout, or a status the route retries) is
/// retried when the route's policy, the request deadline and the upstream's retry budget allow it,
/// after the backoff or the upstream's `Retry-After`, on a new connection. A request body is sent
/// again only when all of it fitted the replay buffer (``maximumReplayedBody``). Every attempt asks
/// the circuit breaker and tells it how it went. Everything the gateway answers itself is problem+json.
///
/// A route's credentials are read before connecting, without waiting when the caches are warm; a
/// credential that cannot be had is a 503 `upstream-auth-failed`. An upstream 401 drops the rejected
/// tokens, and a request that can be sent again goes once more with new ones.
///
/// When the upstream accepts a protocol upgrade (101, as for WebSocket), both connections leave HTTP
/// and their bytes are relayed as they are until either side closes.
final class GatewayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = Never
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBufferedBody = 1 << 20
    /// How long the rest of a too-large request body is read and dropped after the 413, at most.
    static let bodyTooLargeLinger = TimeAmount.seconds(2)
    /// The most of a request body kept to send again on a retry.
    static let maximumReplayedBody = 64 << 10

    private enum State {
        case idle
        /// Connecting (or waiting to retry); request parts are buffered.
        case connecting(Exchange)
        /// Connected; the request streams up and the response streams down.
        case forwarding(Exchange, upstream: any Channel)
        /// The gateway answered itself; the rest of the request body is read and dropped.
        case draining(keepAlive: Bool)
    }

    /// One request on its way through. A class: the state moves it between cases by reference, where
    /// a struct of this size (route, head, target, timers, buffers) cost dozens of retains and releases
    /// at every change of state.
    private final class Exchange {
        let head: HTTPRequestHead
        let route: RouteConfig
        let policies: RoutePolicies
        /// Where the request goes: the route's upstream, or its fallback upstream.
        var target: UpstreamTarget
        var usingFallback = false
        /// Tells this exchange from later ones on the connection, for callbacks that arrive late.
        let serial: UInt64
        let requestID: String
        let keepAlive: Bool
        let started: ContinuousClock.Instant
        /// When the current attempt started, for the breaker's slow-call check.
        var attemptStarted: ContinuousClock.Instant
        /// The current attempt's breaker permit.
        var permit: CircuitBreakerPermit?
        /// Whether the request holds a bulkhead slot, and the ticket while it waits for one.
        var holdsSlot = false
        var waitingTicket: Bulkhead.Ticket?
        /// Whether the outcome was given to the breaker and the slot returned.
        var settled = false
        /// Whether the upstream connection came from the pool (it may have been closed by the upstream meanwhile).
        var reusedConnection = false
        /// The handler of the upstream connection the current attempt uses, which hands its responses back.
        var upstreamHandler: UpstreamHandler?
        /// What of the body went upstream in this attempt, kept while all of it fits the replay buffer so
        /// that it can be sent again; `replayable` turns false for good once it does not.
        var sent: [ByteBuffer] = []
        var sentBytes = 0
        var replayable = true
        /// Whether the request counts in the retry budget, and whether the current attempt is a retry it admitted.
        var countedInBudget = false
        var holdsRetry = false
        /// Whether the upstream's response lets the connection be reused.
        var upstreamKeepAlive = false
        var buffered: [ByteBuffer] = []
        var bufferedBytes = 0
        /// How much of the request body arrived, counted only when the route limits it.
        var receivedBytes: Int64 = 0
        var requestEnded = false
        var responseStarted = false
        var attempt = 1
        /// When the request times out (`timeouts.request`), checked by the connection's
        /// ``GatewayHandler/deadlineCheck``; `nil` without a request timeout or once it no longer applies.
        var deadline: NIODeadline?
        /// The current attempt's (per-try) deadline, and the idle check.
        var attemptTimeout: Scheduled<Void>?
        var idleTimeout: Scheduled<Void>?
        /// The route's credentials as sent upstream: lowercase header name and value, in order.
        var credentialHeaders: [(name: String, value: String)] = []
        /// Whether the request was already sent again after an upstream 401.
        var retriedAfterUnauthorized = false
        /// Whether the request was already sent again after an HTTP/2 GOAWAY left its stream unprocessed.
        var resentAfterGoAway = false

        init(
            head: HTTPRequestHead, route: RouteConfig, policies: RoutePolicies, target: UpstreamTarget, serial: UInt64, requestID: String,
            keepAlive: Bool, started: ContinuousClock.Instant, attemptStarted: ContinuousClock.Instant
        ) {
            self.head = head
            self.route = route
            self.policies = policies
            self.target = target
            self.serial = serial
            self.requestID = requestID
            self.keepAlive = keepAlive
            self.started = started
            self.attemptStarted = attemptStarted
        }
    }

    private let state: GatewayState
    private let pool: UpstreamPool
    private let inboundScheme: String
    private var current: State = .idle
    private var context: ChannelHandlerContext?
    private var clientAddress: String?
    private var exchanges: UInt64 = 0
    /// Whether this handler turned the client's `autoRead` off (backpressure from the upstream, or a
    /// request body buffered while connecting).
    private var clientReadsPaused = false
    /// Whether body parts were written upstream since its last flush.
    private var upstreamFlushPending = false
    /// The connection's one timer for request deadlines, and when it fires. It outlives requests:
    /// a new request whose deadline is no sooner keeps it, and when it fires before the current
    /// request's deadline it is set again for that deadline. A timer scheduled and cancelled per
    /// request cost an allocation, a heap insertion and a removal each.
    private var deadlineCheck: Scheduled<Void>?
    private var deadlineCheckAt = NIODeadline.distantFuture
    /// When a byte last moved for the current request, in either direction (`timeouts.idle`).
    private var lastActivity = NIODeadline.now()

    private let accessLog: Logger?
    private let inboundHTTP2: Bool
    /// The end of a response the gateway wrote itself on a connection that closes after the request's end.
    private var responseWritten: EventLoopFuture<Void>?

    /// - Parameters:
    ///   - accessLog: Gets one `info` record per request; `nil` logs none.
    ///   - inboundHTTP2: Whether the client's request arrives over HTTP/2, whose codec lets control
    ///     characters other than CR, LF and NUL through: such a request is refused here.
    init(state: GatewayState, pool: UpstreamPool, inboundScheme: String, accessLog: Logger?, inboundHTTP2: Bool = false) {
        self.state = state
        self.pool = pool
        self.inboundScheme = inboundScheme
        self.accessLog = accessLog
        self.inboundHTTP2 = inboundHTTP2
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        clientAddress = context.channel.remoteAddress?.ipAddress
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        deadlineCheck?.cancel()
        deadlineCheck = nil
    }

    // MARK: - Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            begin(head, context: context)
        case .body(let body):
            switch current {
            case .connecting(let exchange):
                if Self.outgrowsBodyLimit(exchange, with: body) { return bodyTooLarge(exchange, context: context) }
                exchange.buffered.append(body)
                exchange.bufferedBytes += body.readableBytes
                current = .connecting(exchange)
                if exchange.bufferedBytes > Self.maximumBufferedBody { pauseClientReads(context) }
            case .forwarding(let exchange, let upstream):
                if Self.outgrowsBodyLimit(exchange, with: body) { return bodyTooLarge(exchange, context: context) }
                lastActivity = .now()
                Self.remember(body, in: exchange)
                upstream.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
                upstreamFlushPending = true
                if !upstream.isWritable { pauseClientReads(context) }
            case .idle, .draining:
                break
            }
        case .end:
            switch current {
            case .connecting(let exchange):
                exchange.requestEnded = true
                current = .connecting(exchange)
            case .forwarding(let exchange, let upstream):
                exchange.requestEnded = true
                current = .forwarding(exchange, upstream: upstream)
                upstream.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            case .draining(let keepAlive):
                current = .idle
                if !keepAlive { closeOnceWritten(context) }
            case .idle:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Once per read batch, and only when body parts went up (a request's end goes with a flush).
        if upstreamFlushPending, case .forwarding(_, let upstream) = current { upstream.flush() }
        upstreamFlushPending = false
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client caught up: read the upstream's response again.
        if context.channel.isWritable, case .forwarding(_, let upstream) = current {
            upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client went away: whatever the upstream was doing for it is abandoned.
        switch current {
        case .forwarding(let exchange, let upstream):
            Self.cancelTimers(exchange)
            detach(exchange)
            upstream.close(promise: nil)
            settle(exchange, nil)
        case .connecting(let exchange):
            Self.cancelTimers(exchange)
            settle(exchange, nil)
        case .idle, .draining:
            break
        }
        current = .idle
        deadlineCheck?.cancel()
        deadlineCheck = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .idle = current, let parseError = error as? HTTPParserError {
            let problem: Problem
            if case .headerOverflow = parseError {
                let limit = NIOHTTPDecoderLimitConfiguration().maxHeaderListSize
                problem = Problem(kind: .requestHeaderFieldsTooLarge, detail: "the request's header fields are larger than the \(limit / 1024) KiB the gateway takes", instance: ForwardedRequest.newRequestID())
            } else {
                problem = Problem(kind: .badRequest, detail: "the request could not be parsed: \(error)", instance: ForwardedRequest.newRequestID())
            }
            let (head, body) = problem.response(version: .http1_1, keepAlive: false)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.close(promise: nil)
    }

    private func begin(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        // An HTTP/2 stream ends with its messages and leaves the connection open: closing it early would
        // reset it under its response.
        let keepAlive = inboundHTTP2 || head.isKeepAlive
        if inboundHTTP2, let name = ForwardedRequest.headerWithControlCharacter(in: head.headers) {
            // Before the request id is read: it may be the header in question.
            let problem = Problem(kind: .badRequest, detail: "the value of header \(name) has a control character", instance: ForwardedRequest.newRequestID())
            respond(problem, version: head.version, keepAlive: keepAlive, context: context)
            return
        }
        let requestID = head.headers.first(name: "x-request-id").flatMap { $0.isEmpty || $0.utf8.count > 200 ? nil : $0 }
            ?? ForwardedRequest.newRequestID()
        let uri = head.uri
        let path = uri.firstIndex(of: "?").map { String(uri[..<$0]) } ?? uri
        let host = head.headers.first(name: "host") ?? ""
        let snapshot = state.snapshot
        if let issuer = snapshot.issuer, head.method == .GET || head.method == .HEAD, let document = issuer.document(at: path) {
            serve(issuer, document: document, head: head, keepAlive: keepAlive, requestID: requestID, context: context)
            return
        }
        guard let route = snapshot.router.route(host: host, path: path, method: head.method.rawValue, header: { head.headers.first(name: $0) }),
            let policies = snapshot.policies[route.key]
        else {
            respond(Problem(kind: .noRoute, detail: "no route matches \(head.method.rawValue) \(path) for host \(host)", instance: requestID), version: head.version, keepAlive: keepAlive, context: context)
            return
        }
        exchanges &+= 1
        let now = ContinuousClock.now
        let exchange = Exchange(
            head: head, route: route, policies: policies, target: route.upstream, serial: exchanges, requestID: requestID, keepAlive: keepAlive,
            started: now, attemptStarted: now
        )
        if let limit = route.maxRequestBodyBytes, let length = head.headers.first(name: "content-length").flatMap({ Int64($0) }), length > limit {
            exchange.settled = true  // never admitted: nothing to give back
            current = .connecting(exchange)
            return bodyTooLarge(exchange, context: context)
        }
        if let breaker = policies.breaker {
            switch breaker.acquire(now: .now) {
            case .allowed(let permit, let transition):
                exchange.policies.breakerChanged(transition)
                exchange.permit = permit
            case .rejected(let retryAfter):
                guard fallBack(exchange) else {
                    var problem = Problem(kind: .circuitOpen, detail: "the circuit breaker for \(route.upstream) is open", instance: requestID)
                    problem.retryAfter = retryAfter
                    current = .connecting(exchange)
                    fail(problem, exchange: exchange, context: context)
                    return
                }
            }
        }
        lastActivity = .now()
        if route.timeouts.request > .zero {
            let deadline = lastActivity + TimeAmount(route.timeouts.request)
            exchange.deadline = deadline
            checkDeadline(at: deadline, context: context)
        }
        if route.timeouts.request == .zero || route.timeouts.request > route.timeouts.idle {
            // Only a request that may outlast the idle limit needs the idle check.
            let serial = exchange.serial
            exchange.idleTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(route.timeouts.idle)) { [weak self] in
                self?.checkIdle(serial: serial)
            }
        }
        guard let (admitted, ticket) = policies.bulkhead.enter(on: context.eventLoop) else {
            exchange.settled = true  // never admitted: nothing to give back, and the upstream was not tried
            Self.cancelTimers(exchange)
            current = .connecting(exchange)
            fail(Problem(kind: .bulkheadFull, detail: "\(route.upstream) already has \(route.bulkhead.maxRequests) requests in flight and \(route.bulkhead.maxPending) waiting", instance: requestID), exchange: exchange, context: context)
            return
        }
        exchange.waitingTicket = ticket
        current = .connecting(exchange)
        guard let ticket else {
            // Admitted at once, as nearly always: no callback to allocate.
            return admit(exchange)
        }
        admitted.assumeIsolated().whenComplete { [weak self] result in
            guard let self, case .success = result else { return }
            guard case .connecting(let exchange) = self.current, exchange.waitingTicket == ticket, !exchange.holdsSlot else {
                // Admitted after the request was abandoned: give the slot back at once.
                policies.bulkhead.leave()
                return
            }
            self.admit(exchange)
        }
    }

    /// The bulkhead let the request in: it holds a slot and counts in the retry budget from now on.
    private func admit(_ exchange: Exchange) {
        exchange.holdsSlot = true
        exchange.waitingTicket = nil
        exchange.countedInBudget = true
        exchange.policies.retryBudget.requestStarted()
        authorize()
    }

    /// Answers a GET or HEAD for the issuer's discovery document or JWKS.
    private func serve(_ issuer: IssuerDocuments, document: String, head: HTTPRequestHead, keepAlive: Bool, requestID: String, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "content-length", value: String(document.utf8.count))
        headers.add(name: "cache-control", value: "public, max-age=\(issuer.maxAge.components.seconds)")
        headers.add(name: "x-request-id", value: requestID)
        if !keepAlive { headers.add(name: "connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: .ok, headers: headers)
        finish(head: response, body: head.method == .HEAD ? ByteBuffer() : ByteBuffer(string: document), keepAlive: keepAlive, requestEnded: false, context: context)
    }

    // MARK: - Credentials

    /// Puts the route's credentials on the exchange, then connects: at once when every value is ready,
    /// else after waiting for the missing ones off the event loop.
    private func authorize() {
        guard case .connecting(let exchange) = current, let context else { return }
        let credentials = exchange.route.credentials
        guard !credentials.isEmpty else { return connect() }
        exchange.credentialHeaders.removeAll(keepingCapacity: true)
        let audienceOverride = exchange.usingFallback ? exchange.target.origin : nil
        for (index, binding) in credentials.enumerated() {
            let credential = binding.credential
            do {
                if let value = try credential.currentHeaderValue(audience: audienceOverride ?? binding.audience) {
                    exchange.credentialHeaders.append((credential.headerName, value))
                    continue
                }
            } catch {
                current = .connecting(exchange)
                return credentialFailed(CredentialFailure(name: credential.name, error: error))
            }
            // Not ready: wait for this one and the rest, then come back to this loop.
            current = .connecting(exchange)
            let pending = credentials[index...]
            let serial = exchange.serial
            let promise = context.eventLoop.makePromise(of: [(name: String, value: String)].self)
            promise.completeWithTask {
                var headers: [(name: String, value: String)] = []
                for binding in pending {
                    do {
                        headers.append((binding.credential.headerName, try await binding.credential.headerValue(audience: audienceOverride ?? binding.audience)))
                    } catch {
                        throw CredentialFailure(name: binding.credential.name, error: error)
                    }
                }
                return headers
            }
            promise.futureResult.assumeIsolated().whenComplete { [weak self] result in
                guard let self, case .connecting(let exchange) = self.current, exchange.serial == serial else { return }
                switch result {
                case .success(let headers):
                    exchange.credentialHeaders += headers
                    self.current = .connecting(exchange)
                    self.connect()
                case .failure(let error):
                    self.credentialFailed(error as? CredentialFailure ?? CredentialFailure(name: "", error: error))
                }
            }
            return
        }
        current = .connecting(exchange)
        connect()
    }

    /// No credential for the upstream: 503 without touching it. Not the upstream's failure, so the
    /// breaker does not count it.
    private func credentialFailed(_ failure: CredentialFailure) {
        guard case .connecting(let exchange) = current, let context else { return }
        Self.cancelTimers(exchange)
        settle(exchange, nil)
        current = .connecting(exchange)
        let problem = Problem(kind: .upstreamAuthFailed, detail: "credential \(failure.name) for \(exchange.target): \(failure.error)", instance: exchange.requestID)
        fail(problem, exchange: exchange, context: context)
    }

    /// Switches the exchange to the route's fallback upstream, once; false when there is none to switch to.
    private func fallBack(_ exchange: Exchange) -> Bool {
        guard !exchange.usingFallback, case .upstream(let target)? = exchange.route.fallback else { return false }
        exchange.usingFallback = true
        exchange.target = target
        exchange.attempt = 1
        return true
    }

    /// Gives the last attempt's outcome to the breaker, and the slot back to the bulkhead and the
    /// request to the retry budget, once per request.
    private func settle(_ exchange: Exchange, _ outcome: AttemptOutcome?) {
        guard !exchange.settled else { return }
        exchange.settled = true
        exchange.attemptTimeout?.cancel()
        if !exchange.usingFallback {
            if let outcome {
                exchange.policies.record(outcome, duration: ContinuousClock.now - exchange.attemptStarted, permit: exchange.permit)
            } else {
                exchange.policies.abandon(exchange.permit)
            }
        }
        exchange.permit = nil
        if exchange.holdsRetry { exchange.policies.retryBudget.retryFinished() }
        if exchange.countedInBudget { exchange.policies.retryBudget.requestFinished() }
        if exchange.holdsSlot { exchange.policies.bulkhead.leave() }
        if let ticket = exchange.waitingTicket { exchange.policies.bulkhead.cancel(ticket) }
    }

    /// Counts `part` against the route's `maxRequestBodyBytes`: true when the body is now larger.
    private static func outgrowsBodyLimit(_ exchange: Exchange, with part: ByteBuffer) -> Bool {
        guard let limit = exchange.route.maxRequestBodyBytes else { return false }
        exchange.receivedBytes += Int64(part.readableBytes)
        return exchange.receivedBytes > limit
    }

    /// The request body is larger than the route's `maxRequestBodyBytes`: the upstream attempt, if any, is
    /// abandoned (not the upstream's failure), the client gets 413 unless a response has started, and the
    /// connection closes. The rest of the body is not read: the gateway stops sending at once and reads
    /// what follows for at most ``bodyTooLargeLinger`` before closing, so that the client sees the 413
    /// rather than a reset.
    private func bodyTooLarge(_ exchange: Exchange, context: ChannelHandlerContext) {
        Self.cancelTimers(exchange)
        if case .forwarding(_, let upstream) = current {
            detach(exchange)
            upstream.close(promise: nil)
        }
        settle(exchange, nil)
        guard !exchange.responseStarted else {
            current = .idle
            context.close(promise: nil)
            return
        }
        let limit = exchange.route.maxRequestBodyBytes ?? 0
        responded(exchange, status: Int(Problem.Kind.contentTooLarge.status.code), problem: .contentTooLarge)
        let problem = Problem(kind: .contentTooLarge, detail: "the request body is larger than \(limit) bytes, the most route \(exchange.route.key) takes", instance: exchange.requestID)
        let (head, body) = problem.response(version: exchange.head.version, keepAlive: false)
        // Closed when the request's end arrives (`finish`), or when the linger is over.
        finish(head: head, body: body, keepAlive: false, requestEnded: false, context: context)
        let channel = context.channel
        responseWritten?.whenComplete { _ in
            // HTTP/2 streams cannot half-close: the stream is reset, after its response.
            channel.close(mode: .output).whenFailure { _ in channel.close(promise: nil) }
            channel.eventLoop.scheduleTask(in: Self.bodyTooLargeLinger) { channel.close(promise: nil) }
        }
    }

    /// Keeps a body part that went upstream, while the whole body fits the replay buffer.
    private static func remember(_ part: ByteBuffer, in exchange: Exchange) {
        guard exchange.replayable else { return }
        guard exchange.sentBytes + part.readableBytes <= maximumReplayedBody else {
            exchange.replayable = false
            exchange.sent = []
            exchange.sentBytes = 0
            return
        }
        exchange.sent.append(part)
        exchange.sentBytes += part.readableBytes
    }

    private static func cancelTimers(_ exchange: Exchange) {
        exchange.deadline = nil
        exchange.attemptTimeout?.cancel()
        exchange.idleTimeout?.cancel()
    }

    // MARK: - Retries

    /// After a failed attempt: schedules the next one when the route's policy, the deadline and the
    /// budget allow it, and tells the breaker how this one went. False when the failure is final
    /// (the caller answers, and settles with `outcome`).
    private func retry(_ exchange: Exchange, after outcome: AttemptOutcome) -> Bool {
        guard !exchange.usingFallback, let context else { return false }
        let now = ContinuousClock.now
        let request = RetryRequest(
            method: exchange.head.method.rawValue,
            hasIdempotencyKey: exchange.head.headers.contains(name: "idempotency-key"),
            bodyIsReplayable: exchange.replayable
        )
        let timeout = exchange.route.timeouts.request
        let remaining: Duration? = timeout > .zero ? timeout - (now - exchange.started) : nil
        let policy = exchange.policies.retryPolicy
        let attempt = exchange.attempt
        var random = SystemRandomNumberGenerator()
        let decision = exchange.policies.retryBudget.withLock { budget in
            policy.decide(after: outcome, attempt: attempt, request: request, remaining: remaining, budget: &budget, now: now, using: &random)
        }
        guard case .retry(let wait) = decision else {
            if case .giveUp(.budgetExhausted) = decision { exchange.policies.metrics.retryRefusedByBudget() }
            return false
        }
        exchange.policies.metrics.retried()
        exchange.attemptTimeout?.cancel()
        exchange.attemptTimeout = nil
        exchange.policies.record(outcome, duration: now - exchange.attemptStarted, permit: exchange.permit)
        exchange.permit = nil
        if exchange.holdsRetry { exchange.policies.retryBudget.retryFinished() }
        exchange.holdsRetry = true
        exchange.attempt += 1
        exchange.buffered = exchange.sent + exchange.buffered
        exchange.bufferedBytes += exchange.sentBytes
        exchange.sent = []
        exchange.sentBytes = 0
        exchange.responseStarted = false
        exchange.reusedConnection = false
        let serial = exchange.serial
        current = .connecting(exchange)
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(wait)) { [weak self] in
            self?.startRetry(serial: serial)
        }
        return true
    }

    /// The retry's turn: the breaker is asked again (it may have opened meanwhile), then it connects.
    private func startRetry(serial: UInt64) {
        guard case .connecting(let exchange) = current, exchange.serial == serial, let context else { return }
        if let breaker = exchange.policies.breaker {
            switch breaker.acquire(now: .now) {
            case .allowed(let permit, let transition):
                exchange.policies.breakerChanged(transition)
                exchange.permit = permit
            case .rejected(let retryAfter):
                Self.cancelTimers(exchange)
                settle(exchange, nil)
                current = .connecting(exchange)
                var problem = Problem(kind: .circuitOpen, detail: "the circuit breaker for \(exchange.target) opened before retry \(exchange.attempt - 1)", instance: exchange.requestID)
                problem.retryAfter = retryAfter
                fail(problem, exchange: exchange, context: context)
                return
            }
        }
        exchange.attemptStarted = .now
        current = .connecting(exchange)
        connect()
    }

    /// The current attempt ran out of `timeouts.perTry`.
    private func attemptTimedOut(serial: UInt64, attempt: Int) {
        guard let context else { return }
        switch current {
        case .connecting(let exchange) where exchange.serial == serial && exchange.attempt == attempt:
            if retry(exchange, after: .timeout) { return }
            Self.cancelTimers(exchange)
            settle(exchange, .timeout)
            current = .connecting(exchange)
            fail(Problem(kind: .timeout, detail: "no connection to \(exchange.target) within the per-try timeout \(exchange.route.timeouts.perTry ?? .zero)", instance: exchange.requestID), exchange: exchange, context: context)
        case .forwarding(let exchange, let upstream) where exchange.serial == serial && exchange.attempt == attempt && !exchange.responseStarted:
            detach(exchange)
            upstream.close(promise: nil)
            if retry(exchange, after: .timeout) { return }
            Self.cancelTimers(exchange)
            settle(exchange, .timeout)
            current = .forwarding(exchange, upstream: upstream)
            fail(Problem(kind: .timeout, detail: "no answer from \(exchange.target) within the per-try timeout \(exchange.route.timeouts.perTry ?? .zero)", instance: exchange.requestID), exchange: exchange, context: context)
        default:
            break
        }
    }

    /// Ends a request that moved no byte for `timeouts.idle`; otherwise looks again when it could.
    private func checkIdle(serial: UInt64) {
        guard let context else { return }
        let exchange: Exchange
        switch current {
        case .connecting(let current) where current.serial == serial: exchange = current
        case .forwarding(let current, _) where current.serial == serial: exchange = current
        default: return
        }
        let idle = TimeAmount(exchange.route.timeouts.idle)
        let quiet = NIODeadline.now() - lastActivity
        guard quiet >= idle else {
            let next = context.eventLoop.assumeIsolated().scheduleTask(in: idle - quiet) { [weak self] () -> Void in self?.checkIdle(serial: serial) }
            switch current {
            case .connecting(let exchange):
                exchange.idleTimeout = next
                current = .connecting(exchange)
            case .forwarding(let exchange, let upstream):
                exchange.idleTimeout = next
                current = .forwarding(exchange, upstream: upstream)
            default:
                next.cancel()
            }
            return
        }
        timedOut(detail: "no byte moved for \(exchange.route.timeouts.idle)")
    }

    /// Answers a request that failed before any response reached the client: the route's static
    /// fallback response when it has one, else the problem.
    private func fail(_ problem: Problem, exchange: Exchange, context: ChannelHandlerContext) {
        if case .response(let status, let contentType, let body)? = exchange.route.fallback {
            responded(exchange, status: status, problem: problem.kind)
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: contentType)
            headers.add(name: "content-length", value: String(body.utf8.count))
            headers.add(name: "x-request-id", value: exchange.requestID)
            if !exchange.keepAlive { headers.add(name: "connection", value: "close") }
            let head = HTTPResponseHead(version: exchange.head.version, status: HTTPResponseStatus(statusCode: status), headers: headers)
            finish(head: head, body: ByteBuffer(string: body), keepAlive: exchange.keepAlive, requestEnded: exchange.requestEnded, context: context)
            return
        }
        responded(exchange, status: Int(problem.kind.status.code), problem: problem.kind)
        let (head, body) = problem.response(version: exchange.head.version, keepAlive: exchange.keepAlive)
        finish(head: head, body: body, keepAlive: exchange.keepAlive, requestEnded: exchange.requestEnded, context: context)
    }

    /// Counts the response in the route's metrics and writes the access log record (the path without
    /// its query, which may carry a client's credentials).
    private func responded(_ exchange: Exchange, status: Int, problem: Problem.Kind? = nil) {
        let elapsed = ContinuousClock.now - exchange.started
        exchange.policies.metrics.responded(status: status, after: elapsed)
        accessLog?.info(
            "request",
            metadata: [
                "request_id": "\(exchange.requestID)", "client": "\(clientAddress ?? "-")", "method": "\(exchange.head.method.rawValue)",
                "path": "\(exchange.head.uri.split(separator: "?", maxSplits: 1).first ?? "")", "route": "\(exchange.route.key)", "upstream": "\(exchange.target)", "status": "\(status)",
                "attempts": "\(exchange.attempt)", "duration_ms": "\(Double(elapsed.components.attoseconds / 1_000_000_000_000) / 1000 + Double(elapsed.components.seconds) * 1000)",
                "problem": "\(problem.map { Problem.typeBase + $0.rawValue } ?? "-")",
            ]
        )
    }

    // MARK: - Upstream side

    private func connect() {
        guard case .connecting(let exchange) = current, let context else { return }
        let connectTimeout = TimeAmount(exchange.route.timeouts.connect)
        let (serial, attempt) = (exchange.serial, exchange.attempt)
        if let perTry = exchange.route.timeouts.perTry, exchange.attemptTimeout == nil {
            exchange.attemptTimeout = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(perTry)) { [weak self] in
                self?.attemptTimedOut(serial: serial, attempt: attempt)
            }
            current = .connecting(exchange)
        }
        // The pool connects on this loop, so the callback runs here too.
        pool.lease(exchange.target, destinations: state.snapshot.destinations, connectTimeout: connectTimeout, fresh: exchange.reusedConnection) {
            [weak self] result in
            guard let self, case .connecting(let exchange) = self.current, exchange.serial == serial, exchange.attempt == attempt else {
                // An attempt that timed out or a request that ended meanwhile.
                if case .success(let lease) = result { lease.channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let lease): self.connected(lease)
            case .failure(let error): self.connectFailed(error)
            }
        }
    }

    private func connected(_ lease: UpstreamLease) {
        let upstream = lease.channel
        guard case .connecting(let exchange) = current, let context else {
            // The request was answered (timeout) or the client left while connecting.
            upstream.close(promise: nil)
            return
        }
        lease.handler.exchange = self
        exchange.upstreamHandler = lease.handler
        let head = ForwardedRequest.upstreamHead(
            exchange.head,
            route: exchange.route,
            clientAddress: clientAddress,
            inboundScheme: inboundScheme,
            requestID: exchange.requestID,
            credentialHeaders: exchange.credentialHeaders
        )
        upstream.write(HTTPClientRequestPart.head(head), promise: nil)
        for part in exchange.buffered {
            upstream.write(HTTPClientRequestPart.body(.byteBuffer(part)), promise: nil)
            Self.remember(part, in: exchange)
        }
        if exchange.requestEnded { upstream.write(HTTPClientRequestPart.end(nil), promise: nil) }
        upstream.flush()
        exchange.buffered = []
        exchange.bufferedBytes = 0
        exchange.reusedConnection = lease.reused
        current = .forwarding(exchange, upstream: upstream)
        resumeClientReads(context)
    }

    private func connectFailed(_ error: any Error) {
        guard case .connecting(let exchange) = current, let context else { return }
        // An upstream that does not speak HTTP/2 will not start to on the next attempt, nor will a refused address
        // become allowed; a refusal says nothing about the upstream's health, so the breaker is not told.
        let mismatch = (error as? UpstreamHTTP2Error)?.isProtocolMismatch == true
        let refused = error is UpstreamDestinationRefused
        if !mismatch, !refused, retry(exchange, after: .connectFailure) { return }
        settle(exchange, refused ? nil : .connectFailure)
        let problem =
            if mismatch {
                Problem(kind: .upstreamProtocolError, detail: "\(exchange.target) was configured as an HTTP/2 upstream, but \(error)", instance: exchange.requestID)
            } else if refused {
                Problem(kind: .upstreamDestinationRefused, detail: "the gateway may not connect to the address of \(exchange.target)", instance: exchange.requestID)
            } else {
                Problem(kind: .upstreamUnreachable, detail: "could not connect to \(exchange.target) after \(exchange.attempt) attempt\(exchange.attempt == 1 ? "" : "s"): \(error)", instance: exchange.requestID)
            }
        if fallBack(exchange) {
            exchange.settled = false
            exchange.holdsSlot = false
            exchange.countedInBudget = false
            exchange.holdsRetry = false
            current = .connecting(exchange)
            authorize()
            return
        }
        Self.cancelTimers(exchange)
        current = .connecting(exchange)
        fail(problem, exchange: exchange, context: context)
    }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard case .forwarding(let exchange, let upstream) = current, let context else { return }
        switch part {
        case .head(let head):
            guard head.status.code >= 200 || head.status == .switchingProtocols else { return }  // 1xx are not forwarded
            lastActivity = .now()
            if head.status == .switchingProtocols {
                guard exchange.head.headers.contains(name: "upgrade") else { return }  // an unasked-for 101 is ignored like other 1xx
                return switchProtocols(exchange, response: head, upstream: upstream, context: context)
            }
            if exchange.target.httpProtocol == .http2, let name = ForwardedRequest.headerWithControlCharacter(in: head.headers) {
                return upstreamSentControlCharacter(in: name, exchange: exchange, upstream: upstream, context: context)
            }
            if head.status == .unauthorized, retryAfterUnauthorized(exchange, upstream: upstream) { return }
            let status = Int(head.status.code)
            let policy = exchange.policies.retryPolicy
            if !exchange.usingFallback, policy.isRetriable(.response(status: status)) {
                let retryAfter = policy.wantsRetryAfter(status: status)
                    ? head.headers.first(name: "retry-after").flatMap { RetryAfter.parse($0, nowSecondsSince1970: Int64(Date().timeIntervalSince1970)) }
                    : nil
                if retry(exchange, after: .response(status: status, retryAfter: retryAfter)) {
                    // The response is dropped with its connection; the next attempt goes on a new one.
                    detach(exchange)
                    upstream.close(promise: nil)
                    return
                }
            }
            exchange.attemptTimeout?.cancel()
            exchange.attemptTimeout = nil
            responded(exchange, status: status)
            exchange.responseStarted = true
            exchange.upstreamKeepAlive = head.isKeepAlive
            settle(exchange, .response(status: Int(head.status.code)))
            current = .forwarding(exchange, upstream: upstream)
            var clientHead = ForwardedRequest.clientHead(head, requestID: exchange.requestID, keepAlive: exchange.keepAlive)
            clientHead.version = exchange.head.version
            context.write(wrapOutboundOut(.head(clientHead)), promise: nil)
        case .body(let body):
            lastActivity = .now()
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if !context.channel.isWritable {
                upstream.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
            }
        case .end(let trailers):
            Self.cancelTimers(exchange)
            let handler = exchange.upstreamHandler
            detach(exchange)
            if exchange.requestEnded && exchange.upstreamKeepAlive, let handler {
                pool.release(UpstreamLease(channel: upstream, handler: handler, reused: true), target: exchange.target)
            } else {
                // The upstream closes it, or answered before the whole request arrived: not reusable.
                upstream.close(promise: nil)
            }
            current = exchange.requestEnded ? .idle : .draining(keepAlive: exchange.keepAlive)
            guard !exchange.keepAlive else {
                context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
                return
            }
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// An HTTP/2 upstream's response header carries a control character, which the gateway does not forward:
    /// a 502 that the breaker counts, without a retry (the upstream would answer the same).
    private func upstreamSentControlCharacter(in name: String, exchange: Exchange, upstream: any Channel, context: ChannelHandlerContext) {
        detach(exchange)
        upstream.close(promise: nil)
        Self.cancelTimers(exchange)
        settle(exchange, .reset)
        current = .forwarding(exchange, upstream: upstream)
        let detail = "\(exchange.target) sent response header \(name) with a control character in its value"
        fail(Problem(kind: .upstreamProtocolError, detail: detail, instance: exchange.requestID), exchange: exchange, context: context)
    }

    /// The upstream switched protocols: the 101 goes to the client, then both pipelines drop their
    /// HTTP handlers (and this one) for a ``ByteRelay`` each. Neither connection is pooled again.
    private func switchProtocols(_ exchange: Exchange, response: HTTPResponseHead, upstream: any Channel, context: ChannelHandlerContext) {
        Self.cancelTimers(exchange)
        settle(exchange, .response(status: 101))
        responded(exchange, status: 101)
        detach(exchange)
        current = .idle
        var head = ForwardedRequest.clientHead(response, requestID: exchange.requestID, keepAlive: true)
        head.version = exchange.head.version
        head.headers.add(name: "connection", value: "upgrade")
        if let protocolName = response.headers.first(name: "upgrade") { head.headers.add(name: "upgrade", value: protocolName) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let requestEnded = exchange.requestEnded
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            let client = context.pipeline.syncOperations
            let server = upstream.pipeline.syncOperations
            do {
                // HTTP handlers that would choke on raw bytes go first, in both directions; decoders
                // last, once the relays are in place, so that bytes they still hold reach them. A
                // decoder may deliver its message's end as it leaves: the relay drops that one message.
                let upstreamHandler = try server.handler(type: UpstreamHandler.self)
                server.removeHandler(upstreamHandler, promise: nil)
                try server.removeHandler(server.handler(type: HTTPRequestEncoder.self), promise: nil)
                try client.removeHandler(client.handler(type: HTTPPipeliningGuard.self), promise: nil)
                client.removeHandler(context: context, promise: nil)
                try client.removeHandler(client.handler(type: HTTPResponseEncoder.self), promise: nil)
                try server.addHandler(ByteRelay(peer: context.channel, discardingFirst: !upstreamHandler.responseEnded))
                try client.addHandler(ByteRelay(peer: upstream, discardingFirst: !requestEnded))
                // Bytes a leaving decoder hands over arrive without a read-complete: flush them once it left.
                let clientChannel = context.channel
                try server.removeHandler(server.handler(type: ByteToMessageHandler<HTTPResponseDecoder>.self)).whenComplete { _ in clientChannel.flush() }
                try client.removeHandler(client.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)).whenComplete { _ in upstream.flush() }
                upstream.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            } catch {
                upstream.close(promise: nil)
                context.close(promise: nil)
            }
        }
    }

    /// After an upstream 401: drops the rejected credential values, and when one will differ and the
    /// request can be sent again (all of it arrived, and its body fitted the replay buffer), sends it once
    /// more on a new connection.
    private func retryAfterUnauthorized(_ exchange: Exchange, upstream: any Channel) -> Bool {
        guard !exchange.retriedAfterUnauthorized, !exchange.credentialHeaders.isEmpty else { return false }
        // Dropped even when this request cannot go again, so that the next ones get new values.
        var renewed = false
        for (binding, header) in zip(exchange.route.credentials, exchange.credentialHeaders) {
            renewed = binding.credential.rejected(headerValue: header.value) || renewed
        }
        guard renewed, exchange.requestEnded, exchange.replayable else { return false }
        exchange.retriedAfterUnauthorized = true
        exchange.reusedConnection = false
        exchange.buffered = exchange.sent
        exchange.bufferedBytes = exchange.sentBytes
        exchange.sent = []
        exchange.sentBytes = 0
        detach(exchange)
        upstream.close(promise: nil)
        current = .connecting(exchange)
        authorize()
        return true
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(_ writable: Bool) {
        // The upstream caught up: read the client's request body again.
        if writable, case .forwarding = current, let context { resumeClientReads(context) }
    }

    func upstreamClosed(_ error: (any Error)?) {
        guard case .forwarding(let exchange, let upstream) = current, let context else { return }
        detach(exchange)
        if let refused = error as? UpstreamStreamRefused, !exchange.responseStarted {
            if refused.lastStreamID != nil, !exchange.resentAfterGoAway, exchange.replayable {
                // A GOAWAY is how HTTP/2 servers retire connections (after so many requests, or to shut down):
                // the streams it left unprocessed go again at once on another connection, once, within the
                // same attempt and without taking from the retry budget, as HTTP/1.1 requests do when a
                // pooled connection was closed under them.
                exchange.resentAfterGoAway = true
                exchange.buffered = exchange.sent + exchange.buffered
                exchange.bufferedBytes += exchange.sentBytes
                exchange.sent = []
                exchange.sentBytes = 0
                current = .connecting(exchange)
                connect()
                return
            }
            // The upstream did not process it: the retry policy may send it again, whatever its method.
            if retry(exchange, after: .refusedStream) { return }
            Self.cancelTimers(exchange)
            settle(exchange, .refusedStream)
            current = .forwarding(exchange, upstream: upstream)
            let detail = "\(exchange.target) \(refused) after \(exchange.attempt) attempt\(exchange.attempt == 1 ? "" : "s")"
            fail(Problem(kind: .upstreamUnreachable, detail: detail, instance: exchange.requestID), exchange: exchange, context: context)
            return
        }
        if exchange.reusedConnection && !exchange.responseStarted && exchange.replayable && exchange.requestEnded
            && Self.idempotentMethods.contains(exchange.head.method)
        {
            // A pooled connection the upstream closed while it sat idle: the request can go again on a fresh one.
            exchange.buffered = exchange.sent
            exchange.bufferedBytes = exchange.sentBytes
            exchange.sent = []
            exchange.sentBytes = 0
            current = .connecting(exchange)
            connect()
            return
        }
        if !exchange.responseStarted, retry(exchange, after: .reset) { return }
        Self.cancelTimers(exchange)
        settle(exchange, .reset)
        if exchange.responseStarted {
            // Part of the response is already with the client; the only honest signal left is to close.
            current = .idle
            context.close(promise: nil)
            return
        }
        let detail: String
        if let error = error as? UpstreamHTTP2Error, case .pingTimeout = error.code {
            detail = "the connection to \(exchange.target) died before it answered: \(error)"
        } else {
            detail = "\(exchange.target) closed the connection before answering: \(error.map { "\($0)" } ?? "the connection closed")"
        }
        current = .forwarding(exchange, upstream: upstream)
        fail(
            Problem(kind: .upstreamProtocolError, detail: detail, instance: exchange.requestID),
            exchange: exchange,
            context: context
        )
    }

    /// Makes sure the deadline check fires by `deadline`: a check already due by then is kept.
    private func checkDeadline(at deadline: NIODeadline, context: ChannelHandlerContext) {
        if deadlineCheck != nil && deadlineCheckAt <= deadline { return }
        deadlineCheck?.cancel()
        deadlineCheckAt = deadline
        deadlineCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.deadlineCheckFired()
        }
    }

    /// The deadline check's time: the request in flight times out if its deadline passed, else the
    /// check is set again for its deadline; with none in flight, nothing is set.
    private func deadlineCheckFired() {
        deadlineCheck = nil
        deadlineCheckAt = .distantFuture
        guard let context else { return }
        switch current {
        case .connecting(let exchange), .forwarding(let exchange, _):
            guard let deadline = exchange.deadline else { return }
            if NIODeadline.now() >= deadline {
                requestTimedOut()
            } else {
                checkDeadline(at: deadline, context: context)
            }
        case .idle, .draining:
            break
        }
    }

    private func requestTimedOut() {
        switch current {
        case .connecting(let exchange), .forwarding(let exchange, _):
            timedOut(detail: "no answer from \(exchange.target) within \(exchange.route.timeouts.request)")
        case .idle, .draining:
            break
        }
    }

    /// Ends the request in flight: 504 when no response has started, else the connection closes.
    private func timedOut(detail: String) {
        guard let context else { return }
        switch current {
        case .connecting(let exchange):
            Self.cancelTimers(exchange)
            settle(exchange, .timeout)
            current = .connecting(exchange)
            fail(Problem(kind: .timeout, detail: detail, instance: exchange.requestID), exchange: exchange, context: context)
        case .forwarding(let exchange, let upstream):
            Self.cancelTimers(exchange)
            detach(exchange)
            upstream.close(promise: nil)
            settle(exchange, .timeout)
            if exchange.responseStarted {
                current = .idle
                context.close(promise: nil)
            } else {
                current = .forwarding(exchange, upstream: upstream)
                fail(Problem(kind: .timeout, detail: detail, instance: exchange.requestID), exchange: exchange, context: context)
            }
        case .idle, .draining:
            break
        }
    }

    /// Stops the exchange's upstream connection from handing this handler its responses: the connection is
    /// being released, closed, or taken over.
    private func detach(_ exchange: Exchange) {
        if let handler = exchange.upstreamHandler, handler.exchange === self { handler.exchange = nil }
        exchange.upstreamHandler = nil
    }

    /// Answers with a problem before any route was chosen.
    private func respond(_ problem: Problem, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        accessLog?.info(
            "request",
            metadata: [
                "request_id": "\(problem.instance)", "client": "\(clientAddress ?? "-")", "status": "\(problem.kind.status.code)",
                "problem": "\(Problem.typeBase + problem.kind.rawValue)", "detail": "\(problem.detail)",
            ]
        )
        let (head, body) = problem.response(version: version, keepAlive: keepAlive)
        finish(head: head, body: body, keepAlive: keepAlive, requestEnded: false, context: context)
    }

    /// Sends a complete response the gateway made; the rest of the request body, if any, is read and dropped.
    private func finish(head: HTTPResponseHead, body: ByteBuffer, keepAlive: Bool, requestEnded: Bool, context: ChannelHandlerContext) {
        if case .connecting(let exchange) = current { Self.cancelTimers(exchange) }
        if case .forwarding(let exchange, _) = current { Self.cancelTimers(exchange) }
        current = requestEnded ? .idle : .draining(keepAlive: keepAlive)
        resumeClientReads(context)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        guard !keepAlive else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        guard requestEnded else {
            // Closed when the request's end arrives, once this went out (``closeOnceWritten(_:)``).
            responseWritten = written
            return
        }
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Closes the connection once the response the gateway wrote itself went out: closing at once would
    /// drop what the socket had not taken yet.
    private func closeOnceWritten(_ context: ChannelHandlerContext) {
        guard let written = responseWritten else { return context.close(promise: nil) }
        responseWritten = nil
        written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// Stops reading the client (its request body waits in the socket) until ``resumeClientReads(_:)``.
    private func pauseClientReads(_ context: ChannelHandlerContext) {
        guard !clientReadsPaused else { return }
        clientReadsPaused = true
        context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
    }

    /// Reads the client again if ``pauseClientReads(_:)`` stopped it; nothing (no option set, no
    /// future) when it was not paused, as for nearly every request.
    private func resumeClientReads(_ context: ChannelHandlerContext) {
        guard clientReadsPaused else { return }
        clientReadsPaused = false
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
    }
}

@available(*, unavailable)
extension GatewayHandler: Sendable {}

/// Relays bytes to a peer channel after a protocol upgrade, with backpressure both ways: while the
/// peer cannot take more, this side is not read. Either side closing closes the other.
final class ByteRelay: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let peer: any Channel
    /// Whether the first message is the HTTP message end a leaving decoder still owed, not bytes.
    private var discardingFirst: Bool

    init(peer: any Channel, discardingFirst: Bool) {
        self.peer = peer
        self.discardingFirst = discardingFirst
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if discardingFirst {
            discardingFirst = false
            return
        }
        peer.write(unwrapInboundIn(data), promise: nil)
        if !peer.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in } }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        peer.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { peer.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in } }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

@available(*, unavailable)
extension ByteRelay: Sendable {}

/// Why a route's credential could not be had: which one, and the provider's error (which names no token).
struct CredentialFailure: Error {
    var name: String
    var error: any Error
}

extension GatewayHandler {
    /// Methods that may be sent twice (RFC 9110 §9.2.2).
    static let idempotentMethods: [HTTPMethod] = [.GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE]
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
