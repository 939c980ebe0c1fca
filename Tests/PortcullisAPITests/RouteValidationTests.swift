import Kubernetes
import PortcullisAPI
import Testing

/// One semantic rule: a change to a valid Route, and the exact messages it must produce.
struct RouteCase: Sendable, CustomTestStringConvertible {
    var name: String
    var change: @Sendable (inout RouteSpec) -> Void
    var expected: [String]

    var testDescription: String { name }
}

@Suite struct RouteValidationTests {
    static func route(_ change: (inout RouteSpec) -> Void = { _ in }) -> Route {
        var spec = RouteSpec(
            hostnames: ["api.example.com"],
            match: RouteMatch(path: PathMatch(type: .pathPrefix, value: "/api")),
            upstream: Upstream(url: "https://backend.example.com")
        )
        change(&spec)
        return Route(metadata: ObjectMeta(name: "web", namespace: "default"), spec: spec)
    }

    static func d(_ text: String) -> APIDuration { APIDuration(text)! }

    @Test func aFullyConfiguredRouteIsValid() {
        let route = Self.route {
            $0.match = RouteMatch(
                path: PathMatch(type: .pathPrefix, value: "/api"),
                methods: ["GET", "POST"],
                headers: [HeaderMatch(name: "X-Tenant", value: "a")]
            )
            $0.upstream = Upstream(
                service: ServiceReference(name: "backend", port: 8443, scheme: .https),
                tls: UpstreamTLS(caSecretRef: SecretKeyReference(name: "backend-ca"), serverName: "backend.internal"),
                rewrite: PathRewrite(pathPrefix: "/v2")
            )
            $0.authRefs = [LocalObjectReference(name: "mtls"), LocalObjectReference(name: "jwt")]
            $0.timeouts = Timeouts(request: Self.d("10s"), perTry: Self.d("2s"), connect: Self.d("500ms"), idle: Self.d("30s"))
            $0.retries = RetryPolicy(attempts: 3, retryOn: [.connectFailure, .timeout], statuses: [429, 503], backoff: Backoff(base: Self.d("50ms"), max: Self.d("1s")))
            $0.circuitBreaker = CircuitBreakerPolicy(
                window: SlidingWindow(type: .time, size: 60),
                minimumCalls: 100,
                slowCall: SlowCall(duration: Self.d("2s")),
                consecutiveFailures: 5,
                openDuration: Self.d("10s"),
                maxOpenDuration: Self.d("2m")
            )
            $0.fallback = Fallback(response: StaticResponse(status: 503, body: "degraded"))
        }
        #expect(route.validate().isEmpty)
    }

