import Foundation
import Resilience

/// A breaker transition as one replica posts it to another: JSON on `POST /peer/v1/breaker-transitions`
/// over mutual TLS on the admin port.
///
/// ```json
/// {"sender":"gateway-7d9f-abc12","namespace":"default","name":"orders","settings":"3f2a9c0d1e4b5a6f",
///  "state":"Open","openForMilliseconds":30000,"tripStreak":1}
/// ```
///
/// Only two states travel: `Open` (the sender's breaker tripped; the receiver opens for the same period) and
/// `Closed` (the sender's half-open probes succeeded; the upstream is back). Half-open is each replica's own
/// business: it probes when its own open period ends.
struct BreakerTransitionMessage: Sendable, Hashable, Codable {
    /// The sending replica's identity, for `/debug/breakers` and status.
    var sender: String
    /// The Route's namespace and name.
    var namespace: String
    var name: String
    /// ``CircuitBreakerConfiguration/settingsFingerprint`` of the sender's breaker.
    var settings: String
    /// `Open` or `Closed`.
    var state: String
    /// How long the breaker stays open, 0–86 400 000 ms; only with `Open`.
    var openForMilliseconds: Int64?
    /// Trips in a row on the sender, 0–10 000; the receiver's next trip grows its open period from it.
    var tripStreak: Int

    /// The longest open period a message may ask for: a day (a Route's `maxOpenDuration` is far less).
    static let maximumOpenMilliseconds: Int64 = 86_400_000

    /// The message for a transition of `route`'s breaker, or `nil` for one peers do not follow (half-open,
    /// a forced one, a close that was not a successful probe).
    init?(_ transition: CircuitBreakerTransition, route: RouteKey, settings: String, sender: String) {
        switch (transition.to, transition.reason) {
        case (_, .forced): return nil
        case (.open, _):
            state = CircuitBreakerState.open.rawValue
            openForMilliseconds = (transition.openDuration ?? .zero).milliseconds
        case (.closed, .probesSucceeded):
            state = CircuitBreakerState.closed.rawValue
            openForMilliseconds = nil
        default: return nil
        }
        self.sender = sender
        self.namespace = route.namespace
        self.name = route.name
        self.settings = settings
        self.tripStreak = transition.tripStreak
    }

    /// An `Open` message for a breaker that stays open for `openFor` more: what a peer that missed the
    /// transition is told later.
    init(openFor: Duration, tripStreak: Int, route: RouteKey, settings: String, sender: String) {
        self.sender = sender
        self.namespace = route.namespace
        self.name = route.name
        self.settings = settings
        self.state = CircuitBreakerState.open.rawValue
        self.openForMilliseconds = min(Self.maximumOpenMilliseconds, max(0, openFor.milliseconds))
        self.tripStreak = min(10_000, max(0, tripStreak))
    }

    /// Reads and checks a message.
    ///
    /// - Throws: ``Invalid`` naming the field and the value that is wrong.
    init(json: some Collection<UInt8>) throws {
        let decoded: BreakerTransitionMessage
        do {
            decoded = try JSONDecoder().decode(BreakerTransitionMessage.self, from: Data(json))
        } catch let DecodingError.keyNotFound(key, _) {
            throw Invalid("\(key.stringValue) is required")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw Invalid("\(context.codingPath.map(\.stringValue).joined(separator: ".")) has the wrong type")
        } catch {
            throw Invalid("the body is not a JSON object")
        }
        self = decoded
        try validate()
    }

    /// Why a message was refused.
    struct Invalid: Error, Hashable, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private func validate() throws {
        for (field, value) in [("sender", sender), ("namespace", namespace), ("name", name)] where value.isEmpty || value.utf8.count > 253 {
            throw Invalid("\(field) must have 1 to 253 characters, not \(value.utf8.count)")
        }
        guard settings.utf8.count == 16, settings.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw Invalid("settings must be 16 lowercase hex digits, not \"\(settings.prefix(32))\"")
        }
        guard (0...10_000).contains(tripStreak) else { throw Invalid("tripStreak must be 0 to 10000, not \(tripStreak)") }
        switch state {
        case CircuitBreakerState.open.rawValue:
            guard let openForMilliseconds else { throw Invalid("openForMilliseconds is required with state Open") }
            guard (0...Self.maximumOpenMilliseconds).contains(openForMilliseconds) else {
                throw Invalid("openForMilliseconds must be 0 to \(Self.maximumOpenMilliseconds), not \(openForMilliseconds)")
            }
        case CircuitBreakerState.closed.rawValue:
            guard openForMilliseconds == nil else { throw Invalid("openForMilliseconds is only allowed with state Open") }
        default:
            throw Invalid("state must be Open or Closed, not \"\(state.prefix(32))\"")
        }
    }

    /// The route it is about.
    var route: RouteKey { RouteKey(namespace: namespace, name: name) }

    /// What the receiver forces its breaker into.
    var target: CircuitBreakerTarget {
        if state == CircuitBreakerState.open.rawValue {
            return .open(for: .milliseconds(openForMilliseconds ?? 0), tripStreak: tripStreak)
        }
        return .closed
    }
}

extension Duration {
    /// Whole milliseconds, rounded down.
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
