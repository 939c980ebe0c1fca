import Foundation
import Gateway
import Resilience

/// The circuit breakers of one gateway replica that are not Closed, as its Lease carries them in the
/// ``ReplicaReports/breakersAnnotation`` annotation, so the leader can say in each Route's status how many
/// replicas have its breaker open (with scope `Replica`, or while a replica is cut off from its peers, they
/// disagree).
///
/// ```json
/// {"halfOpen":["shop/cart"],"open":["default/orders","default/users"]}
/// ```
///
/// Routes are listed in `namespace/name` order. A report that would exceed ``maximumBytes`` lists the routes
/// up to the one in `truncatedAfter` and leaves the rest out: for a Route after it, the leader cannot tell
/// the replica's state and says so (`status.circuitBreaker.unreportedReplicas`).
///
/// | Breakers not Closed | Annotation size (names of ~30 characters) |
/// |---|---|
/// | 0 | 2 bytes (`{}`) |
/// | 100 | ~3.5 KiB |
/// | 1,800 | ~64 KiB: the cap; more are cut off |
struct ReplicaBreakerReport: Sendable, Hashable {
    /// The longest annotation value written: a quarter of the 256 KiB that all of an object's annotations
    /// may take together.
    static let maximumBytes = 64 * 1024

    var open: Set<RouteKey> = []
    var halfOpen: Set<RouteKey> = []
    /// The last route listed when the report was cut short; routes after it were left out.
    var truncatedAfter: RouteKey?

    /// A replica's state of one Route's breaker, as its report tells.
    enum Entry: Sendable, Hashable {
        case known(CircuitBreakerState)
        /// The report was cut short before this route.
        case unknown
    }

    init(open: Set<RouteKey> = [], halfOpen: Set<RouteKey> = [], truncatedAfter: RouteKey? = nil) {
        self.open = open
        self.halfOpen = halfOpen
        self.truncatedAfter = truncatedAfter
    }

    /// The report of `states` (closed ones are left out), cut to fit `maximumBytes`.
    init(states: [RouteKey: CircuitBreakerState], maximumBytes: Int = Self.maximumBytes) {
        // The JSON around the names, the truncation marker with the longest name, and a quote, quote and comma a name.
        var room = maximumBytes - 64 - (63 + 1 + 253 + 3)
        for key in states.keys.sorted() {
            guard let state = states[key], state != .closed else { continue }
            room -= key.description.utf8.count + 3
            guard room >= 0 else { break }
            if state == .open { open.insert(key) } else { halfOpen.insert(key) }
            truncatedAfter = key
        }
        if room >= 0 { truncatedAfter = nil }
    }

    /// The breaker of `route` on the replica.
    func entry(_ route: RouteKey) -> Entry {
        if open.contains(route) { return .known(.open) }
        if halfOpen.contains(route) { return .known(.halfOpen) }
        if let truncatedAfter, truncatedAfter < route { return .unknown }
        return .known(.closed)
    }

    private struct Wire: Codable {
        var open: [String]?
        var halfOpen: [String]?
        var truncatedAfter: String?
    }

    /// The annotation's value: compact JSON with sorted keys and names.
    var annotation: String {
        let wire = Wire(
            open: open.isEmpty ? nil : open.sorted().map(\.description),
            halfOpen: halfOpen.isEmpty ? nil : halfOpen.sorted().map(\.description),
            truncatedAfter: truncatedAfter?.description
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(wire)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Reads an annotation.
    ///
    /// - Throws: ``Invalid`` naming what is wrong.
    init(annotation: String) throws {
        let wire: Wire
        do {
            wire = try JSONDecoder().decode(Wire.self, from: Data(annotation.utf8))
        } catch {
            throw Invalid(description: "not a JSON object with open, halfOpen and truncatedAfter")
        }
        func key(_ text: String, _ field: String) throws -> RouteKey {
            let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw Invalid(description: "\(field) holds \"\(text.prefix(64))\", which is not namespace/name")
            }
            return RouteKey(namespace: String(parts[0]), name: String(parts[1]))
        }
        open = Set(try (wire.open ?? []).map { try key($0, "open") })
        halfOpen = Set(try (wire.halfOpen ?? []).map { try key($0, "halfOpen") })
        truncatedAfter = try wire.truncatedAfter.map { try key($0, "truncatedAfter") }
    }

    /// Why an annotation could not be read.
    struct Invalid: Error, Hashable, CustomStringConvertible {
        var description: String
    }
}
