import Resilience
import Testing

@Suite struct BulkheadTests {
    @Test func defaultsAreTheRoutes() {
        let configuration = BulkheadConfiguration()
        #expect(configuration.maxRequests == 1024)
        #expect(configuration.maxPending == 1024)
    }

    @Test func admitsThenQueuesThenRejects() throws {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 2, maxPending: 2))
        #expect(bulkhead.tryEnter() == .admitted)
        #expect(bulkhead.tryEnter() == .admitted)
        guard case .queued(let first) = bulkhead.tryEnter(), case .queued(let second) = bulkhead.tryEnter() else {
            Issue.record("expected two queued tickets")
            return
        }
        #expect(first < second)
        #expect(bulkhead.tryEnter() == .rejected)
        #expect(bulkhead.active == 2 && bulkhead.pending == 2)

        // Each leave passes the slot to the next ticket, in order.
        #expect(bulkhead.leave() == first)
        #expect(bulkhead.active == 2 && bulkhead.pending == 1)
        #expect(bulkhead.leave() == second)
        #expect(bulkhead.leave() == nil)
        #expect(bulkhead.leave() == nil)
        #expect(bulkhead.active == 0 && bulkhead.pending == 0)
        #expect(bulkhead.leave() == nil)
        #expect(bulkhead.active == 0)
    }

    @Test func theQueueIsFIFO() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 100))
        #expect(bulkhead.tryEnter() == .admitted)
        var tickets: [Bulkhead.Ticket] = []
        for _ in 0..<100 {
            guard case .queued(let ticket) = bulkhead.tryEnter() else {
                Issue.record("not queued")
                return
            }
            tickets.append(ticket)
        }
        #expect(bulkhead.tryEnter() == .rejected)
        var admitted: [Bulkhead.Ticket] = []
        while let ticket = bulkhead.leave() { admitted.append(ticket) }
        #expect(admitted == tickets)
        #expect(bulkhead.active == 0)
    }

    @Test func cancellingAQueuedTicket() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 3))
        #expect(bulkhead.tryEnter() == .admitted)
        let tickets = (0..<3).compactMap { _ -> Bulkhead.Ticket? in
            if case .queued(let ticket) = bulkhead.tryEnter() { ticket } else { nil }
        }
        #expect(tickets.count == 3)
        #expect(bulkhead.cancel(tickets[1]) == true)
        #expect(bulkhead.pending == 2)
        #expect(bulkhead.cancel(tickets[1]) == false)  // already cancelled

        #expect(bulkhead.leave() == tickets[0])
        #expect(bulkhead.cancel(tickets[0]) == false)  // already admitted: its waiter holds the slot
        #expect(bulkhead.leave() == tickets[2])
        #expect(bulkhead.leave() == nil)
        // A ticket this bulkhead never issued (another bulkhead's fifth).
        var other = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 10))
        _ = other.tryEnter()
        for _ in 0..<4 { _ = other.tryEnter() }
        guard case .queued(let foreign) = other.tryEnter() else {
            Issue.record("not queued")
            return
        }
        #expect(foreign.number == 4)
        #expect(bulkhead.cancel(foreign) == false)
        #expect(bulkhead.active == 0 && bulkhead.pending == 0)
    }

    @Test func cancellingFreesAPendingPlace() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 1))
        #expect(bulkhead.tryEnter() == .admitted)
        guard case .queued(let waiting) = bulkhead.tryEnter() else {
            Issue.record("not queued")
            return
        }
        #expect(bulkhead.tryEnter() == .rejected)
        #expect(bulkhead.cancel(waiting) == true)
        guard case .queued(let next) = bulkhead.tryEnter() else {
            Issue.record("not queued")
            return
        }
        #expect(next != waiting)
        #expect(bulkhead.leave() == next)  // the cancelled ticket is skipped
    }

    @Test func cancellingTheHeadAndTheTail() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 4))
        _ = bulkhead.tryEnter()
        let tickets = (0..<4).compactMap { _ -> Bulkhead.Ticket? in
            if case .queued(let ticket) = bulkhead.tryEnter() { ticket } else { nil }
        }
        #expect(bulkhead.cancel(tickets[0]) == true)
        #expect(bulkhead.cancel(tickets[3]) == true)
        #expect(bulkhead.leave() == tickets[1])
        #expect(bulkhead.leave() == tickets[2])
        #expect(bulkhead.leave() == nil)
    }

    /// Many cancellations while others wait compact the queue's storage without losing or reordering anyone.
    @Test func manyCancellationsKeepTheOrder() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 100))
        #expect(bulkhead.tryEnter() == .admitted)
        func enqueue() -> Bulkhead.Ticket? {
            if case .queued(let ticket) = bulkhead.tryEnter() { ticket } else { nil }
        }
        let cancelled = enqueue()
        let waiting = (0..<5).compactMap { _ in enqueue() }
        guard let cancelled, waiting.count == 5 else {
            Issue.record("not queued")
            return
        }
        #expect(bulkhead.cancel(cancelled) == true)
        #expect(bulkhead.leave() == waiting[0])  // skips the cancelled ticket
        for _ in 0..<1000 {
            guard let ticket = enqueue() else {
                Issue.record("not queued")
                return
            }
            #expect(bulkhead.cancel(ticket) == true)
        }
        #expect(bulkhead.pending == 4)
        let last = enqueue()
        for ticket in waiting.dropFirst() { #expect(bulkhead.leave() == ticket) }
        #expect(bulkhead.leave() == last)
        #expect(bulkhead.leave() == nil)
        #expect(bulkhead.active == 0 && bulkhead.pending == 0)
    }

    @Test func noQueueRejectsAtOnce() {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 1, maxPending: 0))
        #expect(bulkhead.tryEnter() == .admitted)
        #expect(bulkhead.tryEnter() == .rejected)
        #expect(bulkhead.leave() == nil)
        #expect(bulkhead.tryEnter() == .admitted)
    }

    @Test func outOfRangeSettingsAreClamped() {
        let bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: 0, maxPending: -3))
        #expect(bulkhead.configuration == BulkheadConfiguration(maxRequests: 1, maxPending: 0))
    }

    /// Random operations against a plain reference model: admissions, order, cancellations and counts agree
    /// at every step, through many compactions of the queue's storage.
    @Test(arguments: [(1, 1), (3, 20), (8, 0), (2, 500)])
    func agreesWithAReferenceModel(maxRequests: Int, maxPending: Int) {
        var bulkhead = Bulkhead(configuration: BulkheadConfiguration(maxRequests: maxRequests, maxPending: maxPending))
        var active = 0
        var queue: [Bulkhead.Ticket] = []
        var issued: [Bulkhead.Ticket] = []
        var random = SplitMix64(seed: UInt64(maxRequests * 1000 + maxPending))
        for step in 0..<50_000 {
            switch random.next() % 10 {
            case 0..<4:
                let entry = bulkhead.tryEnter()
                if active < maxRequests {
                    #expect(entry == .admitted, "step \(step)")
                    active += 1
                } else if queue.count < maxPending {
                    guard case .queued(let ticket) = entry else {
                        Issue.record("step \(step): expected queued, got \(entry)")
                        return
                    }
                    queue.append(ticket)
                    issued.append(ticket)
                } else {
                    #expect(entry == .rejected, "step \(step)")
                }
            case 4..<7:
                let next = bulkhead.leave()
                if queue.isEmpty {
                    #expect(next == nil, "step \(step)")
                    active = max(0, active - 1)
                } else {
                    #expect(next == queue.removeFirst(), "step \(step)")
                }
            default:
                guard !issued.isEmpty else { continue }
                let ticket = issued[Int(random.next() % UInt64(issued.count))]
                let wasQueued = queue.firstIndex(of: ticket)
                #expect(bulkhead.cancel(ticket) == (wasQueued != nil), "step \(step)")
                if let wasQueued { queue.remove(at: wasQueued) }
            }
            #expect(bulkhead.active == active && bulkhead.pending == queue.count, "step \(step)")
            if issued.count > 4096 { issued.removeFirst(2048) }
        }
    }
}
