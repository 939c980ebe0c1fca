import Synchronization

/// A ``RetryBudget`` shared by the event loops of a gateway: the same budget behind a `Mutex`.
///
/// Every method takes the lock for a few arithmetic operations and never across an `await` (the closures
/// are synchronous). An upstream whose requests are spread over several event loops needs one budget for
/// all of them, or the ratio would be per loop.
public final class SharedRetryBudget<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    private let budget: Mutex<RetryBudget<Instant>>

    /// A budget with nothing in flight.
    ///
    /// - Parameters:
    ///   - configuration: The percentage and floor.
    ///   - now: The current instant.
    public init(configuration: RetryBudgetConfiguration = RetryBudgetConfiguration(), now: Instant) {
        self.budget = Mutex(RetryBudget(configuration: configuration, now: now))
    }

    /// See ``RetryBudget/requestStarted()``.
    public func requestStarted() { self.budget.withLock { $0.requestStarted() } }

    /// See ``RetryBudget/requestFinished()``.
    public func requestFinished() { self.budget.withLock { $0.requestFinished() } }

    /// See ``RetryBudget/tryAcquireRetry(now:)``.
    public func tryAcquireRetry(now: Instant) -> Bool { self.budget.withLock { $0.tryAcquireRetry(now: now) } }

    /// See ``RetryBudget/retryFinished()``.
    public func retryFinished() { self.budget.withLock { $0.retryFinished() } }

    /// Runs `body` with the budget locked, e.g. to pass it to
    /// ``RetryPolicy/decide(after:attempt:request:remaining:budget:now:using:)``.
    ///
    /// - Parameter body: A synchronous closure; it must not block.
    /// - Returns: What `body` returns.
    public func withLock<Result: Sendable>(_ body: (inout RetryBudget<Instant>) -> Result) -> Result {
        self.budget.withLock { body(&$0) }
    }
}
