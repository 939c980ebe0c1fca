public import Kubernetes

/// How requests reach an upstream: which requests match, where they go, how long they may take, how
/// failures are retried or cut off, and which UpstreamAuths prove the gateway's identity.
public struct Route: CustomResource {
    public var apiVersion: String = PortcullisAPIGroup.apiVersion
    public var kind: String = Route.kind
    public var metadata: ObjectMeta
    public var spec: RouteSpec
    public var status: RouteStatus?

    public init(metadata: ObjectMeta, spec: RouteSpec, status: RouteStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The desired state of a Route.
public struct RouteSpec: Sendable, Hashable, Codable {
    /// Host names the Route answers for (exact, or `*.example.com`); empty means any host.
    public var hostnames: [String]?
    public var match: RouteMatch?
    public var upstream: Upstream
    /// UpstreamAuths in this namespace, applied in order.
    public var authRefs: [LocalObjectReference]?
    public var timeouts: Timeouts?
    public var retries: RetryPolicy?
    /// The circuit breaker; absent means no breaker.
    public var circuitBreaker: CircuitBreakerPolicy?
    public var concurrency: ConcurrencyLimits?
    public var fallback: Fallback?
    /// The largest request body the gateway takes, in bytes; larger ones get 413. Absent: no limit (bodies stream).
    public var maxRequestBodyBytes: Int64?

    public init(
        hostnames: [String]? = nil,
        match: RouteMatch? = nil,
        upstream: Upstream,
        authRefs: [LocalObjectReference]? = nil,
        timeouts: Timeouts? = nil,
        retries: RetryPolicy? = nil,
        circuitBreaker: CircuitBreakerPolicy? = nil,
        concurrency: ConcurrencyLimits? = nil,
        fallback: Fallback? = nil,
        maxRequestBodyBytes: Int64? = nil
    ) {
        self.hostnames = hostnames
        self.match = match
        self.upstream = upstream
        self.authRefs = authRefs
        self.timeouts = timeouts
        self.retries = retries
        self.circuitBreaker = circuitBreaker
        self.concurrency = concurrency
        self.fallback = fallback
        self.maxRequestBodyBytes = maxRequestBodyBytes
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case hostnames, match, upstream, authRefs, timeouts, retries, circuitBreaker, concurrency, fallback, maxRequestBodyBytes
    }
}

/// Which requests a Route takes. Every condition given must hold.
public struct RouteMatch: Sendable, Hashable, Codable {
    public var path: PathMatch?
    /// HTTP methods; empty means any.
    public var methods: [String]?
    public var headers: [HeaderMatch]?

    public init(path: PathMatch? = nil, methods: [String]? = nil, headers: [HeaderMatch]? = nil) {
        self.path = path
        self.methods = methods
        self.headers = headers
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, methods, headers }
}

/// A match on the request path.
public struct PathMatch: Sendable, Hashable, Codable {
    public enum MatchType: String, Sendable, Hashable, Codable, CaseIterable {
        /// Whole path segments: `/api` matches `/api` and `/api/v1`, not `/apis`.
        case pathPrefix = "PathPrefix"
        case exact = "Exact"
        /// An anchored regular expression over the whole path.
        case regularExpression = "RegularExpression"
    }

    public static let defaultType = MatchType.pathPrefix

    public var type: MatchType?
    public var value: String

    public init(type: MatchType? = nil, value: String) {
        self.type = type
        self.value = value
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, value }
}

/// A match on a request header's exact value (names are case-insensitive).
public struct HeaderMatch: Sendable, Hashable, Codable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, value }
}

/// Where a Route sends requests: a URL or a Kubernetes Service, optionally through a Tunnel.
public struct Upstream: Sendable, Hashable, Codable {
    /// The HTTP version the gateway speaks to the upstream.
    public enum HTTPProtocol: String, Sendable, Hashable, Codable, CaseIterable {
        case http1 = "HTTP/1.1"
        /// Over https the upstream must select `h2` by ALPN; over http it is h2c with prior knowledge.
        case http2 = "HTTP/2"
    }

    /// The protocol when `protocol` is absent, unless a Service port's `appProtocol` says otherwise.
    public static let defaultProtocol = HTTPProtocol.http1
    /// The Service port `appProtocol` that means HTTP/2 without TLS.
    public static let h2cAppProtocol = "kubernetes.io/h2c"

