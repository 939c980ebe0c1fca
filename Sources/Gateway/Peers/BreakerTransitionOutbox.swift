import Resilience
import Synchronization

/// Hands the local breaker transitions peers should follow from the request path to the
/// ``BreakerExchange``: a lock and a non-blocking `yield`, only when a breaker changes state. Nothing is
/// kept while no exchange listens.
final class BreakerTransitionOutbox: Sendable {
    private struct Listener {
        var number: UInt64
        var sender: String
        var continuation: AsyncStream<BreakerTransitionMessage>.Continuation
    }

    /// Transitions waiting for the exchange beyond this many are dropped (oldest kept): a storm of that size
    /// means the exchange is stuck, and each replica keeps its own state anyway.
    static let capacity = 1024

    private let listener = Mutex<Listener?>(nil)
    private let listeners = Atomic<UInt64>(0)

    /// The transitions from now on, sent as `sender`; replaces any earlier listener.
    func listen(as sender: String) -> AsyncStream<BreakerTransitionMessage> {
        let (stream, continuation) = AsyncStream<BreakerTransitionMessage>.makeStream(bufferingPolicy: .bufferingOldest(Self.capacity))
        let number = listeners.add(1, ordering: .relaxed).newValue
        continuation.onTermination = { [weak self] _ in self?.stopListening(number) }
        let previous = listener.withLock { listener in
            defer { listener = Listener(number: number, sender: sender, continuation: continuation) }
            return listener
        }
        previous?.continuation.finish()
        return stream
    }

    /// Queues `transition` of `route`'s breaker if peers follow it and an exchange listens.
    func publish(_ transition: CircuitBreakerTransition, route: RouteKey, settings: String) {
        listener.withLock { listener in
            guard let listener, let message = BreakerTransitionMessage(transition, route: route, settings: settings, sender: listener.sender) else { return }
            listener.continuation.yield(message)
        }
    }

    private func stopListening(_ number: UInt64) {
        listener.withLock { listener in
            // Only the listener whose stream ended; a newer one stays.
            if listener?.number == number { listener = nil }
        }
    }
}
