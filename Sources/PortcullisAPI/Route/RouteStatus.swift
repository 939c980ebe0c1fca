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

/// The circuit breaker as the gateway replicas see it: the leader's breaker, and how many replicas have
/// theirs open or half-open (they disagree with scope `Replica`, or while a replica is cut off from its peers).
public struct CircuitBreakerStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable, CaseIterable {
        case closed = "Closed"
        case open = "Open"
        case halfOpen = "HalfOpen"
    }

    /// The leader's breaker.
    public var state: State
    /// When the leader's breaker entered this state (RFC 3339).
    public var since: String?
    /// The failure rate over the leader's current window, in percent.
    public var failureRate: Int?
    /// How many times the leader's breaker has opened.
    public var trips: Int64?
    /// Replicas whose breaker is open, the leader included.
    public var openReplicas: Int?
    /// Replicas whose breaker is half-open, the leader included.
    public var halfOpenReplicas: Int?
    /// Replicas reporting their breakers, the leader included; set while any of them has this breaker open or
    /// half-open (when every breaker is Closed, compare with `status.replicas.total`).
    public var replicas: Int?
    /// Replicas whose report of breakers that are not Closed was too long for their Lease and was cut off
    /// before this Route: they are not counted in `openReplicas` or `halfOpenReplicas`. Absent when none.
    public var unreportedReplicas: Int?

    public init(
        state: State,
        since: String? = nil,
        failureRate: Int? = nil,
        trips: Int64? = nil,
        openReplicas: Int? = nil,
        halfOpenReplicas: Int? = nil,
        replicas: Int? = nil,
        unreportedReplicas: Int? = nil
    ) {
        self.state = state
        self.since = since
        self.failureRate = failureRate
        self.trips = trips
        self.openReplicas = openReplicas
        self.halfOpenReplicas = halfOpenReplicas
        self.replicas = replicas
        self.unreportedReplicas = unreportedReplicas
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case state, since, failureRate, trips, openReplicas, halfOpenReplicas, replicas, unreportedReplicas
    }
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
