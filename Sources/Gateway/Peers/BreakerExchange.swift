public import CoreMetrics
import Foundation
public import Logging
public import NIOCore
import NIOHTTP1
import Resilience
public import NIOPosix
import Synchronization

/// Shares circuit-breaker transitions between gateway replicas, for Routes whose `circuitBreaker.scope` is
/// `Shared`: a breaker that opens here opens on every peer, and one whose half-open probes succeed here
/// closes on every peer.
///
/// - Sending: ``run()`` takes each local transition to Open, or to Closed after successful probes, and queues
///   it for every peer (``BreakerTransitionMessage``, mutual TLS with ``PeerTLS``). Each peer has its own
///   queue that holds the latest transition of each route, so a flapping breaker cannot grow it, and its own
///   sender, so a slow peer holds no other up; a peer sees a route's transitions in order.
/// - Making up for what was lost: a post that fails leaves the message queued, and the peer is tried again
///   after ``Configuration/unreachableBackoff`` (it keeps its own state meanwhile, as this replica keeps its
///   own when cut off). A peer that appears in the peer list (a new or restarted replica), and one that was
///   unreachable, is also sent every shared breaker that this replica's own calls opened and that is still
///   open, with what is left of its open period. A message that waited is brought up to date before it goes:
///   an Open one whose breaker closed or half-opened meanwhile is dropped.
/// - Receiving: the admin port hands verified peers' posts to ``receive(_:)``, which forces the same route's
///   breaker into the sent state when this replica serves the route with a shared breaker of the same
///   settings. Transitions that came from peers are never sent on, and a breaker that follows a peer is never
///   part of what a new peer is told, so peers do not echo them.
///
/// One connection per message, as ``PeerClient`` argues: transitions are rare, and a catch-up sends only the
/// breakers open on this replica's own calls.
///
/// Metrics: `portcullis_gateway_breaker_peer_messages_total{outcome}` with `sent` (a peer accepted one),
/// `failed` (a post could not be delivered: the peer could not be reached, refused the connection, or
/// answered with an error; the message waits for the retry), `received` (a peer's message arrived) and
/// `rejected` (one that was malformed).
public final class BreakerExchange: Sendable {
    /// Timeouts of the exchange.
    public struct Configuration: Sendable, Hashable {
        /// The longest a connection to a peer may take to open. Default 300 ms.
        public var connectTimeout: Duration
        /// The longest a peer may take to answer once connected, TLS handshake included. Default 500 ms.
        public var exchangeTimeout: Duration
        /// How long after a failed post a peer is tried again. Default 2 s.
        public var unreachableBackoff: Duration

        public init(connectTimeout: Duration = .milliseconds(300), exchangeTimeout: Duration = .milliseconds(500), unreachableBackoff: Duration = .seconds(2)) {
            self.connectTimeout = connectTimeout
            self.exchangeTimeout = exchangeTimeout
            self.unreachableBackoff = unreachableBackoff
        }
    }

    /// Where peers post transitions on the admin port.
    public static let path = "/peer/v1/breaker-transitions"

    /// This replica's identity, as its peers know it.
    public let identity: String
    /// The certificate and CA of the exchange; the controller loads them from the peer Secret.
    public let tls: PeerTLS
    private let state: GatewayState
    private let client: PeerClient
    private let configuration: Configuration
    private let logger: Logger
    private let peers = Mutex<[String: PeerStatus]>([:])
    /// Wakes ``run()`` to start senders for peers with something to send.
    private let wake = Mutex<AsyncStream<Void>.Continuation?>(nil)
    private let sent: Counter
    private let failed: Counter
    private let received: Counter
    private let rejected: Counter

    private struct PeerStatus {
        var peer: BreakerPeer
        var reachable = true
        /// When the peer may be tried again after a failed post.
        var skipUntil: ContinuousClock.Instant?
        var lastError: String?
        /// The latest transition of each route not yet delivered to the peer.
        var pending: [RouteKey: BreakerTransitionMessage] = [:]
        /// Whether the peer is to be told this replica's own open breakers: it is new, or was unreachable.
        var catchUp = true
        /// Whether a sender works for this peer now.
        var sending = false

