public import Gateway
public import IPAddresses
public import Kubernetes
public import PortcullisAPI
public import Foundation
import IPAddresses
import Resilience

/// What the controller knows about the objects a Route may refer to, in the Route's namespace.
public struct RouteReferences: Sendable {
    /// A Service, resolved to the address the gateway connects to.
    public struct Service: Sendable, Hashable {
        /// The cluster IP, or the Service's DNS name when it has none.
        public var host: String
        /// The ports the Service exposes.
        public var ports: Set<Int>
        /// The `appProtocol` of the ports that name one (`kubernetes.io/h2c` means HTTP/2 without TLS).
        public var appProtocols: [Int: String]

        public init(host: String, ports: Set<Int>, appProtocols: [Int: String] = [:]) {
            self.host = host
            self.ports = ports
            self.appProtocols = appProtocols
        }
    }

    /// Services by name.
    public var services: [String: Service]
    /// Secrets by name: each key's decoded value.
    public var secrets: [String: [String: Data]]
    /// Why Secrets not in ``secrets`` cannot be read, by name, when they exist (e.g. not labelled
    /// `portcullis.io/secret`); a name in neither is not found.
    public var unreadableSecrets: [String: String]
    /// UpstreamAuths by name, as the gateway can apply them.
    public var upstreamAuths: [String: ResolvedUpstreamAuth]
    /// A Tunnel, as far as a Route through it needs to know.
    public struct Tunnel: Sendable, Hashable {
        /// Whether the Tunnel is `Ready`.
        public var isReady: Bool
        /// The gateway's tunnel address (from `status.address`), which connections through it leave from.
        public var address: IPAddress?
        /// The networks the Tunnel carries (`spec.wireGuard.allowedIPs`).
        public var allowedIPs: [IPNetwork]

        public init(isReady: Bool, address: IPAddress?, allowedIPs: [IPNetwork]) {
            self.isReady = isReady
            self.address = address
            self.allowedIPs = allowedIPs
        }
    }

    /// Tunnels by name.
    public var tunnels: [String: Tunnel]
    /// Where each UpstreamAuth's credential may be sent, by name; absent: the defaults.
    public var credentialRules: [String: CredentialSendingRules]

    public init(
        services: [String: Service] = [:],
        secrets: [String: [String: Data]] = [:],
        unreadableSecrets: [String: String] = [:],
        upstreamAuths: [String: ResolvedUpstreamAuth] = [:],
        tunnels: [String: Tunnel] = [:],
        credentialRules: [String: CredentialSendingRules] = [:]
    ) {
        self.services = services
        self.secrets = secrets
        self.unreadableSecrets = unreadableSecrets
        self.upstreamAuths = upstreamAuths
        self.tunnels = tunnels
        self.credentialRules = credentialRules
    }
}

/// An UpstreamAuth as a Route can use it: a credential for a request header, a client certificate
/// for the upstream connection, or why it cannot be used yet.
public enum ResolvedUpstreamAuth: Sendable {
    case credential(any UpstreamCredential)
    case clientCertificate(ClientIdentity)
    case unusable(String)
}

/// Turns a Route into the gateway's ``RouteConfig``: validation first (the schema's rules and the
/// semantic ones), then references, then the mapping of every field onto the data plane's types
/// with the documented defaults.
public enum RouteTranslator {
    /// The outcome for one Route.
    public enum Outcome: Sendable, Hashable {
        /// Valid and resolved: this is what the gateway serves.
        case serve(RouteConfig)
        /// The spec is invalid: `Accepted=False`, with every problem.
        case invalid([FieldError])
        /// The spec asks for what the cluster admin does not allow: `Accepted=False` with `reason`, naming each field.
        case notAllowed(reason: String, [FieldError])
        /// A reference is missing or not usable: `ResolvedRefs=False`, with every problem.
        case unresolved([String])
        /// A reference resolves, but may not be used as the Route asks (a credential sent where its
        /// UpstreamAuth does not allow): `ResolvedRefs=False`, reason `RefNotPermitted`, with every problem.
        case notPermitted([String])
    }

