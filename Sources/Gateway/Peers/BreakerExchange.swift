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
/// - Sending: ``run()`` takes each local transition to Open, or to Closed after successful probes, and posts
///   it to every peer at once (``BreakerTransitionMessage``, mutual TLS with ``PeerTLS``), one transition
///   after the other so that each peer sees a route's transitions in order. A peer that cannot be reached is
///   skipped for ``Configuration/unreachableBackoff``, so it cannot hold the others up; it keeps its own
///   state meanwhile, as this replica keeps its own when cut off from the rest.
/// - Receiving: the admin port hands verified peers' posts to ``receive(_:)``, which forces the same route's
///   breaker into the sent state when this replica serves the route with a shared breaker of the same
///   settings. Transitions that came from peers are never sent on, so peers do not echo them.
///
/// Metrics: `portcullis_gateway_breaker_peer_messages_total{outcome}` with `sent` (a peer accepted one),
/// `failed` (a peer could not be reached, refused the connection, or was skipped), `received` (a peer's
/// message arrived) and `rejected` (one that was malformed).
public final class BreakerExchange: Sendable {
    /// Timeouts of the exchange.
    public struct Configuration: Sendable, Hashable {
        /// The longest a connection to a peer may take to open. Default 300 ms.
        public var connectTimeout: Duration
        /// The longest a peer may take to answer once connected, TLS handshake included. Default 500 ms.
        public var exchangeTimeout: Duration
        /// How long a peer that could not be reached is skipped before the next try. Default 2 s.
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
    private let sent: Counter
    private let failed: Counter
    private let received: Counter
    private let rejected: Counter

    private struct PeerStatus {
        var peer: BreakerPeer
        var reachable = true
        var skipUntil: ContinuousClock.Instant?
        var lastError: String?
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

    /// The replicas to send to from now on; this replica itself is left out.
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
    }

    /// The current peers.
    public var currentPeers: [BreakerPeer] { peers.withLock { $0.values.map(\.peer) }.sorted { $0.identity < $1.identity } }

    /// Sends this replica's shared transitions to its peers until the task is cancelled.
    public func run() async {
        let transitions = state.breakerOutbox.listen(as: identity)
        for await message in transitions {
            let body: ByteBuffer
            do {
                body = ByteBuffer(bytes: try JSONEncoder().encode(message))
            } catch {
                logger.error("a breaker transition cannot be encoded", metadata: ["route": "\(message.route)", "error": "\(error)"])
                continue
            }
            let now = ContinuousClock.now
            let (targets, skipped) = peers.withLock { peers in
                let due = peers.values.filter { status in status.skipUntil.map { now >= $0 } ?? true }.map(\.peer)
                return (due, peers.count - due.count)
            }
            if skipped > 0 {
                failed.increment(by: skipped)
                logger.debug("breaker transition not sent to unreachable peers", metadata: ["route": "\(message.route)", "skipped": "\(skipped)"])
            }
            await withTaskGroup(of: Void.self) { group in
                for peer in targets {
                    group.addTask { await self.send(body, message: message, to: peer) }
                }
            }
        }
    }

    private func send(_ body: ByteBuffer, message: BreakerTransitionMessage, to peer: BreakerPeer) async {
        guard let context = tls.client else {
            failed.increment()
            markUnreachable(peer, because: "this replica has no peer certificate yet")
            return
        }
        do {
            let (status, text) = try await client.post(body, path: Self.path, to: peer, tls: context)
            switch status.code {
            case 200..<300:
                sent.increment()
                markReachable(peer)
                logger.debug("breaker transition sent", metadata: ["route": "\(message.route)", "state": "\(message.state)", "peer": "\(peer.identity)"])
            case 404, 409:
                // Reached, but the peer does not serve the route the same way (a rollout in progress).
                sent.increment()
                markReachable(peer)
                logger.debug("a peer did not apply a breaker transition", metadata: ["route": "\(message.route)", "peer": "\(peer.identity)", "reason": "\(text.trimmingCharacters(in: .whitespacesAndNewlines))"])
            default:
                failed.increment()
                markUnreachable(peer, because: "it answered \(status.code): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
            }
        } catch {
            failed.increment()
            markUnreachable(peer, because: "\(error)")
        }
    }

    /// Logs a peer going unreachable once (warning), then at debug until it is reachable again.
    private func markUnreachable(_ peer: BreakerPeer, because reason: String) {
        let until = ContinuousClock.now + configuration.unreachableBackoff
        let wasReachable = peers.withLock { peers -> Bool in
            guard var status = peers[peer.identity], status.peer == peer else { return false }
            defer {
                status.reachable = false
                status.skipUntil = until
                status.lastError = reason
                peers[peer.identity] = status
            }
            return status.reachable
        }
        let metadata: Logger.Metadata = ["peer": "\(peer.identity)", "address": "\(peer.address)", "error": "\(reason)"]
        if wasReachable {
            logger.warning("cannot send breaker transitions to a peer replica; each keeps its own breaker state until it is reachable", metadata: metadata)
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
            var description: [String: Any] = ["replica": status.peer.identity, "address": status.peer.address, "reachable": status.reachable]
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
