/// A circuit breaker's settings, as a Route's `circuitBreaker` sets them (Resilience4j's model).
///
/// Defaults are the Route's; where Resilience4j's differ (minimum calls 100, wait in open state 60 s,
/// 10 half-open calls) the Route's win.
public struct CircuitBreakerConfiguration: Sendable, Hashable {
    /// The window over which failure and slow-call rates are computed. Route: `circuitBreaker.window`.
    public struct Window: Sendable, Hashable {
        /// What the window's size counts.
        public enum Kind: Sendable, Hashable, CaseIterable {
            /// The last `size` calls (Resilience4j `COUNT_BASED`).
            case count
            /// The calls of the last `size` seconds, in one-second buckets (Resilience4j `TIME_BASED`).
            case time
        }

        /// Calls or seconds. Route: `window.type`, default `Count`.
        public var kind: Kind
        /// Calls (1–10000) or seconds (1–3600). Route: `window.size`, default 100.
        public var size: Int

        /// A window with the Route's defaults for every field left out.
        ///
        /// - Parameters:
        ///   - kind: Calls or seconds. Default ``Kind/count``.
        ///   - size: Calls or seconds. Default 100.
        public init(kind: Kind = .count, size: Int = 100) {
            self.kind = kind
            self.size = size
        }

        /// The last `size` calls.
        public static func count(_ size: Int) -> Window { Window(kind: .count, size: size) }
        /// The calls of the last `size` seconds.
        public static func time(seconds size: Int) -> Window { Window(kind: .time, size: size) }
    }

    /// Calls slower than ``duration`` are slow; too many slow calls open the breaker.
    /// Route: `circuitBreaker.slowCall`.
    public struct SlowCall: Sendable, Hashable {
        /// Calls that take longer than this (strictly) are slow. Route: `slowCall.duration`, required.
        public var duration: Duration
        /// The slow-call percentage of the window that opens the breaker, 1–100. Route: `slowCall.ratePercent`,
        /// default 100.
        public var ratePercent: Int

        /// A slow-call threshold.
        ///
        /// - Parameters:
        ///   - duration: Calls longer than this are slow.
        ///   - ratePercent: The slow-call rate that opens the breaker. Default 100.
        public init(duration: Duration, ratePercent: Int = 100) {
            self.duration = duration
            self.ratePercent = ratePercent
        }
    }

    /// Transport failures that count against the upstream. Route: `circuitBreaker.failOn`.
    public struct FailureConditions: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8

        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// The connection could not be established.
        public static let connectFailure = FailureConditions(rawValue: 1 << 0)
        /// The attempt timed out.
        public static let timeout = FailureConditions(rawValue: 1 << 1)
        /// The connection or stream was reset, before or after the request was written.
        public static let reset = FailureConditions(rawValue: 1 << 2)