    /// An absolute `http` or `https` URL; its path, if any, is prepended to the request path.
    public var url: String?
    public var service: ServiceReference?
    /// A Tunnel in this namespace that carries the upstream traffic.
    public var tunnelRef: LocalObjectReference?
    public var tls: UpstreamTLS?
    public var rewrite: PathRewrite?
    /// Whether the client's own Authorization and Proxy-Authorization headers reach the upstream.
    public var forwardClientCredentials: Bool?
    /// The HTTP version spoken to the upstream; absent means HTTP/1.1, or HTTP/2 for a Service port whose
    /// `appProtocol` is `kubernetes.io/h2c`.
    public var `protocol`: HTTPProtocol?

    public init(
        url: String? = nil,
        service: ServiceReference? = nil,
        tunnelRef: LocalObjectReference? = nil,
        tls: UpstreamTLS? = nil,
        rewrite: PathRewrite? = nil,
        forwardClientCredentials: Bool? = nil,
        protocol: HTTPProtocol? = nil
    ) {
        self.url = url
        self.service = service
        self.tunnelRef = tunnelRef
        self.tls = tls
        self.rewrite = rewrite
        self.forwardClientCredentials = forwardClientCredentials
        self.protocol = `protocol`
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case url, service, tunnelRef, tls, rewrite, forwardClientCredentials, `protocol` }
}

/// A Kubernetes Service in the Route's namespace.
public struct ServiceReference: Sendable, Hashable, Codable {
    public enum Scheme: String, Sendable, Hashable, Codable, CaseIterable {
        case http
        case https
    }

    public static let defaultScheme = Scheme.http

    public var name: String
    public var port: Int
    public var scheme: Scheme?

    public init(name: String, port: Int, scheme: Scheme? = nil) {
        self.name = name
        self.port = port
        self.scheme = scheme
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, port, scheme }
}

/// How the gateway verifies an `https` upstream.
public struct UpstreamTLS: Sendable, Hashable, Codable {
    /// A Secret holding the CA bundle to trust instead of the system roots.
    public var caSecretRef: SecretKeyReference?
    /// The name sent as SNI and verified in the certificate; defaults to the upstream host.
    public var serverName: String?
    /// Skips certificate verification. Only for tests; the connection is then not authenticated.
    public var insecureSkipVerify: Bool?

    public init(caSecretRef: SecretKeyReference? = nil, serverName: String? = nil, insecureSkipVerify: Bool? = nil) {
        self.caSecretRef = caSecretRef
        self.serverName = serverName
        self.insecureSkipVerify = insecureSkipVerify
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case caSecretRef, serverName, insecureSkipVerify }
}

/// A key of a Secret in the same namespace.
public struct SecretKeyReference: Sendable, Hashable, Codable {
    public var name: String
    public var key: String?

    public init(name: String, key: String? = nil) {
        self.name = name
        self.key = key
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, key }
}

/// Rewrites the request path before it goes upstream.
public struct PathRewrite: Sendable, Hashable, Codable {
    /// Replaces the matched PathPrefix.
    public var pathPrefix: String?

    public init(pathPrefix: String? = nil) { self.pathPrefix = pathPrefix }

    enum CodingKeys: String, CodingKey, CaseIterable { case pathPrefix }
}

/// Time limits for a request.
public struct Timeouts: Sendable, Hashable, Codable {
    public static let defaultRequest = APIDuration(.seconds(15))
    public static let defaultConnect = APIDuration(.seconds(2))
    public static let defaultIdle = APIDuration(.seconds(60))

    /// The whole request, retries and backoff included; `0` means no limit.
    public var request: APIDuration?
    /// Each attempt; absent means only the request limit applies.
    public var perTry: APIDuration?
    /// Establishing a connection to the upstream (TCP and TLS).
    public var connect: APIDuration?
    /// The longest an in-flight request may go without a byte in either direction.
    public var idle: APIDuration?

    public init(request: APIDuration? = nil, perTry: APIDuration? = nil, connect: APIDuration? = nil, idle: APIDuration? = nil) {
        self.request = request
        self.perTry = perTry
        self.connect = connect
        self.idle = idle
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case request, perTry, connect, idle }
}

