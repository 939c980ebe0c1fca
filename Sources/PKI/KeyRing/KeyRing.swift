public import Foundation

/// The installation's JWT signing keys and their rotation, as a pure state machine: every question takes the
/// time from the caller, every change is an event with a time, and the whole state is `Codable` so the
/// controller can keep it in a Secret.
///
/// Each key goes through four states, computed from the times stored with it:
///
/// | state | from | until | in the JWKS | signs |
/// |---|---|---|---|---|
/// | pending | `publishedAt` | `activatesAt` = `publishedAt` + publish lead | yes | no |
/// | active | `activatesAt` | `retiresAt` = the successor's `activatesAt` | yes | yes |
/// | retired | `retiresAt` | `removeAt` = `retiresAt` + max token TTL + removal slack | yes | no |
/// | removed | `removeAt` | — | no | no |
///
/// Rules: a key is published at least ``Configuration/publishLead`` before it signs, so every verifier that
/// honours the JWKS cache lifetime knows it before it sees a token; a retired key stays published until every
/// token it signed has expired; and a successor is scheduled ``Configuration/publishLead`` before the active key
/// has signed for ``Configuration/rotationInterval``. The very first key of an algorithm signs at once: no
/// tokens exist yet, and verifiers fetch the JWKS again for an unknown `kid`.
///
/// Keys of several algorithms live side by side (ES256 for GCP, RS256 for Entra, EdDSA elsewhere), each with
/// its own active key and rotation schedule; one JWKS publishes them all.
///
/// The controller's loop: take a ``snapshot(at:algorithms:)``; for every algorithm in
/// ``Snapshot/rotationsDue`` call ``rotate(now:newKey:)`` with a new key; ``prune(now:)``; store the ring if it
/// changed; publish ``Snapshot/jwks``; hand ``Snapshot/signingKeys`` to the gateway; run again at
/// ``Snapshot/nextChange``.
public struct KeyRing: Sendable, Hashable {
    public var configuration: Configuration
    /// The keys, oldest first.
    public internal(set) var entries: [Entry]