        /// All three: the Route's default.
        public static let all: FailureConditions = [.connectFailure, .timeout, .reset]
    }

    /// Whether breaker state is agreed between gateway replicas. Route: `circuitBreaker.scope`.
    public enum Scope: Sendable, Hashable, CaseIterable {
        /// A breaker opened on one replica opens on all: the caller sends each ``CircuitBreakerTransition``
        /// to its peers, which apply it with ``CircuitBreaker/force(_:now:)``.
        case shared
        /// Each replica keeps its own breaker.
        case replica
    }

    /// The sliding window. Default: the last 100 calls.
    public var window: Window
    /// Calls the window must hold before the failure and slow-call rates can open the breaker, 1–10000.
    /// Route: `circuitBreaker.minimumCalls`, default 20.
    public var minimumCalls: Int
    /// The failure percentage of the window that opens the breaker, 1–100.
    /// Route: `circuitBreaker.failureRatePercent`, default 50.
    public var failureRatePercent: Int
    /// The slow-call threshold; `nil` disables slow-call tracking. Route: `circuitBreaker.slowCall`, default
    /// absent.
    public var slowCall: SlowCall?
    /// Open after this many failures in a row, whatever the rate and the minimum; `nil` disables it.
    /// Route: `circuitBreaker.consecutiveFailures`, default absent.
    public var consecutiveFailures: Int?
    /// How long the breaker stays open after its first trip. Route: `circuitBreaker.openDuration`, default 30 s.
    public var openDuration: Duration
    /// The longest open period; trips in a row double the period up to this. Route:
    /// `circuitBreaker.maxOpenDuration`, default 300 s.
    public var maxOpenDuration: Duration
    /// At most this percentage is taken off a repeated trip's open period, at random, so that replicas and
    /// upstreams do not probe in lockstep. 0–100. Not a Route field; default 10.
    public var openJitterPercent: Int
    /// Probe calls admitted while half-open; all must succeed to close the breaker. 1–100.
    /// Route: `circuitBreaker.halfOpenProbes`, default 3.
    public var halfOpenProbes: Int
    /// Transport failures that count as failures. Route: `circuitBreaker.failOn`, default all three.
    public var failOn: FailureConditions
    /// Response statuses that count as failures (500–599; a 4xx never counts).
    /// Route: `circuitBreaker.failOnStatuses`, default 502, 503, 504.
    public var failOnStatuses: HTTPStatusSet
    /// Whether transitions are shared with peer replicas; the breaker itself does not act on it.
    /// Route: `circuitBreaker.scope`, default `Shared`.
    public var scope: Scope

    /// A breaker configuration with the Route's defaults for every field left out.
    ///
    /// - Parameters:
    ///   - window: The sliding window. Default the last 100 calls.
    ///   - minimumCalls: Calls before a rate can open the breaker. Default 20.
    ///   - failureRatePercent: The failure rate that opens it. Default 50.
    ///   - slowCall: The slow-call threshold. Default `nil`.
    ///   - consecutiveFailures: Failures in a row that open it. Default `nil`.
    ///   - openDuration: The first open period. Default 30 s.
    ///   - maxOpenDuration: The longest open period. Default 300 s.
    ///   - openJitterPercent: The most taken off a repeated open period. Default 10.
    ///   - halfOpenProbes: Probes while half-open. Default 3.
    ///   - failOn: Transport failures that count. Default all.
    ///   - failOnStatuses: Statuses that count. Default 502, 503, 504.
    ///   - scope: Shared or per replica. Default ``Scope/shared``.
    public init(
        window: Window = Window(),
        minimumCalls: Int = 20,
        failureRatePercent: Int = 50,
        slowCall: SlowCall? = nil,
        consecutiveFailures: Int? = nil,
        openDuration: Duration = .seconds(30),
        maxOpenDuration: Duration = .seconds(300),
        openJitterPercent: Int = 10,
        halfOpenProbes: Int = 3,
        failOn: FailureConditions = .all,
        failOnStatuses: HTTPStatusSet = [502, 503, 504],
        scope: Scope = .shared
    ) {
        self.window = window
        self.minimumCalls = minimumCalls
        self.failureRatePercent = failureRatePercent
        self.slowCall = slowCall
        self.consecutiveFailures = consecutiveFailures
        self.openDuration = openDuration
        self.maxOpenDuration = maxOpenDuration
        self.openJitterPercent = openJitterPercent
        self.halfOpenProbes = halfOpenProbes
        self.failOn = failOn
        self.failOnStatuses = failOnStatuses
        self.scope = scope
    }

    /// Maps how an attempt ended to what it means for the breaker.
    ///
    /// | outcome                             | counts as                                      |
    /// |-------------------------------------|------------------------------------------------|
    /// | connect failure                     | failure if `failOn` has connect-failure, else ignored |
    /// | timeout                             | failure if `failOn` has timeout, else ignored  |
    /// | reset, reset before request         | failure if `failOn` has reset, else ignored    |
    /// | refused stream                      | ignored (the upstream shed load politely)      |
    /// | response 400–499                    | ignored (the client's failure), whatever `failOnStatuses` says |
    /// | response in `failOnStatuses`        | failure                                        |
    /// | any other response                  | success                                        |
    ///
    /// - Parameter outcome: How the attempt ended.
    /// - Returns: The outcome to ``CircuitBreaker/record(_:duration:permit:now:using:)``.
    public func classify(_ outcome: AttemptOutcome) -> CallOutcome {
        switch outcome {
        case .connectFailure: self.failOn.contains(.connectFailure) ? .failure : .ignored
        case .timeout: self.failOn.contains(.timeout) ? .failure : .ignored
        case .reset, .resetBeforeRequest: self.failOn.contains(.reset) ? .failure : .ignored
        case .refusedStream: .ignored
        case .response(let status, _):
            if status >= 400 && status < 500 {
                .ignored
            } else if self.failOnStatuses.contains(status) {
                .failure
            } else {
                .success
            }
        }
    }
}

/// What a call means for the circuit breaker.
public enum CallOutcome: Sendable, Hashable, CaseIterable {
    /// The upstream did its job.
    case success
    /// The upstream failed; counts toward the failure rate and the consecutive failures.
    case failure
    /// Neither: not recorded (a 4xx, a cancelled call). A half-open probe that is ignored frees its slot.
    case ignored
}