/// When and how failed attempts are retried.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// A failure that may trigger a retry.
    public enum Condition: String, Sendable, Hashable, Codable, CaseIterable {
        /// The connection could not be established; the upstream never saw the request.
        case connectFailure = "connect-failure"
        /// An HTTP/2 upstream refused the stream (REFUSED_STREAM); it never processed the request.
        case refusedStream = "refused-stream"
        /// The connection was reset before any of the request was written.
        case resetBeforeRequest = "reset-before-request"
        /// The connection was reset at any point; the upstream may have processed the request.
        case reset
        /// The attempt hit the per-try timeout; the upstream may have processed the request.
        case timeout
    }

    public static let defaultAttempts = 2
    public static let defaultConditions: [Condition] = [.connectFailure, .refusedStream, .resetBeforeRequest]

    /// Attempts in total, the first included; 1 disables retries.
    public var attempts: Int?
    /// Named `retryOn` because YAML 1.1 readers (kubectl among them) take a bare `on` key for `true`.
    public var retryOn: [Condition]?
    /// Response statuses that are retried (408, 429 and 5xx).
    public var statuses: [Int]?
    /// Retry only idempotent methods, or requests with an Idempotency-Key header.
    public var idempotentOnly: Bool?
    public var backoff: Backoff?
    public var budget: RetryBudget?
    /// Wait as long as a 429 or 503 response's Retry-After says, within the request deadline.
    public var honorRetryAfter: Bool?

    public init(
        attempts: Int? = nil,
        retryOn: [Condition]? = nil,
        statuses: [Int]? = nil,
        idempotentOnly: Bool? = nil,
        backoff: Backoff? = nil,
        budget: RetryBudget? = nil,
        honorRetryAfter: Bool? = nil
    ) {
        self.attempts = attempts
        self.retryOn = retryOn
        self.statuses = statuses
        self.idempotentOnly = idempotentOnly
        self.backoff = backoff
        self.budget = budget
        self.honorRetryAfter = honorRetryAfter
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case attempts, retryOn, statuses, idempotentOnly, backoff, budget, honorRetryAfter }
}

/// Exponential backoff between attempts: `min(max, base * 2^(retry-1))` for retry 1, 2, ..., then jittered.
public struct Backoff: Sendable, Hashable, Codable {
    public enum Jitter: String, Sendable, Hashable, Codable, CaseIterable {
        /// A uniform random wait in [0, d].
        case full = "Full"
        /// d/2 plus a uniform random wait in [0, d/2].
        case equal = "Equal"
        /// Exactly d.
        case none = "None"
    }

    public static let defaultBase = APIDuration(.milliseconds(25))
    public static let defaultMax = APIDuration(.milliseconds(250))
    public static let defaultJitter = Jitter.full

    public var base: APIDuration?
    public var max: APIDuration?
    public var jitter: Jitter?

    public init(base: APIDuration? = nil, max: APIDuration? = nil, jitter: Jitter? = nil) {
        self.base = base
        self.max = max
        self.jitter = jitter
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case base, max, jitter }
}

/// Caps retries to an upstream so an outage cannot multiply its load.
public struct RetryBudget: Sendable, Hashable, Codable {
    public static let defaultPercent = 20
    public static let defaultMinPerSecond = 3

    /// Retries in flight may be at most this percentage of the requests in flight.
    public var percent: Int?
    /// Retries per second always allowed, whatever the percentage says.
    public var minPerSecond: Int?

    public init(percent: Int? = nil, minPerSecond: Int? = nil) {
        self.percent = percent
        self.minPerSecond = minPerSecond
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case percent, minPerSecond }
}

/// A circuit breaker per upstream, with Resilience4j's semantics.
public struct CircuitBreakerPolicy: Sendable, Hashable, Codable {
    /// Which failures count against the upstream.
    public enum FailureCondition: String, Sendable, Hashable, Codable, CaseIterable {
        case connectFailure = "connect-failure"
        case timeout
        case reset
    }

    /// Whether breaker state is agreed between gateway replicas.
    public enum Scope: String, Sendable, Hashable, Codable, CaseIterable {
        /// A breaker opened on one replica opens on all.
        case shared = "Shared"
        /// Each replica keeps its own breaker.
        case replica = "Replica"
    }

    public static let defaultMinimumCalls = 20
    public static let defaultFailureRatePercent = 50
    public static let defaultOpenDuration = APIDuration(.seconds(30))
    public static let defaultMaxOpenDuration = APIDuration(.seconds(300))
    public static let defaultHalfOpenProbes = 3
    public static let defaultFailOn: [FailureCondition] = [.connectFailure, .timeout, .reset]
    public static let defaultFailOnStatuses = [502, 503, 504]
    public static let defaultScope = Scope.shared