    /// The reason of a Route whose upstream the admin's policy refuses.
    public static let destinationNotAllowed = "DestinationNotAllowed"

    /// - Parameter policy: What the cluster admin allows: destinations, hostnames, credentials.
    public static func translate(_ route: Route, references: RouteReferences, policy: TenancyPolicy = TenancyPolicy()) -> Outcome {
        let errors = route.validate()
        if !errors.isEmpty { return .invalid(errors) }
        let namespace = route.metadata.namespace ?? "default"

        var unresolved: [String] = []
        var refused: [FieldError] = []
        var upstream = target(route.spec.upstream, field: "spec.upstream", references: references, unresolved: &unresolved)
        allow(&upstream, route.spec.upstream, field: "spec.upstream", namespace: namespace, policy: policy, refused: &refused)
        var fallback: RouteConfig.Fallback?
        if let fallbackSpec = route.spec.fallback {
            if let upstreamSpec = fallbackSpec.upstream {
                var target = target(upstreamSpec, field: "spec.fallback.upstream", references: references, unresolved: &unresolved)
                allow(&target, upstreamSpec, field: "spec.fallback.upstream", namespace: namespace, policy: policy, refused: &refused)
                fallback = target.map { .upstream($0) }
            } else if let response = fallbackSpec.response {
                fallback = .response(
                    status: response.status ?? StaticResponse.defaultStatus,
                    contentType: response.contentType ?? StaticResponse.defaultContentType,
                    body: response.body ?? ""
                )
            }
        }
        if !refused.isEmpty { return .notAllowed(reason: destinationNotAllowed, refused) }
        var credentials: [RouteCredential] = []
        var notPermitted: [String] = []
        for (index, reference) in (route.spec.authRefs ?? []).enumerated() {
            let field = "spec.authRefs[\(index)].name: UpstreamAuth \"\(reference.name)\""
            let rules = references.credentialRules[reference.name] ?? CredentialSendingRules()
            var destinations: [(target: UpstreamTarget?, spec: Upstream, field: String)] = [(upstream, route.spec.upstream, "spec.upstream")]
            if case .credential = references.upstreamAuths[reference.name], case .upstream(let target)? = fallback, let spec = route.spec.fallback?.upstream {
                // A token goes to the fallback upstream too; a client certificate belongs to the upstream's connection only.
                destinations.append((target, spec, "spec.fallback.upstream"))
            }
            let isCertificate = references.upstreamAuths[reference.name].map { if case .clientCertificate = $0 { true } else { false } } ?? false
            if references.upstreamAuths[reference.name].map({ if case .unusable = $0 { false } else { true } }) == true {
                for destination in destinations {
                    guard let target = destination.target,
                        let why = rules.refusal(target, spec: destination.spec, isCertificate: isCertificate, policy: policy)
                    else { continue }
                    notPermitted.append("\(field) may not be sent to \(destination.field) \(target.origin): \(why)")
                }
            }
            switch references.upstreamAuths[reference.name] {
            case nil:
                unresolved.append("\(field) not found")
            case .unusable(let problem):
                unresolved.append("\(field) \(problem)")
            case .credential(let credential):
                if let upstream { credentials.append(RouteCredential(credential, audience: upstream.origin)) }
            case .clientCertificate(let identity):
                guard upstream?.scheme == .https else {
                    unresolved.append("\(field) presents a client certificate, which needs an https upstream")
                    continue
                }
                guard upstream?.tls?.clientIdentity == nil else {
                    unresolved.append("\(field) is a second client certificate; a connection presents one")
                    continue
                }
                if upstream?.tls == nil { upstream?.tls = UpstreamTarget.TLS() }
                upstream?.tls?.clientIdentity = identity
            }
        }
        if !notPermitted.isEmpty { return .notPermitted(notPermitted + unresolved) }
        guard unresolved.isEmpty, let upstream else { return .unresolved(unresolved) }

        let spec = route.spec
        let path: RouteMatchRule.PathRule
        switch (spec.match?.path?.type ?? PathMatch.defaultType, spec.match?.path?.value) {
        case (_, nil): path = .prefix("/")
        case (.exact, let value?): path = .exact(value)
        case (.pathPrefix, let value?): path = .prefix(value)
        case (.regularExpression, let value?): path = .regularExpression(value)
        }
        return .serve(
            RouteConfig(
                key: RouteKey(namespace: route.metadata.namespace ?? "default", name: route.metadata.name ?? ""),
                generation: route.metadata.generation ?? 1,
                createdAt: Int64(route.metadata.creationTimestamp.flatMap { RFC3339.date(from: $0) }?.timeIntervalSince1970 ?? 0),
                match: RouteMatchRule(
                    hostnames: spec.hostnames ?? [],
                    path: path,
                    methods: spec.match?.methods ?? [],
                    headers: (spec.match?.headers ?? []).map { .init(name: $0.name, value: $0.value) }
                ),
                upstream: upstream,
                rewritePrefix: spec.upstream.rewrite?.pathPrefix,
                forwardClientCredentials: spec.upstream.forwardClientCredentials ?? false,
                timeouts: timeouts(spec.timeouts),
                retry: retry(spec.retries),
                circuitBreaker: spec.circuitBreaker.map(circuitBreaker),
                bulkhead: BulkheadConfiguration(
                    maxRequests: spec.concurrency?.maxRequests ?? ConcurrencyLimits.defaultMaxRequests,
                    maxPending: spec.concurrency?.maxPending ?? ConcurrencyLimits.defaultMaxPending
                ),
                fallback: fallback,
                credentials: credentials,
                maxRequestBodyBytes: spec.maxRequestBodyBytes
            )
        )
    }