    static let cases: [RouteCase] = [
        RouteCase(name: "fallback content type with a line break",
                  change: { $0.fallback = Fallback(response: StaticResponse(contentType: "text/plain\nX-Injected: yes", body: "degraded")) },
                  expected: [#"spec.fallback.response.contentType: Invalid value: "text/plain\nX-Injected: yes": must be printable ASCII and spaces: it is sent as a header"#]),
        RouteCase(name: "duplicate hostname", change: { $0.hostnames = ["a.example.com", "a.example.com"] },
                  expected: [#"spec.hostnames[1]: Duplicate value: "a.example.com""#]),
        RouteCase(name: "prefix without slash", change: { $0.match = RouteMatch(path: PathMatch(type: .exact, value: "api")) },
                  expected: [#"spec.match.path.value: Invalid value: "api": must start with /"#]),
        RouteCase(name: "prefix with query", change: { $0.match = RouteMatch(path: PathMatch(value: "/api?x=1")) },
                  expected: [#"spec.match.path.value: Invalid value: "/api?x=1": must not contain ? or #"#]),
        RouteCase(name: "empty segment", change: { $0.match = RouteMatch(path: PathMatch(value: "/api//v1")) },
                  expected: [#"spec.match.path.value: Invalid value: "/api//v1": must not contain an empty segment (//)"#]),
        RouteCase(name: "duplicate method", change: { $0.match = RouteMatch(methods: ["GET", "GET"]) },
                  expected: [#"spec.match.methods[1]: Duplicate value: "GET""#]),
        RouteCase(name: "duplicate header, names case-insensitive",
                  change: { $0.match = RouteMatch(headers: [HeaderMatch(name: "X-Tenant", value: "a"), HeaderMatch(name: "x-tenant", value: "b")]) },
                  expected: [#"spec.match.headers[1]: Duplicate value: "x-tenant""#]),
        RouteCase(name: "no upstream target", change: { $0.upstream = Upstream() },
                  expected: ["spec.upstream: Required value: exactly one of url, service must be set"]),
        RouteCase(name: "url and service", change: { $0.upstream.service = ServiceReference(name: "b", port: 80) },
                  expected: ["spec.upstream.service: Forbidden: exactly one of url, service may be set, and url is set"]),
        RouteCase(name: "url not absolute", change: { $0.upstream.url = "backend:8080" },
                  expected: [#"spec.upstream.url: Invalid value: "backend:8080": must be an absolute URL such as https://host/path"#]),
        RouteCase(name: "url scheme", change: { $0.upstream.url = "ftp://files.example.com" },
                  expected: [#"spec.upstream.url: Invalid value: "ftp://files.example.com": scheme must be http or https"#]),
        RouteCase(name: "url with credentials, which are redacted", change: { $0.upstream.url = "https://user:hunter2@backend.example.com" },
                  expected: [#"spec.upstream.url: Invalid value: "<redacted>": must not contain credentials; put them in a Secret"#]),
        RouteCase(name: "url with query", change: { $0.upstream.url = "https://backend.example.com/?a=b" },
                  expected: [#"spec.upstream.url: Invalid value: "https://backend.example.com/?a=b": must not have a query or fragment"#]),
        RouteCase(name: "url port out of range", change: { $0.upstream.url = "http://backend.example.com:70000" },
                  expected: [#"spec.upstream.url: Invalid value: "http://backend.example.com:70000": port must be between 1 and 65535"#]),
        RouteCase(name: "tls on an http upstream", change: { $0.upstream.url = "http://backend.example.com"; $0.upstream.tls = UpstreamTLS(serverName: "b") },
                  expected: ["spec.upstream.tls: Forbidden: applies only to an https upstream, and this upstream is http"]),
        RouteCase(name: "tls on an http service", change: { $0.upstream = Upstream(service: ServiceReference(name: "b", port: 80), tls: UpstreamTLS(serverName: "b")) },
                  expected: ["spec.upstream.tls: Forbidden: applies only to an https upstream, and this upstream is http"]),
        RouteCase(name: "insecureSkipVerify with a CA",
                  change: { $0.upstream.tls = UpstreamTLS(caSecretRef: SecretKeyReference(name: "ca"), insecureSkipVerify: true) },
                  expected: ["spec.upstream.tls.caSecretRef: Forbidden: may not be set when insecureSkipVerify is true"]),
        RouteCase(name: "rewrite without slash", change: { $0.upstream.rewrite = PathRewrite(pathPrefix: "v2") },
                  expected: [#"spec.upstream.rewrite.pathPrefix: Invalid value: "v2": must start with /"#]),
        RouteCase(name: "rewrite of an exact match",
                  change: { $0.match = RouteMatch(path: PathMatch(type: .exact, value: "/a")); $0.upstream.rewrite = PathRewrite(pathPrefix: "/b") },
                  expected: ["spec.upstream.rewrite.pathPrefix: Forbidden: requires spec.match.path.type PathPrefix, and it is Exact"]),
        RouteCase(name: "rewrite without a path match", change: { $0.match = nil; $0.upstream.rewrite = PathRewrite(pathPrefix: "/b") },
                  expected: ["spec.upstream.rewrite.pathPrefix: Forbidden: requires spec.match.path with type PathPrefix"]),
        RouteCase(name: "duplicate authRef", change: { $0.authRefs = [LocalObjectReference(name: "jwt"), LocalObjectReference(name: "jwt")] },
                  expected: [#"spec.authRefs[1]: Duplicate value: "jwt""#]),
        RouteCase(name: "zero per-try timeout", change: { $0.timeouts = Timeouts(perTry: d("0s")) },
                  expected: [#"spec.timeouts.perTry: Invalid value: "0s": must be greater than 0"#]),
        RouteCase(name: "per-try longer than request", change: { $0.timeouts = Timeouts(request: d("1s"), perTry: d("2s"), connect: d("100ms")) },
                  expected: [#"spec.timeouts.request: Invalid value: "1s": must be >= perTry 2s"#]),
        RouteCase(name: "default connect longer than request", change: { $0.timeouts = Timeouts(request: d("1s")) },
                  expected: [#"spec.timeouts.request: Invalid value: "1s": must be >= connect 2s"#]),
        RouteCase(name: "unlimited request allows any per-try", change: { $0.timeouts = Timeouts(request: d("0"), perTry: d("1h")) },
                  expected: []),
        RouteCase(name: "zero connect timeout", change: { $0.timeouts = Timeouts(connect: d("0s")) },
                  expected: [#"spec.timeouts.connect: Invalid value: "0s": must be greater than 0"#]),
        RouteCase(name: "zero idle timeout", change: { $0.timeouts = Timeouts(idle: d("0s")) },
                  expected: [#"spec.timeouts.idle: Invalid value: "0s": must be greater than 0"#]),
        RouteCase(name: "retrying a 4xx", change: { $0.retries = RetryPolicy(statuses: [503, 404]) },
                  expected: ["spec.retries.statuses[1]: Invalid value: 404: only 408, 429 and 500–599 may be retried"]),
        RouteCase(name: "backoff max below base", change: { $0.retries = RetryPolicy(backoff: Backoff(max: d("10ms"))) },
                  expected: [#"spec.retries.backoff.max: Invalid value: "10ms": must be >= base 25ms"#]),
        RouteCase(name: "time window over an hour",
                  change: { $0.circuitBreaker = CircuitBreakerPolicy(window: SlidingWindow(type: .time, size: 7200)) },
                  expected: ["spec.circuitBreaker.window.size: Invalid value: 7200: a Time window may be at most 3600 seconds"]),
        RouteCase(name: "minimum calls beyond a count window",
                  change: { $0.circuitBreaker = CircuitBreakerPolicy(window: SlidingWindow(size: 10), minimumCalls: 50) },
                  expected: ["spec.circuitBreaker.minimumCalls: Invalid value: 50: must be <= window.size 10, or the breaker could never open on its failure rate"]),
        RouteCase(name: "zero open duration", change: { $0.circuitBreaker = CircuitBreakerPolicy(openDuration: d("0s")) },
                  expected: [#"spec.circuitBreaker.openDuration: Invalid value: "0s": must be greater than 0"#]),
        RouteCase(name: "max open below open", change: { $0.circuitBreaker = CircuitBreakerPolicy(maxOpenDuration: d("10s")) },
                  expected: [#"spec.circuitBreaker.maxOpenDuration: Invalid value: "10s": must be >= openDuration 30s"#]),
        RouteCase(name: "zero slow-call duration", change: { $0.circuitBreaker = CircuitBreakerPolicy(slowCall: SlowCall(duration: d("0s"))) },
                  expected: [#"spec.circuitBreaker.slowCall.duration: Invalid value: "0s": must be greater than 0"#]),
        RouteCase(name: "empty fallback", change: { $0.fallback = Fallback() },
                  expected: ["spec.fallback: Required value: exactly one of upstream, response must be set"]),
        RouteCase(name: "fallback with both",
                  change: { $0.fallback = Fallback(upstream: Upstream(url: "http://degraded:8080"), response: StaticResponse()) },
                  expected: ["spec.fallback.response: Forbidden: exactly one of upstream, response may be set, and upstream is set"]),
        RouteCase(name: "fallback upstream may rewrite the matched prefix",
                  change: { $0.fallback = Fallback(upstream: Upstream(url: "http://degraded:8080", rewrite: PathRewrite(pathPrefix: "/cached"))) },
                  expected: []),
        RouteCase(name: "fallback upstream is validated like the upstream", change: { $0.fallback = Fallback(upstream: Upstream(url: "degraded")) },
                  expected: [#"spec.fallback.upstream.url: Invalid value: "degraded": must be an absolute URL such as https://host/path"#]),
    ]

    @Test(arguments: cases)
    func eachRuleNamesTheFieldAndTheValue(_ testCase: RouteCase) {
        #expect(Self.route(testCase.change).validate().map(\.description) == testCase.expected)
    }

    @Test func anInvalidRegularExpressionIsReported() throws {
        let errors = Self.route { $0.match = RouteMatch(path: PathMatch(type: .regularExpression, value: "^/(a")) }.validate()
        let error = try #require(errors.first)
        #expect(errors.count == 1)
        #expect(error.field == "spec.match.path.value")
        #expect(error.message.hasPrefix(#"Invalid value: "^/(a": is not a valid regular expression"#))
    }

    @Test func everyProblemIsReportedAtOnce() {
        let route = Self.route {
            $0.upstream = Upstream()
            $0.retries = RetryPolicy(backoff: Backoff(base: Self.d("1s"), max: Self.d("100ms")))
            $0.timeouts = Timeouts(idle: Self.d("0s"))
        }
        #expect(route.validate().count == 3)
    }
}