    public var window: SlidingWindow?
    /// Calls recorded in the window before the failure rate can open the breaker.
    public var minimumCalls: Int?
    public var failureRatePercent: Int?
    public var slowCall: SlowCall?
    /// Opens after this many failures in a row, whatever the rate; absent disables it.
    public var consecutiveFailures: Int?
    /// How long the breaker stays open after its first trip.
    public var openDuration: APIDuration?
    /// The longest open period: repeated trips double the open period, with jitter, up to this.
    public var maxOpenDuration: APIDuration?
    /// Trial requests admitted while half-open; all must succeed to close the breaker.
    public var halfOpenProbes: Int?
    public var failOn: [FailureCondition]?
    /// Response statuses that count as failures (500–599; a 4xx is never the upstream's failure).
    public var failOnStatuses: [Int]?
    public var scope: Scope?

    public init(
        window: SlidingWindow? = nil,
        minimumCalls: Int? = nil,
        failureRatePercent: Int? = nil,
        slowCall: SlowCall? = nil,
        consecutiveFailures: Int? = nil,
        openDuration: APIDuration? = nil,
        maxOpenDuration: APIDuration? = nil,
        halfOpenProbes: Int? = nil,
        failOn: [FailureCondition]? = nil,
        failOnStatuses: [Int]? = nil,
        scope: Scope? = nil
    ) {
        self.window = window
        self.minimumCalls = minimumCalls
        self.failureRatePercent = failureRatePercent
        self.slowCall = slowCall
        self.consecutiveFailures = consecutiveFailures
        self.openDuration = openDuration
        self.maxOpenDuration = maxOpenDuration
        self.halfOpenProbes = halfOpenProbes
        self.failOn = failOn
        self.failOnStatuses = failOnStatuses
        self.scope = scope
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case window, minimumCalls, failureRatePercent, slowCall, consecutiveFailures, openDuration, maxOpenDuration
        case halfOpenProbes, failOn, failOnStatuses, scope
    }
}

/// The window over which a breaker computes its failure rate.
public struct SlidingWindow: Sendable, Hashable, Codable {
    public enum WindowType: String, Sendable, Hashable, Codable, CaseIterable {
        /// The last `size` calls.
        case count = "Count"
        /// The calls of the last `size` seconds.
        case time = "Time"
    }

    public static let defaultType = WindowType.count
    public static let defaultSize = 100
    /// The longest time window, in seconds.
    public static let maximumTimeWindowSeconds = 3600

    public var type: WindowType?
    /// Calls (Count) or seconds (Time).
    public var size: Int?

    public init(type: WindowType? = nil, size: Int? = nil) {
        self.type = type
        self.size = size
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case type, size }
}

/// Calls slower than `duration` count as slow; too many slow calls open the breaker.
public struct SlowCall: Sendable, Hashable, Codable {
    public static let defaultRatePercent = 100

    public var duration: APIDuration
    public var ratePercent: Int?

    public init(duration: APIDuration, ratePercent: Int? = nil) {
        self.duration = duration
        self.ratePercent = ratePercent
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case duration, ratePercent }
}

/// A bulkhead: how many requests may be in flight to the upstream, and how many may wait.
public struct ConcurrencyLimits: Sendable, Hashable, Codable {
    public static let defaultMaxRequests = 1024
    public static let defaultMaxPending = 1024

    public var maxRequests: Int?
    /// Requests waiting for a slot; beyond this they get 503 at once.
    public var maxPending: Int?

    public init(maxRequests: Int? = nil, maxPending: Int? = nil) {
        self.maxRequests = maxRequests
        self.maxPending = maxPending
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case maxRequests, maxPending }
}

/// What the gateway answers when the breaker is open or every attempt failed.
public struct Fallback: Sendable, Hashable, Codable {
    /// A degraded-mode upstream.
    public var upstream: Upstream?
    /// A static response.
    public var response: StaticResponse?

    public init(upstream: Upstream? = nil, response: StaticResponse? = nil) {
        self.upstream = upstream
        self.response = response
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case upstream, response }
}

/// A fixed response served by the gateway itself.
public struct StaticResponse: Sendable, Hashable, Codable {
    public static let defaultStatus = 503
    public static let defaultContentType = "text/plain; charset=utf-8"
    /// The largest body, in bytes.
    public static let maximumBodyLength = 65536

    public var status: Int?
    public var contentType: String?
    public var body: String?

    public init(status: Int? = nil, contentType: String? = nil, body: String? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case status, contentType, body }
}