    /// Checks a URL upstream's destination against the admin's policy, recording why it is refused, and sets
    /// how the gateway connects to an allowed one (an absolute name; a Service may lie in a cluster network).
    static func allow(
        _ target: inout UpstreamTarget?,
        _ upstream: Upstream,
        field: String,
        namespace: String,
        policy: TenancyPolicy,
        refused: inout [FieldError]
    ) {
        guard var resolved = target else { return }
        if upstream.service != nil {
            resolved.intoClusterNetwork = true
            if IPAddress(resolved.host) == nil { resolved.connectHost = "\(resolved.host).\(policy.clusterDomain)." }
        } else if let why = UpstreamDestination.refusal(&resolved, namespace: namespace, policy: policy) {
            refused.append(
                FieldError(
                    .forbidden, field: "\(field).url",
                    detail: "\(why): the cluster admin may allow it with --allow-upstream-network or --allow-upstream-host (docs/security.md)"
                )
            )
            return
        }
        target = resolved
    }

    /// Resolves an upstream to where the gateway connects, or records why it cannot.
    static func target(_ upstream: Upstream, field: String, references: RouteReferences, unresolved: inout [String]) -> UpstreamTarget? {
        var target: UpstreamTarget?
        if let url = upstream.url, let components = URLComponents(string: url), let host = components.host,
            let scheme = components.scheme.flatMap({ UpstreamTarget.Scheme(rawValue: $0.lowercased()) })
        {
            var basePath = components.percentEncodedPath
            while basePath.hasSuffix("/") { basePath.removeLast() }
            target = UpstreamTarget(
                scheme: scheme,
                // An IPv6 address without its brackets, which Foundation's URLComponents keeps on Linux.
                host: host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host,
                port: components.port ?? (scheme == .https ? 443 : 80),
                basePath: basePath
            )
        } else if let service = upstream.service {
            if let resolved = references.services[service.name] {
                if resolved.ports.contains(service.port) {
                    target = UpstreamTarget(scheme: service.scheme == .https ? .https : .http, host: resolved.host, port: service.port)
                    if upstream.protocol == nil, resolved.appProtocols[service.port] == Upstream.h2cAppProtocol {
                        if service.scheme == .https {
                            unresolved.append(
                                "\(field).service.scheme: Service \"\(service.name)\" port \(service.port) has appProtocol \(Upstream.h2cAppProtocol) (HTTP/2 without TLS), and the scheme is https; set \(field).protocol to say which to speak"
                            )
                        } else {
                            target?.httpProtocol = .http2
                        }
                    }
                } else {
                    unresolved.append("\(field).service.port: Service \"\(service.name)\" has no port \(service.port)")
                }
            } else {
                unresolved.append("\(field).service.name: Service \"\(service.name)\" not found")
            }
        }
        switch upstream.protocol {
        case .http1?: target?.httpProtocol = .http1
        case .http2?: target?.httpProtocol = .http2
        case nil: break
        }
        if let tls = upstream.tls, target != nil {
            var trusted: String?
            if let reference = tls.caSecretRef {
                let key = reference.key ?? "ca.crt"
                if let secret = references.secrets[reference.name] {
                    if let data = secret[key] {
                        trusted = String(decoding: data, as: UTF8.self)
                    } else {
                        unresolved.append("\(field).tls.caSecretRef.key: Secret \"\(reference.name)\" has no key \"\(key)\"")
                    }
                } else {
                    let problem = references.unreadableSecrets[reference.name] ?? "Secret \"\(reference.name)\" not found"
                    unresolved.append("\(field).tls.caSecretRef.name: \(problem)")
                }
            }
            target?.tls = UpstreamTarget.TLS(trustedCAPEM: trusted, serverName: tls.serverName, insecureSkipVerify: tls.insecureSkipVerify ?? false)
        }
        if let name = upstream.tunnelRef?.name {
            switch references.tunnels[name] {
            case nil:
                unresolved.append("\(field).tunnelRef.name: Tunnel \"\(name)\" not found")
            case let tunnel? where !tunnel.isReady:
                unresolved.append("\(field).tunnelRef.name: Tunnel \"\(name)\" is not ready")
            case let tunnel?:
                if let resolved = target, let problem = tunnelProblem(resolved, through: name, tunnel, upstream: upstream, field: field) {
                    unresolved.append(problem)
                } else if let address = tunnel.address {
                    target?.tunnel = UpstreamTarget.Tunnel(name: name, sourceAddress: address)
                }
            }
        }
        return target
    }

