/// A bulkhead for one upstream: at most `maxRequests` requests in flight, at most `maxPending` waiting for a
/// slot in FIFO order, the rest rejected at once.
///
/// ```
/// tryEnter():  active < maxRequests        → admitted     (active += 1)
///              pending < maxPending        → queued(t)    (t joins the back of the queue)
///              otherwise                   → rejected
/// leave():     a ticket is waiting         → that ticket  (the slot passes to it; active unchanged)
///              otherwise                   → nil          (active −= 1)
/// cancel(t):   t is waiting                → true         (t leaves the queue)
///              otherwise                   → false        (already admitted, or unknown)
/// ```
///
/// The bulkhead is a pure state machine: it never suspends or wakes anyone. When ``leave()`` returns a
/// ticket the caller wakes that ticket's waiter, which now holds a slot and must ``leave()`` in its turn.
/// A waiter whose client went away or whose deadline passed is ``cancel(_:)``ed; if `cancel` returns
/// `false` the ticket was admitted in the meantime, and the caller must ``leave()`` for it.
///
/// Tickets are numbered in order, so the queue stays sorted: cancelling finds a ticket by binary search
/// and marks it, and dequeuing skips marked tickets. The queue's storage is compacted when its dead prefix
/// outgrows the rest or its cancelled entries outnumber `max(maxPending, 16)`, so each operation is O(1)
/// amortised (cancel O(log n)) and the storage never holds more than
/// `2 × (maxPending + max(maxPending, 16) + 1)` entries. It is allocated as the queue first grows and then
/// reused.
public struct Bulkhead: Sendable {
    /// A place in the queue.
    public struct Ticket: Sendable, Hashable, Comparable {
        /// The ticket's number; tickets are numbered in the order they were queued.
        public let number: UInt64

        public static func < (lhs: Ticket, rhs: Ticket) -> Bool { lhs.number < rhs.number }
    }

    /// The result of ``tryEnter()``.
    public enum Entry: Sendable, Hashable {
        /// A slot is taken: go ahead, and ``Bulkhead/leave()`` when done.
        case admitted
        /// All slots are taken: wait until ``Bulkhead/leave()`` returns this ticket.
        case queued(Ticket)
        /// Slots and queue are full: answer 503 at once.
        case rejected
    }

    /// The limits.
    public let configuration: BulkheadConfiguration
    /// Requests holding a slot.
    public private(set) var active = 0
    /// Requests waiting for a slot.
    public private(set) var pending = 0

    /// Ticket numbers in order; the high bit marks a cancelled ticket. Live entries start at `head`.
    private var queue: [UInt64] = []
    private var head = 0
    private var nextTicket: UInt64 = 0

    private static let cancelledBit: UInt64 = 1 << 63

    /// An empty bulkhead.
    ///
    /// - Parameter configuration: The limits; `maxRequests` is raised to at least 1 and `maxPending` to at
    ///   least 0.
    public init(configuration: BulkheadConfiguration = BulkheadConfiguration()) {
        var configuration = configuration
        configuration.maxRequests = max(1, configuration.maxRequests)
        configuration.maxPending = max(0, configuration.maxPending)
        self.configuration = configuration
    }

    /// Asks for a slot.
    ///
    /// - Returns: ``Entry/admitted``, ``Entry/queued(_:)`` with the ticket to wait on, or ``Entry/rejected``.
    public mutating func tryEnter() -> Entry {
        if self.active < self.configuration.maxRequests {
            self.active += 1
            return .admitted
        }
        guard self.pending < self.configuration.maxPending else { return .rejected }
        let ticket = Ticket(number: self.nextTicket)
        self.nextTicket += 1
        self.compactIfNeeded()
        self.queue.append(ticket.number)
        self.pending += 1
        return .queued(ticket)
    }

    /// Gives back a slot.
    ///
    /// - Returns: The ticket that now holds the slot (wake its waiter), or `nil` if nobody was waiting.
    public mutating func leave() -> Ticket? {
        while self.head < self.queue.count {
            let entry = self.queue[self.head]
            self.head += 1
            if entry & Self.cancelledBit == 0 {
                self.pending -= 1
                self.compactIfNeeded()
                return Ticket(number: entry)
            }
        }
        self.active = max(0, self.active - 1)
        self.compactIfNeeded()
        return nil
    }

    /// Takes a waiting ticket out of the queue.
    ///
    /// - Parameter ticket: A ticket from ``tryEnter()``.
    /// - Returns: `true` if the ticket was waiting and is now gone; `false` if it was already admitted by
    ///   ``leave()`` (its waiter holds a slot), already cancelled, or never issued.
    @discardableResult
    public mutating func cancel(_ ticket: Ticket) -> Bool {
        var low = self.head
        var high = self.queue.count
        while low < high {
            let middle = (low + high) / 2
            if self.queue[middle] & ~Self.cancelledBit < ticket.number { low = middle + 1 } else { high = middle }
        }
        guard low < self.queue.count, self.queue[low] == ticket.number else { return false }
        self.queue[low] |= Self.cancelledBit
        self.pending -= 1
        return true
    }

    /// Entries held in the queue's storage, live or not: for tests of the storage bound.
    var storageCount: Int { self.queue.count }

    /// Drops the dequeued prefix once it is at least half the storage, and the cancelled entries once they
    /// outnumber `max(maxPending, 16)`, so that the storage stays bounded without shifting on every operation.
    private mutating func compactIfNeeded() {
        let cancelled = self.queue.count - self.head - self.pending
        if cancelled > max(self.configuration.maxPending, 16) {
            self.queue.removeFirst(self.head)
            self.head = 0
            self.queue.removeAll { $0 & Self.cancelledBit != 0 }
        } else if self.head > 0 && self.head >= self.queue.count - self.head {
            self.queue.removeFirst(self.head)
            self.head = 0
        }
    }
}