        var hasWork: Bool { catchUp || !pending.isEmpty }
    }

    /// - Parameters:
    ///   - identity: This replica's identity: its Lease's holder, so peers can be told from it.
    ///   - state: The gateway state whose breakers are shared.
    ///   - tls: The peer certificate; empty until the controller loads it.
    ///   - group: Where connections to peers run.
    ///   - metricsFactory: Where the exchange's counters go. Default: the process's `MetricsSystem.factory`.
    public init(
        identity: String,
        state: GatewayState,
        tls: PeerTLS = PeerTLS(),
        configuration: Configuration = Configuration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.identity = identity
        self.state = state
        self.tls = tls
        self.configuration = configuration
        self.client = PeerClient(group: group, connectTimeout: configuration.connectTimeout, exchangeTimeout: configuration.exchangeTimeout)
        self.logger = logger
        let label = "portcullis_gateway_breaker_peer_messages_total"
        sent = Counter(label: label, dimensions: [("outcome", "sent")], factory: metricsFactory)
        failed = Counter(label: label, dimensions: [("outcome", "failed")], factory: metricsFactory)
        received = Counter(label: label, dimensions: [("outcome", "received")], factory: metricsFactory)
        rejected = Counter(label: label, dimensions: [("outcome", "rejected")], factory: metricsFactory)
    }

    /// The replicas to send to from now on; this replica itself is left out. A peer that is new, or whose
    /// address changed, is told this replica's own open breakers.
    public func updatePeers(_ new: [BreakerPeer]) {
        let (added, removed) = peers.withLock { peers -> ([BreakerPeer], [BreakerPeer]) in
            var next: [String: PeerStatus] = [:]
            for peer in new where peer.identity != identity {
                next[peer.identity] = peers[peer.identity].flatMap { $0.peer == peer ? $0 : nil } ?? PeerStatus(peer: peer)
            }
            let added = next.values.filter { peers[$0.peer.identity]?.peer != $0.peer }.map(\.peer)
            let removed = peers.values.filter { next[$0.peer.identity]?.peer != $0.peer }.map(\.peer)
            peers = next
            return (added, removed)
        }
        for peer in added { logger.info("breaker peer", metadata: ["peer": "\(peer.identity)", "address": "\(peer.address)"]) }
        for peer in removed { logger.info("breaker peer gone", metadata: ["peer": "\(peer.identity)", "address": "\(peer.address)"]) }
        if !added.isEmpty { wake.withLock { $0 }?.yield() }
    }

    /// The current peers.
    public var currentPeers: [BreakerPeer] { peers.withLock { $0.values.map(\.peer) }.sorted { $0.identity < $1.identity } }

