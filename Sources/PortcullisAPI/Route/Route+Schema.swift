public import Kubernetes

extension Route {
    public static let kind = "Route"
    public static let plural = "routes"
    public static let shortNames = ["rt"]
    public static let summary =
        "Route says how requests reach an upstream: which requests match, where they go, how long they may take, how failures are retried or cut off, and which UpstreamAuths prove the gateway's identity to the upstream."

    public static var printerColumns: [CustomResourceDefinition.PrinterColumn] {
        [
            .init(name: "Path", type: "string", jsonPath: ".spec.match.path.value", description: "The path the Route matches."),
            .init(name: "Upstream", type: "string", jsonPath: ".status.upstream", description: "The upstream origin requests go to."),
            .init(name: "Breaker", type: "string", jsonPath: ".status.circuitBreaker.state", description: "The circuit breaker state."),
            conditionColumn("Ready"),
            ageColumn,
            .init(name: "Hosts", type: "string", jsonPath: ".spec.hostnames", description: "The host names the Route answers for.", priority: 1),
            .init(
                name: "Open-Replicas", type: "integer", jsonPath: ".status.circuitBreaker.openReplicas",
                description: "How many gateway replicas have the circuit breaker open.", priority: 1
            ),
        ]
    }

    public static var specSchema: JSONSchemaProps {
        .object(
            "The desired state of the Route.",
            keyedBy: RouteSpec.CodingKeys.self,
            required: [.upstream],
            [
                .hostnames: .array(
                    "Host names the Route answers for: exact names (api.example.com) or one leading wildcard label (*.example.com, which matches one or more labels). Empty means any host.",
                    of: .string("A host name, lowercase, without a port.", pattern: hostnamePattern, maxLength: 253),
                    maxItems: 64
                ),
                .match: matchSchema,
                .upstream: upstreamSchema(
                    "Where matching requests go: exactly one of url or service, optionally through a Tunnel."
                ).rule(
                    "has(self.url) != has(self.service)",
                    message: "exactly one of url, service must be set"
                ),
                .authRefs: .array(
                    "UpstreamAuths in this namespace that prove the gateway's identity to the upstream, applied in order, so that mTLS, a cloud token and a gateway JWT can be layered.",
                    of: CommonSchemas.localObjectReference("An UpstreamAuth to apply.", kind: "UpstreamAuth"),
                    maxItems: 8
                ),
                .timeouts: timeoutsSchema,
                .retries: retriesSchema,
                .circuitBreaker: circuitBreakerSchema,
                .concurrency: .object(
                    "A bulkhead: how many requests may be in flight to the upstream and how many may wait for a slot. Excess requests get 503 at once, so one slow upstream cannot tie up the gateway.",
                    keyedBy: ConcurrencyLimits.CodingKeys.self,
                    [
                        .maxRequests: .integer(
                            "Requests in flight to the upstream at most.",
                            minimum: 1,
                            maximum: 1_000_000,
                            default: Int64(ConcurrencyLimits.defaultMaxRequests)
                        ),
                        .maxPending: .integer(
                            "Requests waiting for a slot at most; 0 rejects at once when all slots are taken.",
                            minimum: 0,
                            maximum: 1_000_000,
                            default: Int64(ConcurrencyLimits.defaultMaxPending)
                        ),
                    ]
                ),
                .maxRequestBodyBytes: .integer(
                    "The largest request body the gateway takes, in bytes: a request whose Content-Length is larger, or whose streamed body grows larger, gets 413 and its connection is closed. Absent: no limit; bodies stream to the upstream without being buffered.",
                    minimum: 1,
                    maximum: 1 << 50,
                    format: "int64"
                ),
                .fallback: .object(
                    "What the gateway answers when the circuit breaker is open or every attempt failed: exactly one of a degraded-mode upstream or a static response.",
                    keyedBy: Fallback.CodingKeys.self,
                    [
                        .upstream: upstreamSchema("A degraded-mode upstream: exactly one of url or service.").rule(
                            "has(self.url) != has(self.service)",
                            message: "exactly one of url, service must be set"
                        ),
                        .response: .object(
                            "A static response served by the gateway.",
                            keyedBy: StaticResponse.CodingKeys.self,
                            [
                                .status: .integer(
                                    "The response status.",
                                    minimum: 200,
                                    maximum: 599,
                                    default: Int64(StaticResponse.defaultStatus)
                                ),
                                .contentType: .string(
                                    "The Content-Type of the body: printable ASCII and spaces.",
                                    pattern: CommonSchemas.headerTextPattern,
                                    maxLength: 256,
                                    default: StaticResponse.defaultContentType
                                ),
                                .body: .string("The response body.", maxLength: StaticResponse.maximumBodyLength),
                            ]
                        ),
                    ]
                ).rule("has(self.upstream) != has(self.response)", message: "exactly one of upstream, response must be set"),
            ]
        )
    }

