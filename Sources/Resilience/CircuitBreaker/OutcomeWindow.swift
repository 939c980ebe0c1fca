/// The sliding window of a circuit breaker: running totals of calls, failures and slow calls over the last
/// `size` calls (count) or the last `size` seconds (time).
///
/// - Count: a ring of `size` one-byte outcomes; recording evicts the oldest once the ring is full. O(1).
/// - Time: `size` one-second buckets indexed by `second % size`. Moving to a later second clears the buckets
///   of the seconds that fell out of the window and subtracts them from the totals, as Resilience4j's
///   `SlidingTimeWindowMetrics` does: O(1) per record amortised, at most `size` buckets after a long gap.
///
/// Storage is allocated once, at creation; recording never allocates. Both storages live side by side (one
/// of them empty) rather than in an enum, so that mutating them never copies an array.
struct OutcomeWindow: Sendable, Hashable {
    let kind: CircuitBreakerConfiguration.Window.Kind
    let size: Int

    /// Calls in the window.
    private(set) var calls = 0
    /// Failed calls in the window.
    private(set) var failures = 0
    /// Slow calls (successful or not) in the window.
    private(set) var slowCalls = 0

    // Count window: bit 0 = failure, bit 1 = slow.
    private var ring: [UInt8]
    private var next = 0

    // Time window.
    private var buckets: [Bucket]
    private var currentSecond: Int64 = 0

    struct Bucket: Sendable, Hashable {
        var calls: UInt32 = 0
        var failures: UInt32 = 0
        var slowCalls: UInt32 = 0
    }

    init(_ window: CircuitBreakerConfiguration.Window) {
        self.kind = window.kind
        self.size = max(1, window.size)
        switch window.kind {
        case .count:
            self.ring = Array(repeating: 0, count: self.size)
            self.buckets = []
        case .time:
            self.ring = []
            self.buckets = Array(repeating: Bucket(), count: self.size)
        }
    }

    /// Records one call at `second` (seconds since the breaker's origin).
    mutating func record(failure: Bool, slow: Bool, second: Int64) {
        let failureCount = failure ? 1 : 0
        let slowCount = slow ? 1 : 0
        switch self.kind {
        case .count:
            if self.calls == self.size {
                let evicted = self.ring[self.next]
                self.failures -= Int(evicted & 1)
                self.slowCalls -= Int(evicted >> 1)
            } else {
                self.calls += 1
            }
            self.ring[self.next] = UInt8(failureCount | slowCount << 1)
            self.next = self.next + 1 == self.size ? 0 : self.next + 1
        case .time:
            self.advance(to: second)
            let index = Self.index(of: self.currentSecond, size: self.size)
            self.buckets[index].calls += 1
            self.buckets[index].failures += UInt32(failureCount)
            self.buckets[index].slowCalls += UInt32(slowCount)
            self.calls += 1
        }
        self.failures += failureCount
        self.slowCalls += slowCount
    }

    /// Moves a time window to `second`, evicting the seconds that fell out of it. A second earlier than the
    /// current one (a clock read out of order) records into the current second.
    mutating func advance(to second: Int64) {
        guard self.kind == .time, second > self.currentSecond else { return }
        let gap = second - self.currentSecond
        if gap >= Int64(self.size) {
            for index in self.buckets.indices { self.buckets[index] = Bucket() }
            self.calls = 0
            self.failures = 0
            self.slowCalls = 0
        } else {
            var evicted = self.currentSecond + 1
            while evicted <= second {
                let index = Self.index(of: evicted, size: self.size)
                let bucket = self.buckets[index]
                self.calls -= Int(bucket.calls)
                self.failures -= Int(bucket.failures)
                self.slowCalls -= Int(bucket.slowCalls)
                self.buckets[index] = Bucket()
                evicted += 1
            }
        }
        self.currentSecond = second
    }

    /// The totals the window would hold at `second`, without changing it: for status reports.
    func totals(at second: Int64) -> (calls: Int, failures: Int, slowCalls: Int) {
        var totals = (calls: self.calls, failures: self.failures, slowCalls: self.slowCalls)
        guard self.kind == .time, second > self.currentSecond else { return totals }
        guard second - self.currentSecond < Int64(self.size) else { return (0, 0, 0) }
        var evicted = self.currentSecond + 1
        while evicted <= second {
            let bucket = self.buckets[Self.index(of: evicted, size: self.size)]
            totals.calls -= Int(bucket.calls)
            totals.failures -= Int(bucket.failures)
            totals.slowCalls -= Int(bucket.slowCalls)
            evicted += 1
        }
        return totals
    }

    /// Empties the window.
    mutating func reset() {
        self.calls = 0
        self.failures = 0
        self.slowCalls = 0
        self.next = 0
        for index in self.buckets.indices { self.buckets[index] = Bucket() }
    }

    private static func index(of second: Int64, size: Int) -> Int {
        let remainder = Int(second % Int64(size))
        return remainder < 0 ? remainder + size : remainder
    }
}