    /// Sends this replica's shared transitions to its peers until the task is cancelled.
    public func run() async {
        let transitions = state.breakerOutbox.listen(as: identity)
        let (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        self.wake.withLock { $0 = wake }
        // Senders of an earlier run ended with it.
        peers.withLock { peers in
            for identity in peers.keys { peers[identity]?.sending = false }
        }
        wake.yield()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await message in transitions { self.enqueue(message) }
                // A newer run took over the outbox.
                wake.finish()
            }
            // Ends when the task is cancelled (which ends the stream) or the outbox stream ended.
            for await _ in wakes {
                for peer in takeIdlePeersWithWork() {
                    group.addTask { await self.serve(peer) }
                }
            }
            group.cancelAll()
        }
    }

    /// Queues a local transition for every peer: it replaces a transition of the same route still waiting.
    private func enqueue(_ message: BreakerTransitionMessage) {
        let idle = peers.withLock { peers -> Bool in
            var idle = false
            for identity in peers.keys {
                peers[identity]?.pending[message.route] = message
                if peers[identity]?.sending == false { idle = true }
            }
            return idle
        }
        if idle { wake.withLock { $0 }?.yield() }
    }

    /// The peers with something to send and no sender yet, now marked as having one.
    private func takeIdlePeersWithWork() -> [BreakerPeer] {
        peers.withLock { peers in
            var idle: [BreakerPeer] = []
            for (identity, status) in peers where !status.sending && status.hasWork {
                peers[identity]?.sending = true
                idle.append(status.peer)
            }
            return idle
        }
    }

    /// What to send `peer` next, taken from its queue, with this replica's own open breakers if it is to be
    /// caught up; `nil` (and the peer has no sender any more) when there is nothing, or it is no longer a peer.
    private func takeWork(for peer: BreakerPeer) -> [BreakerTransitionMessage]? {
        // Read before the lock: the gateway's breakers are not read under the peers' lock.
        let needsCatchUp = peers.withLock { $0[peer.identity].map { $0.peer == peer && $0.catchUp } ?? false }
        let own = needsCatchUp ? state.ownOpenBreakers(sender: identity) : [:]
        let (work, again) = peers.withLock { peers -> ([BreakerTransitionMessage]?, Bool) in
            guard var status = peers[peer.identity], status.peer == peer else { return (nil, false) }
            var work = status.pending
            if status.catchUp && needsCatchUp {
                work.merge(own) { queued, _ in queued }
                status.catchUp = false
            }
            status.pending = [:]
            status.sending = !work.isEmpty
            peers[peer.identity] = status
            // A catch-up asked for between the two looks: the next sender does it.
            return work.isEmpty ? (nil, status.hasWork) : (work.keys.sorted().compactMap { work[$0] }, false)
        }
        if again { wake.withLock { $0 }?.yield() }
        return work
    }

    /// Sends `peer` what waits for it until nothing does, retrying after the backoff when a post fails.
    private func serve(_ peer: BreakerPeer) async {
        while !Task.isCancelled {
            let wait = peers.withLock { peers -> Duration? in
                guard let until = peers[peer.identity]?.skipUntil else { return nil }
                let now = ContinuousClock.now
                return until > now ? now.duration(to: until) : nil
            }
            if let wait {
                do { try await Task.sleep(for: wait) } catch { return }
            }
            guard let work = takeWork(for: peer) else { return }
            for (index, queued) in work.enumerated() {
                // Brought up to date: an Open one with what is left of its period, or dropped if it no longer holds.
                guard let message = state.refreshed(queued) else { continue }
                if await !send(message, to: peer) {
                    requeue(work[index...], for: peer)
                    break
                }
            }
        }
    }

    /// Puts back messages that were not delivered, unless a newer transition of the same route is waiting.
    private func requeue(_ messages: ArraySlice<BreakerTransitionMessage>, for peer: BreakerPeer) {
        peers.withLock { peers in
            guard var status = peers[peer.identity], status.peer == peer else { return }
            for message in messages where status.pending[message.route] == nil {
                status.pending[message.route] = message
            }
            peers[peer.identity] = status
        }
    }

    /// Posts one message; whether the peer took it (or answered that it does not apply there).
    private func send(_ message: BreakerTransitionMessage, to peer: BreakerPeer) async -> Bool {
        guard let context = tls.client else {
            failed.increment()
            markUnreachable(peer, because: "this replica has no peer certificate yet")
            return false
        }
        let body: ByteBuffer
        do {
            body = ByteBuffer(bytes: try JSONEncoder().encode(message))
        } catch {
            logger.error("a breaker transition cannot be encoded", metadata: ["route": "\(message.route)", "error": "\(error)"])
            return true
        }
        do {
            let (status, text) = try await client.post(body, path: Self.path, to: peer, tls: context)
            switch status.code {
            case 200..<300:
                sent.increment()
                markReachable(peer)
                logger.debug("breaker transition sent", metadata: ["route": "\(message.route)", "state": "\(message.state)", "peer": "\(peer.identity)"])
                return true
            case 404, 409:
                // Reached, but the peer does not serve the route the same way (a rollout in progress).
                sent.increment()
                markReachable(peer)
                logger.debug("a peer did not apply a breaker transition", metadata: ["route": "\(message.route)", "peer": "\(peer.identity)", "reason": "\(text.trimmingCharacters(in: .whitespacesAndNewlines))"])
                return true
            default:
                failed.increment()
                markUnreachable(peer, because: "it answered \(status.code): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
                return false
            }
        } catch {
            failed.increment()
            markUnreachable(peer, because: "\(error)")
            return false
        }
    }

    /// Logs a peer going unreachable once (warning), then at debug until it is reachable again. It is tried
    /// again after the backoff, and caught up once it answers.
    private func markUnreachable(_ peer: BreakerPeer, because reason: String) {
        let until = ContinuousClock.now + configuration.unreachableBackoff
        let wasReachable = peers.withLock { peers -> Bool in
            guard var status = peers[peer.identity], status.peer == peer else { return false }
            defer {
                status.reachable = false
                status.skipUntil = until
                status.lastError = reason
                status.catchUp = true
                peers[peer.identity] = status
            }
            return status.reachable
        }
        let metadata: Logger.Metadata = ["peer": "\(peer.identity)", "address": "\(peer.address)", "error": "\(reason)"]
        if wasReachable {
            logger.warning("cannot send breaker transitions to a peer replica; it keeps its own breaker state until it is reachable, then it is caught up", metadata: metadata)
        } else {
            logger.debug("a peer replica is still unreachable", metadata: metadata)
        }
    }

    private func markReachable(_ peer: BreakerPeer) {
        let wasUnreachable = peers.withLock { peers -> Bool in
            guard var status = peers[peer.identity], status.peer == peer else { return false }
            defer {
                status.reachable = true
                status.skipUntil = nil
                status.lastError = nil
                peers[peer.identity] = status
            }
            return !status.reachable
        }
        if wasUnreachable { logger.info("a peer replica is reachable again", metadata: ["peer": "\(peer.identity)", "address": "\(peer.address)"]) }
    }

    /// Applies a transition a verified peer posted.
    ///
    /// - Returns: The status and plain-text body to answer with: 200 when applied or already so, 400 for a
    ///   malformed message (naming the field), 404 for a route not served here, 409 for one whose breaker
    ///   is not shared or has other settings.
    func receive(_ body: ByteBuffer) -> (status: HTTPResponseStatus, body: String) {
        received.increment()
        let message: BreakerTransitionMessage
        do {
            message = try BreakerTransitionMessage(json: body.readableBytesView)
        } catch {
            rejected.increment()
            logger.warning("a peer sent a malformed breaker transition", metadata: ["error": "\(error)"])
            return (.badRequest, "breaker transition: \(error)\n")
        }
        guard message.sender != identity else {
            rejected.increment()
            return (.conflict, "breaker transition: sender \(message.sender) is this replica\n")
        }
        switch state.follow(message) {
        case .applied(let transition):
            logger.info(
                "circuit breaker follows a peer replica",
                metadata: ["route": "\(message.route)", "peer": "\(message.sender)", "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)"]
            )
            return (.ok, "applied\n")
        case .unchanged:
            return (.ok, "unchanged\n")
        case .notServed(let reason):
            logger.debug("a peer's breaker transition does not apply here", metadata: ["peer": "\(message.sender)", "reason": "\(reason)"])
            return (.notFound, reason + "\n")
        case .refused(let reason):
            logger.debug("a peer's breaker transition does not apply here", metadata: ["peer": "\(message.sender)", "reason": "\(reason)"])
            return (.conflict, reason + "\n")
        }
    }

    /// `/debug/breakers`: this replica, its peers (and whether they were reachable last time), and every
    /// breaker with its state, since when, failure rate, trips, scope and the peer that last changed it.
    public func describe() -> String {
        let peerList: [[String: Any]] = peers.withLock { $0.values.map { $0 } }.sorted { $0.peer.identity < $1.peer.identity }.map { status in
            var description: [String: Any] = [
                "replica": status.peer.identity, "address": status.peer.address, "reachable": status.reachable, "pending": status.pending.count,
            ]
            if let lastError = status.lastError { description["lastError"] = lastError }
            return description
        }
        let document: [String: Any] = [
            "replica": identity, "certificateLoaded": tls.client != nil, "peers": peerList, "breakers": state.describeBreakers(),
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