    /// A lowercase DNS name, optionally with one leading `*.` wildcard label.
    static let hostnamePattern = #"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#

    private static var matchSchema: JSONSchemaProps {
        .object(
            "Which requests the Route takes; every condition given must hold. Absent means every request for the Route's hosts. When several Routes match, the most specific wins: exact path, then the longest prefix, then more headers, then methods.",
            keyedBy: RouteMatch.CodingKeys.self,
            [
                .path: .object(
                    "A match on the request path.",
                    keyedBy: PathMatch.CodingKeys.self,
                    required: [.value],
                    [
                        .type: .enum(
                            "PathPrefix matches whole path segments (/api matches /api and /api/v1, not /apis); Exact matches the path alone; RegularExpression is an anchored regular expression over the whole path.",
                            PathMatch.MatchType.self,
                            default: PathMatch.defaultType
                        ),
                        .value: .string("The path, or the regular expression.", minLength: 1, maxLength: 1024),
                    ]
                ),
                .methods: .array(
                    "HTTP methods (uppercase); empty means any method.",
                    of: .string("An HTTP method.", pattern: "^[A-Z]+$", maxLength: 32),
                    maxItems: 16
                ),
                .headers: .array(
                    "Request headers that must be present with exactly these values (names are case-insensitive).",
                    of: .object(
                        "A header that must be present with an exact value.",
                        keyedBy: HeaderMatch.CodingKeys.self,
                        required: [.name, .value],
                        [
                            .name: .string("The header name.", pattern: CommonSchemas.headerNamePattern, maxLength: 256),
                            .value: .string("The exact header value.", maxLength: 4096),
                        ]
                    ),
                    maxItems: 16
                ),
            ]
        )
    }

    static func upstreamSchema(_ description: String) -> JSONSchemaProps {
        .object(
            description,
            keyedBy: Upstream.CodingKeys.self,
            [
                .url: .string(
                    "An absolute http or https URL. A path in it is put in front of the request path.",
                    pattern: "^https?://",
                    maxLength: 2048
                ),
                .service: .object(
                    "A Service in the Route's namespace.",
                    keyedBy: ServiceReference.CodingKeys.self,
                    required: [.name, .port],
                    [
                        .name: .string("The Service name.", pattern: CommonSchemas.dnsLabelPattern, maxLength: 63),
                        .port: .integer("The Service port.", minimum: 1, maximum: 65535),
                        .scheme: .enum("http or https.", ServiceReference.Scheme.self, default: ServiceReference.defaultScheme),
                    ]
                ),
                .tunnelRef: CommonSchemas.localObjectReference(
                    "A Tunnel in this namespace that carries the upstream traffic to a private network.",
                    kind: "Tunnel"
                ),
                .tls: .object(
                    "How the gateway verifies an https upstream. By default the certificate is verified against the system roots and the upstream host name.",
                    keyedBy: UpstreamTLS.CodingKeys.self,
                    [
                        .caSecretRef: CommonSchemas.secretKeyReference(
                            "A Secret with the PEM CA bundle to trust instead of the system roots.",
                            defaultKey: "ca.crt"
                        ),
                        .serverName: .string(
                            "The name sent as SNI and verified in the certificate; defaults to the upstream host.",
                            pattern: hostnamePattern,
                            maxLength: 253
                        ),
                        .insecureSkipVerify: .boolean(
                            "Skip certificate verification. For tests only: the upstream is then not authenticated.",
                            default: false
                        ),
                    ]
                ),
                .rewrite: .object(
                    "Rewrites the request path before it goes upstream.",
                    keyedBy: PathRewrite.CodingKeys.self,
                    [
                        .pathPrefix: .string(
                            "Replaces the matched path prefix (the Route must match with type PathPrefix).",
                            maxLength: 1024
                        )
                    ]
                ),
                .forwardClientCredentials: .boolean(
                    "Forward the client's own Authorization and Proxy-Authorization headers to the upstream. Off by default: inbound credentials are meant for the gateway, not the backend. A header an UpstreamAuth sets is never forwarded.",
                    default: false
                ),
                .protocol: .enum(
                    "The HTTP version spoken to the upstream. HTTP/2 over https requires the upstream to select h2 by TLS ALPN; over http it is h2c with prior knowledge. Requests are then streams multiplexed on as few connections as the upstream allows. Absent means HTTP/1.1, or HTTP/2 when the Service port's appProtocol is kubernetes.io/h2c.",
                    Upstream.HTTPProtocol.self
                ),
            ]
        )
    }

