import Foundation
import PKI
import Testing

@Suite struct KeyRingTests {
    static let hour: TimeInterval = 3600
    static let day: TimeInterval = 86_400
    /// Keys are generated once: ES256 generation is cheap, but the simulations need dozens.
    static let keys: [SigningKey] = (0..<40).map { _ in try! SigningKey.generate(.es256) }
    static let rsaKeys: [SigningKey] = (0..<1).map { _ in try! SigningKey.generate(.rs256) }

    let t0 = referenceTime
    let configuration = KeyRing.Configuration()

    @Test func firstKeySignsAtOnce() throws {
        var ring = KeyRing()
        #expect(ring.rotationsDue(at: t0, algorithms: [.es256]) == [.es256])
        #expect(ring.rotationsDue(at: t0) == [])
        #expect(ring.nextChange(after: t0) == nil)

        let entry = try ring.rotate(now: t0, newKey: Self.keys[0])
        #expect(entry.activatesAt == t0)
        #expect(ring.signingKey(for: .es256, at: t0) == Self.keys[0])
        #expect(ring.signingKey(for: .rs256, at: t0) == nil)
        #expect(ring.publishedKeys(at: t0) == [Self.keys[0]])
        #expect(ring.rotationsDue(at: t0) == [])
        // The successor is due rotationInterval - publishLead after activation.
        #expect(ring.nextChange(after: t0) == t0.addingTimeInterval(29 * Self.day))
        #expect(ring.rotationsDue(at: t0.addingTimeInterval(29 * Self.day - 1)) == [])
        #expect(ring.rotationsDue(at: t0.addingTimeInterval(29 * Self.day)) == [.es256])
    }

    @Test func rotationPublishesBeforeSigningAndRetiresWithOverlap() throws {
        var ring = KeyRing()
        let (k1, k2) = (Self.keys[0], Self.keys[1])
        try ring.rotate(now: t0, newKey: k1)
        let rotation = t0.addingTimeInterval(29 * Self.day)
        let entry = try ring.rotate(now: rotation, newKey: k2)
        let activation = rotation.addingTimeInterval(Self.day)
        let removal = activation.addingTimeInterval(Self.day + 300)
        #expect(entry.publishedAt == rotation)
        #expect(entry.activatesAt == activation)
        #expect(ring.entries[0].retiresAt == activation)
        #expect(ring.entries[0].removeAt == removal)

        // Pending: published, not signing.
        #expect(ring.entries[1].state(at: rotation) == .pending)
        #expect(ring.publishedKeys(at: rotation) == [k1, k2])
        #expect(ring.signingKey(for: .es256, at: activation.addingTimeInterval(-1)) == k1)
        #expect(ring.rotationsDue(at: rotation) == [], "a pending successor is not due again")
        #expect(ring.nextChange(after: rotation) == activation)

        // Active: the new key signs, the old one is retired and still published.
        #expect(ring.signingKey(for: .es256, at: activation) == k2)
        #expect(ring.entries[0].state(at: activation) == .retired)
        #expect(ring.publishedKeys(at: activation) == [k1, k2])
        #expect(ring.nextChange(after: activation) == removal)

        // Removed once every token it signed has expired, plus the slack.
        #expect(ring.publishedKeys(at: removal.addingTimeInterval(-1)) == [k1, k2])
        #expect(ring.publishedKeys(at: removal) == [k2])
        #expect(ring.entries[0].state(at: removal) == .removed)
        #expect(ring.nextChange(after: removal) == activation.addingTimeInterval(29 * Self.day))
        #expect(ring.prune(now: removal.addingTimeInterval(-1)).isEmpty)
        let pruned = ring.prune(now: removal)
        #expect(pruned.map(\.key) == [k1])
        #expect(ring.entries.map(\.key) == [k2])
        #expect(ring.jwks(at: removal) == JSONWebKeySet([k2]))
    }

