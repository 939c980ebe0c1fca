import Resilience

extension CircuitBreakerConfiguration {
    /// The settings as one canonical line, the same on every replica for the same Route spec: a peer applies
    /// a transition only when its breaker was made from the same settings. (`Hashable` cannot serve: Swift
    /// seeds its hashes per process.)
    ///
    /// `window=count:100;minimumCalls=20;failureRate=50;slowCall=-;consecutiveFailures=-;open=30000000000ns;`
    /// `maxOpen=300000000000ns;jitter=10;probes=3;failOn=7;failOnStatuses=502,503,504;scope=shared`
    var canonicalSettings: String {
        func nanoseconds(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return "\(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)ns"
        }
        let window = "\(window.kind == .count ? "count" : "time"):\(window.size)"
        let slow = slowCall.map { "\(nanoseconds($0.duration))@\($0.ratePercent)" } ?? "-"
        let consecutive = consecutiveFailures.map(String.init) ?? "-"
        let statuses = failOnStatuses.codes.map(String.init).joined(separator: ",")
        let scope = scope == .shared ? "shared" : "replica"
        return "window=\(window);minimumCalls=\(minimumCalls);failureRate=\(failureRatePercent);slowCall=\(slow);"
            + "consecutiveFailures=\(consecutive);open=\(nanoseconds(openDuration));maxOpen=\(nanoseconds(maxOpenDuration));"
            + "jitter=\(openJitterPercent);probes=\(halfOpenProbes);failOn=\(failOn.rawValue);failOnStatuses=\(statuses);scope=\(scope)"
    }

    /// ``canonicalSettings`` digested with 64-bit FNV-1a, as 16 hex digits: what a breaker transition
    /// carries to name the settings it came from. Not a security measure (the connection is authenticated);
    /// it only keeps replicas that serve different versions of a Route from mixing their breakers.
    var settingsFingerprint: String {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonicalSettings.utf8 {
            state = (state ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        let hex = String(state, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