    private static var timeoutsSchema: JSONSchemaProps {
        .object(
            "Time limits. A request that runs out of time gets 504.",
            keyedBy: Timeouts.CodingKeys.self,
            [
                .request: .duration(
                    "The whole request, retries and backoff included; 0 means no limit (for streaming).",
                    default: Timeouts.defaultRequest.description
                ),
                .perTry: .duration("Each attempt; absent means each attempt may use what is left of the request limit."),
                .connect: .duration(
                    "Establishing a connection to the upstream, TLS included.",
                    default: Timeouts.defaultConnect.description
                ),
                .idle: .duration(
                    "The longest an in-flight request may go without a byte in either direction.",
                    default: Timeouts.defaultIdle.description
                ),
            ]
        )
    }

    private static var retriesSchema: JSONSchemaProps {
        .object(
            "When failed attempts are retried. By default only failures that provably never reached the upstream are retried, only for idempotent requests, under a retry budget.",
            keyedBy: RetryPolicy.CodingKeys.self,
            [
                .attempts: .integer(
                    "Attempts in total, the first included; 1 disables retries.",
                    minimum: 1,
                    maximum: 10,
                    default: Int64(RetryPolicy.defaultAttempts)
                ),
                .retryOn: .array(
                    "The failures that are retried. connect-failure, refused-stream and reset-before-request never reached the upstream; reset and timeout may have.",
                    of: .enum("A failure condition.", RetryPolicy.Condition.self),
                    maxItems: 5,
                    listType: "set",
                    default: .array(RetryPolicy.defaultConditions.map { .string($0.rawValue) })
                ),
                .statuses: .array(
                    "Response statuses that are retried: 408, 429 or 500–599. None by default.",
                    of: .integer("A response status.", minimum: 408, maximum: 599),
                    maxItems: 16,
                    listType: "set"
                ),
                .idempotentOnly: .boolean(
                    "Retry only idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE) and requests with an Idempotency-Key header.",
                    default: true
                ),
                .backoff: .object(
                    "Exponential backoff between attempts: min(max, base × 2^(retry−1)), then jittered.",
                    keyedBy: Backoff.CodingKeys.self,
                    [
                        .base: .duration("The first backoff.", default: Backoff.defaultBase.description),
                        .max: .duration("The longest backoff; at least base.", default: Backoff.defaultMax.description),
                        .jitter: .enum(
                            "Full waits a uniform random time in [0, d]; Equal waits d/2 plus a random time in [0, d/2]; None waits exactly d.",
                            Backoff.Jitter.self,
                            default: Backoff.defaultJitter
                        ),
                    ]
                ),
                .budget: .object(
                    "Caps retries to the upstream, shared by all its requests, so an outage cannot multiply load.",
                    keyedBy: RetryBudget.CodingKeys.self,
                    [
                        .percent: .integer(
                            "Retries in flight may be at most this percentage of the requests in flight.",
                            minimum: 0,
                            maximum: 100,
                            default: Int64(RetryBudget.defaultPercent)
                        ),
                        .minPerSecond: .integer(
                            "Retries per second always allowed, whatever the percentage.",
                            minimum: 0,
                            maximum: 10000,
                            default: Int64(RetryBudget.defaultMinPerSecond)
                        ),
                    ]
                ),
                .honorRetryAfter: .boolean(
                    "Wait as long as a 429 or 503 response's Retry-After says before retrying, if the request deadline allows; otherwise that response is returned.",
                    default: true
                ),
            ]
        )
    }

