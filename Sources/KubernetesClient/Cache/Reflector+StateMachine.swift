/// What a reflector does next (client-go `Reflector.ListAndWatch`), as a pure value:
///
/// ```
///  start ─▶ list ──ok──▶ watch(from list RV) ──event/bookmark──▶ remember RV, reset backoff
///            ▲  │fail                 │ stream ended ──▶ watch(from last RV)   (ended < 1 s with no event: back off first)
///            │  ▼                     │ 410 / ERROR 410 ──▶ list               (right after a list with no event: back off first)
///            │ sleep(backoff)◀────────┤ undecodable event ──▶ sleep(backoff), list
///            └────────────────────────┘ other error ──▶ sleep(backoff), watch(from last RV)
/// ```
struct ReflectorStateMachine<Random: RandomNumberGenerator> {
    enum Action: Equatable {
        case list
        case watch(resourceVersion: String, timeoutSeconds: Int)
        case sleep(Duration)
    }

    enum Failure: Equatable {
        /// 410 Gone / Expired: the resourceVersion is older than the server keeps.
        case expired
        /// An event that does not decode: the stream cannot be trusted; re-list.
        case invalidResponse
        /// Anything else: transport errors, 5xx, 429, 401/403.
        case other
    }

    private enum Next { case list, watch }

    let backoff: BackoffConfiguration
    /// `timeoutSeconds` of a watch is random in `minimumWatchTimeout...2·minimumWatchTimeout` (client-go: 5–10 min).
    let minimumWatchTimeout: Int
    private(set) var random: Random
    /// The last resourceVersion seen (list, event or bookmark): where the next watch starts.
    private(set) var lastResourceVersion: String?
    /// Consecutive failures; reset by any event.
    private(set) var failures = 0
    /// True from a successful list until the first event: a 410 then means the list itself was stale.
    private var justListed = false
    private var afterSleep: Next = .list

    init(backoff: BackoffConfiguration, minimumWatchTimeout: Int, random: Random) {
        self.backoff = backoff
        self.minimumWatchTimeout = max(1, minimumWatchTimeout)
        self.random = random
    }

    mutating func start() -> Action { .list }

    mutating func listSucceeded(resourceVersion: String) -> Action {
        lastResourceVersion = resourceVersion
        justListed = true
        return watch()
    }

    mutating func listFailed() -> Action {
        backOff(then: .list)
    }

    /// An event or bookmark brought the watch to `resourceVersion`.
    mutating func observed(resourceVersion: String?) {
        if let resourceVersion, !resourceVersion.isEmpty { lastResourceVersion = resourceVersion }
        failures = 0
        justListed = false
    }

    /// The server ended the stream cleanly after `duration` with `events` events.
    mutating func watchEnded(duration: Duration, events: Int) -> Action {
        if events == 0 && duration < .seconds(1) {
            // A server that closes watches at once would otherwise be hammered.
            return backOff(then: .watch)
        }
        return watch()
    }

    mutating func watchFailed(_ failure: Failure) -> Action {
        switch failure {
        case .expired:
            if justListed { return backOff(then: .list) }
            return .list
        case .invalidResponse:
            return backOff(then: .list)
        case .other:
            return backOff(then: .watch)
        }
    }

    /// The sleep of a ``Action/sleep(_:)`` is over.
    mutating func slept() -> Action {
        switch afterSleep {
        case .list: return .list
        case .watch: return lastResourceVersion == nil ? .list : watch()
        }
    }

    private mutating func watch() -> Action {
        guard let resourceVersion = lastResourceVersion else { return .list }
        let timeout = Int.random(in: minimumWatchTimeout...(2 * minimumWatchTimeout), using: &random)
        return .watch(resourceVersion: resourceVersion, timeoutSeconds: timeout)
    }

    private mutating func backOff(then next: Next) -> Action {
        let delay = backoff.delay(attempt: failures, using: &random)
        failures += 1
        afterSleep = next
        return .sleep(delay)
    }
}