    /// Runs the controller's loop over half a year with two algorithms, waking at every `nextChange` and at
    /// least hourly, issuing a max-TTL token with each signing key at each wake-up, and checks the invariants at
    /// every step: one signing key per algorithm, always published; every unexpired token's key published; a key
    /// published a full lead before it first signs (but the first of each algorithm).
    @Test func simulatedHalfYearKeepsEveryTokenVerifiable() throws {
        var ring = KeyRing()
        // RS256 rotates on another schedule, to check the schedules are independent.
        ring.configuration.rotationInterval = .seconds(20 * 86_400)
        var unused = Self.keys[...]
        let algorithms: Set<SigningKey.Algorithm> = [.es256, .rs256]
        let end = t0.addingTimeInterval(183 * Self.day)
        var now = t0
        var tokens: [(kid: String, signedAt: Date, expiresAt: Date)] = []
        var publishedAt: [String: Date] = [:]
        var firstSigned: [String: Date] = [:]
        let claims = try JWTClaims(issuer: "https://gw.example.com", subject: "s", audience: "a", ttl: .seconds(86_400))

        while now < end {
            for algorithm in ring.rotationsDue(at: now, algorithms: algorithms) {
                let key: SigningKey
                if algorithm == .rs256 {
                    key = try SigningKey.generate(.rs256)
                } else {
                    let next = unused.popFirst()
                    key = try #require(next, "enough pregenerated ES256 keys")
                }
                let entry = try ring.rotate(now: now, newKey: key)
                publishedAt[key.kid] = entry.publishedAt
            }
            let snapshot = ring.snapshot(at: now, algorithms: algorithms)
            let published = Set(snapshot.publishedKeys.map(\.kid))
            #expect(snapshot.rotationsDue.isEmpty)

            for algorithm in algorithms {
                let signing = try #require(snapshot.signingKeys[algorithm], "\(algorithm) has a key at \(now)")
                #expect(published.contains(signing.kid))
                #expect(
                    ring.entries.filter { $0.key.algorithm == algorithm && $0.state(at: now) == .active }.count == 1
                )
                if firstSigned[signing.kid] == nil {
                    firstSigned[signing.kid] = now
                    // A real token from each new signing key (the others are bookkeeping: RS256 costs ~1 ms each).
                    let minted = try JWTSigner(key: signing).mint(claims, now: now)
                    #expect(minted.kid == signing.kid)
                    #expect(minted.expiresAt == now.addingTimeInterval(Self.day))
                }
                tokens.append((signing.kid, now, now.addingTimeInterval(Self.day)))
            }
            tokens.removeAll { $0.expiresAt <= now }
            for token in tokens {
                #expect(
                    published.contains(token.kid),
                    "token of \(token.kid) signed \(token.signedAt) unverifiable at \(now)"
                )
            }
            // At most pending + active + retired per algorithm.
            #expect(snapshot.publishedKeys.count <= 6)