    private static var circuitBreakerSchema: JSONSchemaProps {
        .object(
            "A circuit breaker for the upstream (Resilience4j semantics). Closed: calls pass and are recorded. Open: calls fail fast with 503 and Retry-After without reaching the upstream. HalfOpen: a few probe calls decide between Closed and Open. Absent means no breaker.",
            keyedBy: CircuitBreakerPolicy.CodingKeys.self,
            [
                .window: .object(
                    "The sliding window over which the failure rate is computed.",
                    keyedBy: SlidingWindow.CodingKeys.self,
                    [
                        .type: .enum(
                            "Count: the last size calls. Time: the calls of the last size seconds.",
                            SlidingWindow.WindowType.self,
                            default: SlidingWindow.defaultType
                        ),
                        .size: .integer(
                            "Calls (Count) or seconds (Time, at most 3600).",
                            minimum: 1,
                            maximum: 10000,
                            default: Int64(SlidingWindow.defaultSize)
                        ),
                    ]
                ),
                .minimumCalls: .integer(
                    "Calls recorded in the window before the failure rate can open the breaker.",
                    minimum: 1,
                    maximum: 10000,
                    default: Int64(CircuitBreakerPolicy.defaultMinimumCalls)
                ),
                .failureRatePercent: .integer(
                    "The breaker opens when at least this percentage of the window's calls failed.",
                    minimum: 1,
                    maximum: 100,
                    default: Int64(CircuitBreakerPolicy.defaultFailureRatePercent)
                ),
                .slowCall: .object(
                    "Slow calls: calls slower than duration are recorded as slow, and the breaker opens when at least ratePercent of the window's calls were slow.",
                    keyedBy: SlowCall.CodingKeys.self,
                    required: [.duration],
                    [
                        .duration: .duration("Calls slower than this are slow."),
                        .ratePercent: .integer(
                            "The slow-call percentage that opens the breaker.",
                            minimum: 1,
                            maximum: 100,
                            default: Int64(SlowCall.defaultRatePercent)
                        ),
                    ]
                ),
                .consecutiveFailures: .integer(
                    "Open after this many failures in a row, whatever the rate. Absent disables it.",
                    minimum: 1,
                    maximum: 10000
                ),
                .openDuration: .duration(
                    "How long the breaker stays open after a trip before it lets probes through.",
                    default: CircuitBreakerPolicy.defaultOpenDuration.description
                ),
                .maxOpenDuration: .duration(
                    "The longest open period: each trip in a row doubles the open period, with jitter, up to this.",
                    default: CircuitBreakerPolicy.defaultMaxOpenDuration.description
                ),
                .halfOpenProbes: .integer(
                    "Probe calls admitted while half-open; all must succeed to close the breaker, and one failure opens it again.",
                    minimum: 1,
                    maximum: 100,
                    default: Int64(CircuitBreakerPolicy.defaultHalfOpenProbes)
                ),
                .failOn: .array(
                    "The transport failures that count against the upstream.",
                    of: .enum("A failure condition.", CircuitBreakerPolicy.FailureCondition.self),
                    maxItems: 3,
                    listType: "set",
                    default: .array(CircuitBreakerPolicy.defaultFailOn.map { .string($0.rawValue) })
                ),
                .failOnStatuses: .array(
                    "Response statuses that count as failures, 500–599. A 4xx is the client's failure and never counts.",
                    of: .integer("A response status.", minimum: 500, maximum: 599),
                    maxItems: 100,
                    listType: "set",
                    default: .array(CircuitBreakerPolicy.defaultFailOnStatuses.map { .integer(Int64($0)) })
                ),
                .scope: .enum(
                    "Shared: a breaker opened on one gateway replica opens on all. Replica: each replica keeps its own.",
                    CircuitBreakerPolicy.Scope.self,
                    default: CircuitBreakerPolicy.defaultScope
                ),
            ]
        )
    }

    public static var statusSchema: JSONSchemaProps {
        .object(
            "The observed state of the Route.",
            keyedBy: RouteStatus.CodingKeys.self,
            [
                .observedGeneration: CommonSchemas.observedGeneration,
                .conditions: CommonSchemas.conditions(
                    "Accepted: the spec is valid. ResolvedRefs: every referenced object exists and is usable. Ready: every gateway replica serves this generation."
                ),
                .upstream: .string("The upstream origin requests go to."),
                .circuitBreaker: .object(
                    "The circuit breaker as the gateway replicas see it: the leader's breaker, and how many replicas have theirs open or half-open.",
                    keyedBy: CircuitBreakerStatus.CodingKeys.self,
                    required: [.state],
                    [
                        .state: .enum("The leader's breaker: Closed, Open or HalfOpen.", CircuitBreakerStatus.State.self),
                        .since: .string("When the leader's breaker entered this state.", format: "date-time"),
                        .failureRate: .integer("The failure rate over the leader's current window, in percent.", minimum: 0, maximum: 100),
                        .trips: .integer("How many times the leader's breaker has opened.", minimum: 0, format: "int64"),
                        .openReplicas: .integer("Gateway replicas whose breaker is open, the leader included.", minimum: 0),
                        .halfOpenReplicas: .integer("Gateway replicas whose breaker is half-open, the leader included.", minimum: 0),
                        .replicas: .integer(
                            "Gateway replicas reporting their breakers, the leader included; set while any of them has this breaker open or half-open.",
                            minimum: 0
                        ),
                        .unreportedReplicas: .integer(
                            "Replicas whose report of breakers that are not Closed was too long for their Lease and was cut off before this Route; they are not counted. Absent when none.",
                            minimum: 0
                        ),
                    ]
                ),
                .replicas: .object(
                    "How many gateway replicas serve the current generation.",
                    keyedBy: ReplicaCounts.CodingKeys.self,
                    required: [.ready, .total],
                    [
                        .ready: .integer("Replicas serving the current generation.", minimum: 0),
                        .total: .integer("Replicas running.", minimum: 0),
                    ]
                ),
            ]
        )
    }
}
