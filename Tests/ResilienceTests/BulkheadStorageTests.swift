import Testing

// `@testable` for `Bulkhead.storageCount`: the storage bound is not observable through the public API.
@testable import Resilience

@Suite struct BulkheadStorageTests {
    /// Cancellations behind waiters that never move, and a queue that drains and refills, keep the storage
    /// within the documented bound.
    @Test(arguments: [0, 1, 10, 100])
    func storageStaysBounded(maxPending: Int) {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: maxPending))
        _ = bulkhead.tryEnter()
        let bound = 2 * (maxPending + max(maxPending, 16) + 1)
        var maximum = 0
        // Half the queue waits for good; the other half comes and goes.
        for _ in 0..<(maxPending / 2) { _ = bulkhead.tryEnter() }
        for _ in 0..<10_000 {
            if case .queued(let ticket) = bulkhead.tryEnter() { bulkhead.cancel(ticket) }
            maximum = max(maximum, bulkhead.storageCount)
        }
        // Drain and refill the queue many times.
        for _ in 0..<1000 {
            while case .queued = bulkhead.tryEnter() {}
            while bulkhead.pending > 0 { _ = bulkhead.leave() }
            maximum = max(maximum, bulkhead.storageCount)
        }
        #expect(maximum <= bound, "storage grew to \(maximum)")
    }
}