            ring.prune(now: now)
            now = min(snapshot.nextChange ?? .distantFuture, now.addingTimeInterval(Self.hour))
        }

        let bootstrap = Set(firstSigned.filter { $0.value == t0 }.keys)
        #expect(bootstrap.count == 2)
        #expect(firstSigned.count >= 6 + 9)
        for (kid, signedAt) in firstSigned where !bootstrap.contains(kid) {
            let published = try #require(publishedAt[kid])
            #expect(
                signedAt.timeIntervalSince(published) >= Self.day,
                "\(kid) signed \(signedAt), published \(published)"
            )
        }
        // Pruning keeps the stored ring small: at most two keys per algorithm after half a year.
        #expect(ring.entries.count <= 4)
    }

    @Test func publishBeforeSignHoldsForEveryRotationInASimulation() throws {
        var ring = KeyRing(configuration: .init(rotationInterval: .seconds(7 * 86_400), publishLead: .seconds(3600)))
        var published: [String: Date] = [:]
        var firstSigned: [String: Date] = [:]
        var now = t0
        var index = 0
        while now < t0.addingTimeInterval(60 * Self.day) {
            for _ in ring.rotationsDue(at: now, algorithms: [.es256]) {
                let entry = try ring.rotate(now: now, newKey: Self.keys[index])
                index += 1
                published[entry.key.kid] = entry.publishedAt
            }
            if let signing = ring.signingKey(for: .es256, at: now), firstSigned[signing.kid] == nil {
                firstSigned[signing.kid] = now
            }
            ring.prune(now: now)
            now = min(ring.nextChange(after: now) ?? .distantFuture, now.addingTimeInterval(600))
        }
        #expect(index >= 8)
        for (kid, signedAt) in firstSigned where kid != Self.keys[0].kid {
            let publishedAt = try #require(published[kid])
            #expect(signedAt.timeIntervalSince(publishedAt) >= 3600)
        }
        // Each key signs for the rotation interval (the first from t0, the rest from their activation).
        let starts = Self.keys[0..<index].compactMap { firstSigned[$0.kid] }
        for (earlier, later) in zip(starts, starts.dropFirst()) {
            #expect(later.timeIntervalSince(earlier) == 7 * Self.day)
        }
    }

    @Test func algorithmsRotateIndependently() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        let later = t0.addingTimeInterval(10 * Self.day)
        try ring.rotate(now: later, newKey: Self.rsaKeys[0])
        #expect(ring.signingKey(for: .rs256, at: later) == Self.rsaKeys[0], "first RS256 key signs at once")
        #expect(ring.signingKey(for: .es256, at: later) == Self.keys[0])
        #expect(ring.rotationsDue(at: t0.addingTimeInterval(29 * Self.day)) == [.es256])
        #expect(ring.rotationsDue(at: later.addingTimeInterval(29 * Self.day)) == [.rs256, .es256])
        let snapshot = ring.snapshot(at: later)
        #expect(snapshot.signingKeys == [.es256: Self.keys[0], .rs256: Self.rsaKeys[0]])
        #expect(snapshot.jwks.keys.map(\.alg) == ["ES256", "RS256"])
        #expect(snapshot.nextChange == t0.addingTimeInterval(29 * Self.day))
    }

    @Test func rejectsADuplicateKeyAndASecondPendingKey() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        #expect(throws: PKIError(.duplicateKey)) { try ring.rotate(now: t0, newKey: Self.keys[0]) }
        try ring.rotate(now: t0.addingTimeInterval(Self.hour), newKey: Self.keys[1])
        #expect(throws: PKIError(.rotationInProgress)) {
            try ring.rotate(now: t0.addingTimeInterval(2 * Self.hour), newKey: Self.keys[2])
        }
        #expect(ring.entries.count == 2)
    }

    @Test func removingTheActiveKeyPromotesThePendingOne() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        try ring.rotate(now: t0.addingTimeInterval(Self.hour), newKey: Self.keys[1])
        let compromise = t0.addingTimeInterval(2 * Self.hour)
        try ring.remove(kid: Self.keys[0].kid, now: compromise)
        #expect(ring.signingKey(for: .es256, at: compromise) == Self.keys[1])
        #expect(ring.publishedKeys(at: compromise) == [Self.keys[1]])
        #expect(throws: PKIError(.unknownKey)) { try ring.remove(kid: Self.keys[0].kid, now: compromise) }
    }

    @Test func removingTheLastKeyLetsANewOneSignAtOnce() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        try ring.remove(kid: Self.keys[0].kid, now: t0.addingTimeInterval(60))
        #expect(ring.signingKey(for: .es256, at: t0.addingTimeInterval(60)) == nil)
        #expect(ring.rotationsDue(at: t0.addingTimeInterval(60), algorithms: [.es256]) == [.es256])
        try ring.rotate(now: t0.addingTimeInterval(60), newKey: Self.keys[1])
        #expect(ring.signingKey(for: .es256, at: t0.addingTimeInterval(60)) == Self.keys[1])
    }

    @Test func removingAPendingKeyKeepsTheActiveOneActive() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        try ring.rotate(now: t0.addingTimeInterval(Self.hour), newKey: Self.keys[1])
        try ring.remove(kid: Self.keys[1].kid, now: t0.addingTimeInterval(2 * Self.hour))
        #expect(ring.entries.count == 1)
        #expect(ring.entries[0].retiresAt == nil && ring.entries[0].removeAt == nil)
        #expect(ring.signingKey(for: .es256, at: t0.addingTimeInterval(100 * Self.day)) == Self.keys[0])
    }

    @Test func timesAreStoredInWholeSeconds() throws {
        var ring = KeyRing()
        let entry = try ring.rotate(now: t0.addingTimeInterval(0.9), newKey: Self.keys[0])
        #expect(entry.publishedAt == t0)
        #expect(entry.activatesAt == t0)
        #expect(ring.signingKey(for: .es256, at: t0.addingTimeInterval(0.9)) == Self.keys[0])
    }

    @Test func codableRoundTripIsExact() throws {
        var ring = KeyRing(configuration: .init(rotationInterval: .seconds(7 * 86_400), publishLead: .seconds(3600)))
        try ring.rotate(now: t0, newKey: Self.keys[0])
        try ring.rotate(now: t0.addingTimeInterval(6 * Self.day + 0.5), newKey: Self.keys[1])
        try ring.rotate(now: t0, newKey: Self.rsaKeys[0])

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(ring)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""publishedAt":"2026-01-01T00:00:00Z""#))
        #expect(text.contains(#""activatesAt":"2026-01-07T01:00:00Z""#))
        #expect(text.contains(#""publishLeadSeconds":3600"#))
        #expect(text.contains("-----BEGIN PRIVATE KEY-----"))

        let decoded = try JSONDecoder().decode(KeyRing.self, from: data)
        #expect(decoded == ring)
        #expect(decoded.entries.map(\.key.pemRepresentation) == ring.entries.map(\.key.pemRepresentation))
        for time in stride(from: 0.0, through: 10 * Self.day, by: Self.hour) {
            let now = t0.addingTimeInterval(time)
            #expect(decoded.snapshot(at: now) == ring.snapshot(at: now))
        }
        // Whatever date strategy the encoder has, the stored times are the same strings.
        let other = JSONEncoder()
        other.dateEncodingStrategy = .millisecondsSince1970
        other.outputFormatting = [.sortedKeys]
        #expect(try other.encode(ring) == data)
    }

    @Test func decodingRejectsAKeyThatIsNotWhatItSays() throws {
        var ring = KeyRing()
        try ring.rotate(now: t0, newKey: Self.keys[0])
        let text = String(decoding: try JSONEncoder().encode(ring), as: UTF8.self)
        let swapped = text.replacingOccurrences(of: Self.keys[0].kid, with: Self.keys[1].kid)
        #expect(throws: PKIError(.invalidState)) { try JSONDecoder().decode(KeyRing.self, from: Data(swapped.utf8)) }
    }

    @Test func configurationIsValidated() {
        for configuration in [
            KeyRing.Configuration(rotationInterval: .seconds(3600), publishLead: .seconds(3600)),
            KeyRing.Configuration(publishLead: .seconds(-1)),
            KeyRing.Configuration(maxTokenTTL: .zero),
            KeyRing.Configuration(removalSlack: .seconds(-1)),
        ] {
            var ring = KeyRing(configuration: configuration)
            #expect(throws: PKIError(.invalidConfiguration)) { try ring.rotate(now: t0, newKey: Self.keys[0]) }
        }
        #expect(throws: Never.self) { try KeyRing.Configuration().validate() }
    }
}