    /// Why `target` cannot be reached through the Tunnel: it has no address yet, the upstream's address is
    /// of the other family, or an address outside the Tunnel's `allowedIPs` (which its table does not
    /// route). A host name is checked when it resolves: the tunnel's table reaches nothing else.
    static func tunnelProblem(_ target: UpstreamTarget, through name: String, _ tunnel: RouteReferences.Tunnel, upstream: Upstream, field: String) -> String? {
        guard let source = tunnel.address else { return "\(field).tunnelRef.name: Tunnel \"\(name)\" has no address yet" }
        guard let destination = IPAddress(target.host) else { return nil }
        let upstreamField = upstream.url != nil ? "\(field).url" : "\(field).service.name"
        let family = { (address: IPAddress) in address.bitCount == 32 ? "IPv4" : "IPv6" }
        if destination.bitCount != source.bitCount {
            return "\(field).tunnelRef: Tunnel \"\(name)\" carries \(family(source)) (its address is \(source)), and the upstream \(destination) in \(upstreamField) is \(family(destination))"
        }
        guard tunnel.allowedIPs.contains(where: { $0.contains(destination) }) else {
            let allowed = tunnel.allowedIPs.map(\.description).joined(separator: ", ")
            return "\(upstreamField): \(destination) is not in the allowedIPs of Tunnel \"\(name)\" (\(allowed)), so the tunnel does not route it"
        }
        return nil
    }

