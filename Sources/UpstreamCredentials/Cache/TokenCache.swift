import Foundation
public import Logging
import Synchronization

/// The gateway's tokens, one ``TokenCacheEntry`` per key (an UpstreamAuth, say), refreshed ahead of expiry by one
/// background loop.
///
/// - The request path holds an entry and calls ``TokenCacheEntry/currentHeaderValue(now:)`` (a `Mutex` read); only a
///   cold entry waits, in ``TokenCacheEntry/token()``, and N cold requests share one fetch.
/// - ``run()`` is the loop: it starts each entry's first fetch at once, refreshes at the time
///   ``TokenRefreshStateMachine`` computes, retries, and runs every fetch as a child task with the fetch timeout.
///   It returns when its task is cancelled, failing the waiters; run it as a service of the process's service group.
///   Requests that arrive before it starts wait for it.
///
/// ```swift
/// let cache = TokenCache<String>(logger: logger)
/// let entry = cache.register("payments/gcp", provider: gcpProvider, refresh: .init(), header: .init())
/// // in a service: await cache.run()
/// // per request: entry.currentHeaderValue(now: now) ?? (try await entry.headerValue())
/// ```
public final class TokenCache<Key: Hashable & Sendable>: Sendable {
    private let entries = Mutex<[Key: TokenCacheEntry]>([:])
    private let scheduler: TokenCacheScheduler
    private let logger: Logger

    /// - Parameters:
    ///   - clock: The clock for refresh times, timeouts and backoff; the system clock by default.
    ///   - logger: For refreshes (debug), retries (info) and failed rounds (warning). Never token material.
    public init(clock: any CredentialClock = SystemCredentialClock(), logger: Logger) {
        self.scheduler = TokenCacheScheduler(clock: clock)
        self.logger = logger
    }

    /// The cache's clock.
    public var clock: any CredentialClock { scheduler.clock }

    /// Adds an entry for `key`, replacing (and shutting down) any previous one. Its first fetch starts at once.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - provider: Obtains the tokens.
    ///   - refresh: The refresh policy.
    ///   - header: Where the token goes.
    /// - Returns: The entry, for the request path to keep.
    @discardableResult
    public func register(
        _ key: Key,
        provider: any TokenProvider,
        refresh: TokenRefreshConfiguration = TokenRefreshConfiguration(),
        header: CredentialHeader = CredentialHeader()
    ) -> TokenCacheEntry {
        let entry = TokenCacheEntry(
            name: "\(key)",
            provider: provider,
            configuration: refresh,
            header: header,
            scheduler: scheduler,
            logger: logger
        )
        let previous = entries.withLock { entries in
            let previous = entries[key]
            entries[key] = entry
            return previous
        }
        previous?.shutdown(removed: true)
        scheduler.wake()
        return entry
    }

    /// Removes the entry for `key`; its waiters fail with ``CredentialError/Reason/shutdown``.
    public func remove(_ key: Key) {
        let removed = entries.withLock { $0.removeValue(forKey: key) }
        removed?.shutdown(removed: true)
    }

    /// The entry for `key`.
    public func entry(for key: Key) -> TokenCacheEntry? {
        entries.withLock { $0[key] }
    }

    /// The keys with entries.
    public var keys: [Key] { entries.withLock { Array($0.keys) } }

    /// A valid token for `key`; see ``TokenCacheEntry/token()``.
    ///
    /// - Throws: ``CredentialError/Reason/invalidConfiguration`` if `key` has no entry, or what the entry throws.
    public func token(for key: Key) async throws -> Token {
        guard let entry = entry(for: key) else {
            throw CredentialError(.invalidConfiguration, "no credential is registered for \(key)")
        }
        return try await entry.token()
    }

    /// Drops `key`'s token after an upstream 401; see ``TokenCacheEntry/invalidate(token:)``.
    public func invalidate(_ key: Key, token value: String? = nil) {
        entry(for: key)?.invalidate(token: value)
    }

    /// The status of `key`'s credential.
    public func status(for key: Key) -> CredentialStatusSnapshot? {
        entry(for: key)?.status()
    }

    /// Runs the refresh loop until the task is cancelled, then fails every waiter with
    /// ``CredentialError/Reason/shutdown``. Call it once.
    public func run() async {
        scheduler.setRunState(.running)
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = scheduler.clock.now()
                var earliest: Date?
                for entry in entries.withLock({ Array($0.values) }) {
                    switch entry.nextStep(now: now) {
                    case .fetch(let attempt):
                        group.addTask { await entry.performFetch(attempt: attempt) }
                    case .sleep(let until):
                        earliest = earliest.map { min($0, until) } ?? until
                    case .idle:
                        break
                    }
                }
                await scheduler.wait(until: earliest)
            }
        }
        scheduler.setRunState(.finished)
        for entry in entries.withLock({ Array($0.values) }) { entry.shutdown(removed: false) }
    }
}
