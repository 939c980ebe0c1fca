public import Kubernetes

/// What the controller and the gateway report about a Route.
public struct RouteStatus: Sendable, Hashable, Codable {
    /// The `metadata.generation` the conditions describe.
    public var observedGeneration: Int64?
    /// Accepted, ResolvedRefs and Ready (the gateway serves this generation).
    public var conditions: [Condition]?
    /// The upstream origin requests go to, e.g. `http://backend.default.svc:8080`.
    public var upstream: String?
    public var circuitBreaker: CircuitBreakerStatus?
    public var replicas: ReplicaCounts?

    public init(
        observedGeneration: Int64? = nil,
        conditions: [Condition]? = nil,
        upstream: String? = nil,
        circuitBreaker: CircuitBreakerStatus? = nil,
        replicas: ReplicaCounts? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.upstream = upstream
        self.circuitBreaker = circuitBreaker
        self.replicas = replicas
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case observedGeneration, conditions, upstream, circuitBreaker, replicas }
}

/// The circuit breaker as the gateway replicas see it.
public struct CircuitBreakerStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case closed = "Closed"
        case open = "Open"
        case halfOpen = "HalfOpen"
    }

    public var state: State
    /// When the breaker entered this state (RFC 3339).
    public var since: String?
    /// The failure rate over the current window, in percent.
    public var failureRate: Int?
    /// How many times the breaker has opened.
    public var trips: Int64?
    /// Replicas whose breaker is open.
    public var openReplicas: Int?
    /// Replicas reporting.
    public var replicas: Int?

    public init(state: State, since: String? = nil, failureRate: Int? = nil, trips: Int64? = nil, openReplicas: Int? = nil, replicas: Int? = nil) {
        self.state = state
        self.since = since
        self.failureRate = failureRate
        self.trips = trips
        self.openReplicas = openReplicas
        self.replicas = replicas
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case state, since, failureRate, trips, openReplicas, replicas }
}

/// How many gateway replicas serve the current generation.
public struct ReplicaCounts: Sendable, Hashable, Codable {
    public var ready: Int
    public var total: Int

    public init(ready: Int, total: Int) {
        self.ready = ready
        self.total = total
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case ready, total }
}