    static func timeouts(_ spec: Timeouts?) -> TimeoutConfiguration {
        TimeoutConfiguration(
            request: (spec?.request ?? Timeouts.defaultRequest).duration,
            perTry: spec?.perTry?.duration,
            connect: (spec?.connect ?? Timeouts.defaultConnect).duration,
            idle: (spec?.idle ?? Timeouts.defaultIdle).duration
        )
    }

    static func retry(_ spec: PortcullisAPI.RetryPolicy?) -> RetryConfiguration {
        var conditions: RetryConfiguration.Conditions = []
        for condition in spec?.retryOn ?? PortcullisAPI.RetryPolicy.defaultConditions {
            switch condition {
            case .connectFailure: conditions.insert(.connectFailure)
            case .refusedStream: conditions.insert(.refusedStream)
            case .resetBeforeRequest: conditions.insert(.resetBeforeRequest)
            case .reset: conditions.insert(.reset)
            case .timeout: conditions.insert(.timeout)
            }
        }
        let backoff = spec?.backoff
        let jitter: BackoffConfiguration.Jitter
        switch backoff?.jitter ?? Backoff.defaultJitter {
        case .full: jitter = .full
        case .equal: jitter = .equal
        case .none: jitter = .none
        }
        return RetryConfiguration(
            attempts: spec?.attempts ?? PortcullisAPI.RetryPolicy.defaultAttempts,
            retryOn: conditions,
            statuses: HTTPStatusSet(spec?.statuses ?? []),
            idempotentOnly: spec?.idempotentOnly ?? true,
            backoff: BackoffConfiguration(
                base: (backoff?.base ?? Backoff.defaultBase).duration,
                max: (backoff?.max ?? Backoff.defaultMax).duration,
                jitter: jitter
            ),
            budget: RetryBudgetConfiguration(
                percent: spec?.budget?.percent ?? RetryBudget.defaultPercent,
                minPerSecond: spec?.budget?.minPerSecond ?? RetryBudget.defaultMinPerSecond
            ),
            honorRetryAfter: spec?.honorRetryAfter ?? true
        )
    }

    static func circuitBreaker(_ spec: CircuitBreakerPolicy) -> CircuitBreakerConfiguration {
        let size = spec.window?.size ?? SlidingWindow.defaultSize
        var failOn: CircuitBreakerConfiguration.FailureConditions = []
        for condition in spec.failOn ?? CircuitBreakerPolicy.defaultFailOn {
            switch condition {
            case .connectFailure: failOn.insert(.connectFailure)
            case .timeout: failOn.insert(.timeout)
            case .reset: failOn.insert(.reset)
            }
        }
        return CircuitBreakerConfiguration(
            window: (spec.window?.type ?? SlidingWindow.defaultType) == .count ? .count(size) : .time(seconds: size),
            minimumCalls: spec.minimumCalls ?? CircuitBreakerPolicy.defaultMinimumCalls,
            failureRatePercent: spec.failureRatePercent ?? CircuitBreakerPolicy.defaultFailureRatePercent,
            slowCall: spec.slowCall.map { .init(duration: $0.duration.duration, ratePercent: $0.ratePercent ?? SlowCall.defaultRatePercent) },
            consecutiveFailures: spec.consecutiveFailures,
            openDuration: (spec.openDuration ?? CircuitBreakerPolicy.defaultOpenDuration).duration,
            maxOpenDuration: (spec.maxOpenDuration ?? CircuitBreakerPolicy.defaultMaxOpenDuration).duration,
            halfOpenProbes: spec.halfOpenProbes ?? CircuitBreakerPolicy.defaultHalfOpenProbes,
            failOn: failOn,
            failOnStatuses: HTTPStatusSet(spec.failOnStatuses ?? CircuitBreakerPolicy.defaultFailOnStatuses),
            scope: (spec.scope ?? CircuitBreakerPolicy.defaultScope) == .shared ? .shared : .replica
        )
    }
}