    /// An empty key ring.
    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.entries = []
    }

    // MARK: Questions

    /// The key that signs tokens of `algorithm` at `now`, if any.
    public func signingKey(for algorithm: SigningKey.Algorithm, at now: Date) -> SigningKey? {
        activeIndex(for: algorithm, at: now).map { entries[$0].key }
    }

    /// The keys verifiers must know at `now`: pending, active and retired ones, oldest first.
    public func publishedKeys(at now: Date) -> [SigningKey] {
        entries.filter { $0.state(at: now) != .removed }.map(\.key)
    }

    /// The JWKS to serve at `now`.
    public func jwks(at now: Date) -> JSONWebKeySet {
        JSONWebKeySet(publishedKeys(at: now))
    }

    /// The algorithms that need a new key at `now`: those without an active or pending key, and those whose
    /// active key is due for a successor (it activated `rotationInterval - publishLead` ago or earlier) and has
    /// none pending yet.
    ///
    /// - Parameters:
    ///   - now: The time.
    ///   - algorithms: The algorithms to keep keys for; `nil` means those already in the ring.
    /// - Returns: The algorithms to call ``rotate(now:newKey:)`` for, in a stable order.
    public func rotationsDue(at now: Date, algorithms: Set<SigningKey.Algorithm>? = nil) -> [SigningKey.Algorithm] {
        let wanted = algorithms ?? Set(entries.map(\.key.algorithm))
        return wanted.sorted().filter { algorithm in
            if pendingIndex(for: algorithm, at: now) != nil { return false }
            guard let active = activeIndex(for: algorithm, at: now) else { return true }
            return now >= rotationDueTime(of: entries[active])
        }
    }

    /// The next time after `now` at which the answers above change: a pending key activates, a retired key
    /// leaves the JWKS, or an active key becomes due for rotation. `nil` when nothing is scheduled.
    public func nextChange(after now: Date) -> Date? {
        var times: [Date] = []
        for entry in entries {
            times.append(entry.activatesAt)
            if let removeAt = entry.removeAt { times.append(removeAt) }
            if entry.state(at: now) == .active, pendingIndex(for: entry.key.algorithm, at: now) == nil {
                times.append(rotationDueTime(of: entry))
            }
        }
        return times.filter { $0 > now }.min()
    }

    /// Everything the controller needs at `now`, in one value.
    ///
    /// - Parameters:
    ///   - now: The time.
    ///   - algorithms: The algorithms to keep keys for; `nil` means those already in the ring.
    public func snapshot(at now: Date, algorithms: Set<SigningKey.Algorithm>? = nil) -> Snapshot {
        var signingKeys: [SigningKey.Algorithm: SigningKey] = [:]
        for algorithm in SigningKey.Algorithm.allCases {
            signingKeys[algorithm] = signingKey(for: algorithm, at: now)
        }
        let published = publishedKeys(at: now)
        return Snapshot(
            signingKeys: signingKeys,
            publishedKeys: published,
            jwks: JSONWebKeySet(published),
            rotationsDue: rotationsDue(at: now, algorithms: algorithms),
            nextChange: nextChange(after: now)
        )
    }

    // MARK: Events

    /// Adds `newKey` to the ring at `now`.
    ///
    /// With an active key of the same algorithm, the new key is published now and activates `publishLead` later;
    /// the active key retires at that moment and is removed `maxTokenTTL + removalSlack` after it. Without one
    /// (the first key, or after ``remove(kid:now:)``), the new key activates now.
    ///
    /// Times are stored in whole seconds (rounded down).
    ///
    /// - Parameters:
    ///   - now: The time of the rotation.
    ///   - newKey: A freshly generated key.
    /// - Returns: The new key's entry.
    /// - Throws: ``PKIError/Code/duplicateKey`` if the key is already in the ring,
    ///   ``PKIError/Code/rotationInProgress`` if a key of the same algorithm is still pending,
    ///   ``PKIError/Code/invalidConfiguration`` if the configuration is out of range.
    @discardableResult
    public mutating func rotate(now: Date, newKey: SigningKey) throws -> Entry {
        try configuration.validate()
        let now = now.wholeSeconds
        guard !entries.contains(where: { $0.key.kid == newKey.kid }) else {
            throw PKIError(.duplicateKey, "key \(newKey.kid) is already in the key ring")
        }
        if let pending = pendingIndex(for: newKey.algorithm, at: now) {
            let entry = entries[pending]
            throw PKIError(
                .rotationInProgress,
                "\(newKey.algorithm.rawValue) key \(entry.key.kid) is pending until \(entry.activatesAt)"
            )
        }
        let activatesAt: Date
        if let active = activeIndex(for: newKey.algorithm, at: now) {
            activatesAt = now.addingTimeInterval(configuration.publishLead.wholeSeconds)
            entries[active].retiresAt = activatesAt
            entries[active].removeAt = activatesAt.addingTimeInterval(
                configuration.maxTokenTTL.wholeSeconds + configuration.removalSlack.wholeSeconds
            )
        } else {
            activatesAt = now
        }
        let entry = Entry(key: newKey, publishedAt: now, activatesAt: activatesAt, retiresAt: nil, removeAt: nil)
        entries.append(entry)
        return entry
    }

    /// Removes a key at once, for a compromised key: it leaves the JWKS and tokens it signed stop verifying.
    ///
    /// If it was the active key and a successor is pending, the successor activates now; if it was pending, the
    /// active key it would have replaced stays active. Follow with ``rotate(now:newKey:)`` when no key of the
    /// algorithm is left: the new key then activates at once.
    ///
    /// - Throws: ``PKIError/Code/unknownKey``.
    public mutating func remove(kid: String, now: Date) throws {
        let now = now.wholeSeconds
        guard let index = entries.firstIndex(where: { $0.key.kid == kid }) else {
            throw PKIError(.unknownKey, "no key \(kid) in the key ring")
        }
        let entry = entries[index]
        let algorithm = entry.key.algorithm
        switch entry.state(at: now) {
        case .active:
            if let pending = pendingIndex(for: algorithm, at: now) {
                entries[pending].activatesAt = now
            }
        case .pending:
            if let predecessor = entries.firstIndex(where: {
                $0.key.algorithm == algorithm && $0.retiresAt == entry.activatesAt
            }) {
                entries[predecessor].retiresAt = nil
                entries[predecessor].removeAt = nil
            }
        case .retired, .removed:
            break
        }
        entries.remove(at: index)
    }

    /// Drops the keys that have left the JWKS by `now`, so the stored state does not grow.
    ///
    /// - Returns: The dropped entries.
    @discardableResult
    public mutating func prune(now: Date) -> [Entry] {
        let removed = entries.filter { $0.state(at: now) == .removed }
        entries.removeAll { $0.state(at: now) == .removed }
        return removed
    }

    // MARK: Internals

    private func activeIndex(for algorithm: SigningKey.Algorithm, at now: Date) -> Int? {
        entries.lastIndex { $0.key.algorithm == algorithm && $0.state(at: now) == .active }
    }

    private func pendingIndex(for algorithm: SigningKey.Algorithm, at now: Date) -> Int? {
        entries.lastIndex { $0.key.algorithm == algorithm && $0.state(at: now) == .pending }
    }

    /// When `entry`'s successor should be published: `rotationInterval - publishLead` after it activated, so the
    /// successor signs exactly `rotationInterval` after it.
    private func rotationDueTime(of entry: Entry) -> Date {
        entry.activatesAt.addingTimeInterval(
            configuration.rotationInterval.wholeSeconds - configuration.publishLead.wholeSeconds
        )
    }
}

extension KeyRing {
    /// One key and its schedule.
    public struct Entry: Sendable, Hashable {
        public let key: SigningKey
        /// When it entered the JWKS.
        public let publishedAt: Date
        /// When it starts signing.
        public internal(set) var activatesAt: Date
        /// When its successor takes over; `nil` while none is scheduled.
        public internal(set) var retiresAt: Date?
        /// When it leaves the JWKS: `retiresAt + maxTokenTTL + removalSlack`.
        public internal(set) var removeAt: Date?

        /// The key's state at `now`.
        public func state(at now: Date) -> KeyState {
            if now < activatesAt { return .pending }
            if let retiresAt, now >= retiresAt {
                if let removeAt, now >= removeAt { return .removed }
                return .retired
            }
            return .active
        }
    }

    /// Where a key is in its life.
    public enum KeyState: String, Sendable, Hashable, Codable {
        /// Published, not yet signing.
        case pending
        /// Published and signing.
        case active
        /// Published so that the tokens it signed still verify; no longer signing.
        case retired
        /// Out of the JWKS; ``KeyRing/prune(now:)`` drops it.
        case removed
    }

    /// What the key ring says at one moment.
    public struct Snapshot: Sendable, Hashable {
        /// The signing key of each algorithm that has one.
        public var signingKeys: [SigningKey.Algorithm: SigningKey]
        /// The published keys, oldest first.
        public var publishedKeys: [SigningKey]
        /// The JWKS of ``publishedKeys``.
        public var jwks: JSONWebKeySet
        /// The algorithms that need ``KeyRing/rotate(now:newKey:)`` now.
        public var rotationsDue: [SigningKey.Algorithm]
        /// When to look again; `nil` when nothing is scheduled.
        public var nextChange: Date?
    }
}
