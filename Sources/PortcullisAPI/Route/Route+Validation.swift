public import Kubernetes

extension Route {
    /// The HTTP methods the gateway treats as idempotent (RFC 9110 §9.2.2).
    public static let idempotentMethods: Set<String> = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]

    /// Semantic rules the schema cannot express; see docs/api.md.
    public func validate() -> [FieldError] {
        var checks = FieldChecks()
        let spec = FieldPath("spec")

        checks.unique(spec.child("hostnames"), self.spec.hostnames, key: { $0 })
        if let match = self.spec.match { Route.validate(match, at: spec.child("match"), checks: &checks) }
        Route.validate(self.spec.upstream, at: spec.child("upstream"), match: self.spec.match, checks: &checks)
        checks.unique(spec.child("authRefs"), self.spec.authRefs, key: \.name)
        if let timeouts = self.spec.timeouts { Route.validate(timeouts, at: spec.child("timeouts"), checks: &checks) }
        if let retries = self.spec.retries { Route.validate(retries, at: spec.child("retries"), checks: &checks) }
        if let breaker = self.spec.circuitBreaker {
            Route.validate(breaker, at: spec.child("circuitBreaker"), checks: &checks)
        }
        if let fallback = self.spec.fallback {
            let path = spec.child("fallback")
            checks.exactlyOne(path, [("upstream", fallback.upstream != nil), ("response", fallback.response != nil)])
            if let upstream = fallback.upstream {
                Route.validate(upstream, at: path.child("upstream"), match: self.spec.match, checks: &checks)
            }
            if let contentType = fallback.response?.contentType, !SchemaValidator.matches(contentType, pattern: CommonSchemas.headerTextPattern) {
                checks.invalid(path.child("response").child("contentType"), .string(contentType), "must be printable ASCII and spaces: it is sent as a header")
            }
        }
        return checks.errors
    }

    private static func validate(_ match: RouteMatch, at path: FieldPath, checks: inout FieldChecks) {
        if let pathMatch = match.path {
            let valuePath = path.child("path").child("value")
            switch pathMatch.type ?? PathMatch.defaultType {
            case .exact, .pathPrefix:
                if !pathMatch.value.hasPrefix("/") {
                    checks.invalid(valuePath, .string(pathMatch.value), "must start with /")
                }
                if pathMatch.value.contains(where: { $0 == "?" || $0 == "#" }) {
                    checks.invalid(valuePath, .string(pathMatch.value), "must not contain ? or #")
                }
                if pathMatch.value.contains("//") {
                    checks.invalid(valuePath, .string(pathMatch.value), "must not contain an empty segment (//)")
                }
            case .regularExpression:
                checks.regularExpression(valuePath, pathMatch.value)
            }
        }
        checks.unique(path.child("methods"), match.methods, key: { $0 })
        checks.unique(path.child("headers"), match.headers, key: { $0.name.lowercased() })
    }

    private static func validate(_ upstream: Upstream, at path: FieldPath, match: RouteMatch?, checks: inout FieldChecks) {
        checks.exactlyOne(path, [("url", upstream.url != nil), ("service", upstream.service != nil)])
        var scheme: String?
        if let url = upstream.url {
            checks.endpointURL(path.child("url"), url, allowHTTP: true)
            scheme = url.lowercased().hasPrefix("https://") ? "https" : "http"
        }
        if let service = upstream.service {
            scheme = (service.scheme ?? ServiceReference.defaultScheme).rawValue
        }
        if let tls = upstream.tls {
            let tlsPath = path.child("tls")
            if scheme == "http" {
                checks.forbidden(tlsPath, "applies only to an https upstream, and this upstream is http")
            }
            if tls.insecureSkipVerify == true && tls.caSecretRef != nil {
                checks.forbidden(tlsPath.child("caSecretRef"), "may not be set when insecureSkipVerify is true")
            }
        }
        if let rewrite = upstream.rewrite, let prefix = rewrite.pathPrefix {
            let prefixPath = path.child("rewrite").child("pathPrefix")
            if !prefix.hasPrefix("/") {
                checks.invalid(prefixPath, .string(prefix), "must start with /")
            }
            if let matchType = match?.path.map({ $0.type ?? PathMatch.defaultType }), matchType != .pathPrefix {
                checks.forbidden(prefixPath, "requires spec.match.path.type PathPrefix, and it is \(matchType.rawValue)")
            } else if match?.path == nil {
                checks.forbidden(prefixPath, "requires spec.match.path with type PathPrefix")
            }
        }
    }

    private static func validate(_ timeouts: Timeouts, at path: FieldPath, checks: inout FieldChecks) {
        let request = timeouts.request ?? Timeouts.defaultRequest
        let unlimited = request.duration == .zero
        if let perTry = timeouts.perTry {
            if perTry.duration == .zero {
                checks.invalid(path.child("perTry"), .string(perTry.description), "must be greater than 0")
            } else if !unlimited {
                checks.ordered("perTry", perTry, path.child("request"), request)
            }
        }
        let connect = timeouts.connect ?? Timeouts.defaultConnect
        if connect.duration == .zero {
            checks.invalid(path.child("connect"), .string(connect.description), "must be greater than 0")
        } else if !unlimited {
            checks.ordered("connect", connect, path.child("request"), request)
        }
        if let idle = timeouts.idle, idle.duration == .zero {
            checks.invalid(path.child("idle"), .string(idle.description), "must be greater than 0")
        }
    }

    private static func validate(_ retries: RetryPolicy, at path: FieldPath, checks: inout FieldChecks) {
        for (index, status) in (retries.statuses ?? []).enumerated() where !(status == 408 || status == 429 || (500...599).contains(status)) {
            checks.invalid(path.child("statuses").index(index), .integer(Int64(status)), "only 408, 429 and 500–599 may be retried")
        }
        if let backoff = retries.backoff {
            let base = backoff.base ?? Backoff.defaultBase
            let max = backoff.max ?? Backoff.defaultMax
            checks.ordered("base", base, path.child("backoff").child("max"), max)
        }
    }

    private static func validate(_ breaker: CircuitBreakerPolicy, at path: FieldPath, checks: inout FieldChecks) {
        let window = breaker.window ?? SlidingWindow()
        let windowType = window.type ?? SlidingWindow.defaultType
        let size = window.size ?? SlidingWindow.defaultSize
        if windowType == .time && size > SlidingWindow.maximumTimeWindowSeconds {
            checks.invalid(
                path.child("window").child("size"),
                .integer(Int64(size)),
                "a Time window may be at most \(SlidingWindow.maximumTimeWindowSeconds) seconds"
            )
        }
        let minimumCalls = breaker.minimumCalls ?? CircuitBreakerPolicy.defaultMinimumCalls
        if windowType == .count && minimumCalls > size {
            checks.invalid(
                path.child("minimumCalls"),
                .integer(Int64(minimumCalls)),
                "must be <= window.size \(size), or the breaker could never open on its failure rate"
            )
        }
        let open = breaker.openDuration ?? CircuitBreakerPolicy.defaultOpenDuration
        let maxOpen = breaker.maxOpenDuration ?? CircuitBreakerPolicy.defaultMaxOpenDuration
        if open.duration == .zero {
            checks.invalid(path.child("openDuration"), .string(open.description), "must be greater than 0")
        }
        checks.ordered("openDuration", open, path.child("maxOpenDuration"), maxOpen)
        if let slow = breaker.slowCall, slow.duration.duration == .zero {
            checks.invalid(path.child("slowCall").child("duration"), .string(slow.duration.description), "must be greater than 0")
        }
    }
}
