import Foundation
import Gateway
import IPAddresses
import Kubernetes
import PortcullisAPI
import PortcullisTestSupport
import Reconcilers
import Resilience
import Testing

@Suite struct RouteTranslatorTests {
    static func route(_ yaml: String) throws -> Route {
        let object = try JSONValue(yaml: yaml)
        let schema = Route.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
        return try Route(json: SchemaValidator(schema: schema).validate(object).value)
    }

    static func serve(_ outcome: RouteTranslator.Outcome) throws -> RouteConfig {
        guard case .serve(let config) = outcome else {
            Issue.record("expected a config, got \(outcome)")
            throw CancellationError()
        }
        return config
    }

    @Test func everyFieldIsMappedWithItsDefaults() throws {
        let route = try Self.route("""
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: catalog, namespace: shop, generation: 4, creationTimestamp: "2025-01-01T00:00:00Z"}
            spec:
              hostnames: [api.example.com]
              match:
                path: {value: /catalog}
                methods: [GET]
                headers: [{name: X-Tenant, value: acme}]
              upstream:
                url: https://catalog.internal.example.com:8443/base/
                rewrite: {pathPrefix: /v2}
              timeouts: {request: 3s, perTry: 1s}
              retries:
                attempts: 3
                retryOn: [connect-failure, timeout]
                statuses: [503]
                backoff: {base: 50ms, max: 1s, jitter: Equal}
              circuitBreaker: {window: {type: Time, size: 60}, consecutiveFailures: 5, scope: Replica}
              concurrency: {maxRequests: 10}
              fallback: {response: {body: degraded}}
              maxRequestBodyBytes: 10485760
            """)
        let config = try Self.serve(RouteTranslator.translate(route, references: RouteReferences()))
        #expect(config.key == RouteKey(namespace: "shop", name: "catalog"))
        #expect(config.generation == 4)
        #expect(config.createdAt == 1_735_689_600)
        #expect(config.match == RouteMatchRule(hostnames: ["api.example.com"], path: .prefix("/catalog"), methods: ["GET"], headers: [.init(name: "x-tenant", value: "acme")]))
        #expect(
            config.upstream
                == UpstreamTarget(scheme: .https, host: "catalog.internal.example.com", port: 8443, basePath: "/base", connectHost: "catalog.internal.example.com."),
            "connected to as an absolute name, which the resolver's search domains cannot complete into a cluster name"
        )
        #expect(config.rewritePrefix == "/v2")
        #expect(config.timeouts == TimeoutConfiguration(request: .seconds(3), perTry: .seconds(1), connect: .seconds(2), idle: .seconds(60)))
        #expect(config.retry.attempts == 3)
        #expect(config.retry.retryOn == [.connectFailure, .timeout])
        #expect(config.retry.statuses.contains(503) && !config.retry.statuses.contains(502))
        #expect(config.retry.backoff == BackoffConfiguration(base: .milliseconds(50), max: .seconds(1), jitter: .equal))
        #expect(config.retry.budget == RetryBudgetConfiguration(percent: 20, minPerSecond: 3))
        #expect(config.circuitBreaker?.window == .time(seconds: 60))
        #expect(config.circuitBreaker?.consecutiveFailures == 5)
        #expect(config.circuitBreaker?.scope == .replica)
        #expect(config.circuitBreaker?.failOnStatuses == [502, 503, 504])
        #expect(config.bulkhead == BulkheadConfiguration(maxRequests: 10, maxPending: 1024))
        #expect(config.fallback == .response(status: 503, contentType: "text/plain; charset=utf-8", body: "degraded"))
        #expect(!config.forwardClientCredentials)
        #expect(config.maxRequestBodyBytes == 10_485_760)
    }

    @Test func aRouteWithoutPoliciesGetsTheConservativeDefaults() throws {
        let route = try Self.route("{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: a, namespace: d}, spec: {upstream: {url: 'http://b.example'}}}")
        let config = try Self.serve(RouteTranslator.translate(route, references: RouteReferences()))
        #expect(config.match.path == .prefix("/"))
        #expect(config.upstream == UpstreamTarget(scheme: .http, host: "b.example", port: 80, connectHost: "b.example."))
        #expect(config.timeouts == TimeoutConfiguration())
        #expect(config.retry == RetryConfiguration())
        #expect(config.circuitBreaker == nil)
        #expect(config.bulkhead == BulkheadConfiguration())
        #expect(config.maxRequestBodyBytes == nil)
    }

    @Test func servicesAndSecretsResolveThroughTheReferences() throws {
        let route = try Self.route("""
            {apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: billing, namespace: shop},
             spec: {upstream: {service: {name: billing, port: 8443, scheme: https}, tls: {caSecretRef: {name: billing-ca}}}, authRefs: [{name: jwt}]}}
            """)
        let references = RouteReferences(
            services: ["billing": .init(host: "10.96.0.7", ports: [8443])],
            secrets: ["billing-ca": ["ca.crt": Data("PEM".utf8)]],
            upstreamAuths: ["jwt": .credential(FixedCredential(name: "shop/jwt"))]
        )
        let config = try Self.serve(RouteTranslator.translate(route, references: references))
        #expect(config.upstream.host == "10.96.0.7")
        #expect(config.upstream.tls?.trustedCAPEM == "PEM")
        #expect(config.credentials.map(\.credential.name) == ["shop/jwt"])
        #expect(config.credentials.map(\.audience) == ["https://10.96.0.7:8443"])

        #expect(
            RouteTranslator.translate(route, references: RouteReferences())
                == .unresolved([
                    #"spec.upstream.service.name: Service "billing" not found"#,
                    #"spec.authRefs[0].name: UpstreamAuth "jwt" not found"#,
                ])
        )
        var missingKey = references
        missingKey.secrets["billing-ca"] = ["other": Data()]
        missingKey.upstreamAuths["jwt"] = .unusable("is not ready")
        missingKey.services["billing"]?.ports = [443]
        #expect(
            RouteTranslator.translate(route, references: missingKey)
                == .unresolved([
                    #"spec.upstream.service.port: Service "billing" has no port 8443"#,
                    #"spec.authRefs[0].name: UpstreamAuth "jwt" is not ready"#,
                ])
        )
    }

    @Test func credentialsApplyInOrderAndClientCertificatesNeedHTTPS() throws {
        let yaml = """
            {apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: pay, namespace: shop},
             spec: {upstream: {url: 'URL'}, authRefs: [{name: cert}, {name: google}, {name: jwt}]}}
            """
        let identity = ClientIdentity(certificateChainPEM: "CERT", privateKeyPEM: "KEY")
        let references = RouteReferences(upstreamAuths: [
            "cert": .clientCertificate(identity),
            "google": .credential(FixedCredential(name: "shop/google")),
            "jwt": .credential(FixedCredential(name: "shop/jwt")),
        ])
        let config = try Self.serve(RouteTranslator.translate(Self.route(yaml.replacingOccurrences(of: "URL", with: "https://pay.example.com")), references: references))
        #expect(config.credentials.map(\.credential.name) == ["shop/google", "shop/jwt"])
        #expect(config.credentials.map(\.audience) == ["https://pay.example.com", "https://pay.example.com"])
        #expect(config.upstream.tls?.clientIdentity == identity)
        #expect("\(identity)" == "ClientIdentity(redacted)")

        var onlyCertificate = references
        onlyCertificate.upstreamAuths = ["cert": .clientCertificate(identity)]
        #expect(
            RouteTranslator.translate(try Self.route(yaml.replacingOccurrences(of: "URL", with: "http://pay.example.com")), references: onlyCertificate)
                == .unresolved([
                    #"spec.authRefs[0].name: UpstreamAuth "cert" presents a client certificate, which needs an https upstream"#,
                    #"spec.authRefs[1].name: UpstreamAuth "google" not found"#, #"spec.authRefs[2].name: UpstreamAuth "jwt" not found"#,
                ])
        )
    }

    @Test func theUpstreamProtocolComesFromTheRouteOrTheServicePortsAppProtocol() throws {
        func config(_ upstream: String, _ references: RouteReferences = RouteReferences()) throws -> RouteTranslator.Outcome {
            RouteTranslator.translate(
                try Self.route("{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: grpc, namespace: shop}, spec: {upstream: \(upstream)}}"),
                references: references
            )
        }
        #expect(try Self.serve(config("{url: 'https://api.example.com'}")).upstream.httpProtocol == .http1, "HTTP/1.1 by default")
        #expect(try Self.serve(config("{url: 'https://api.example.com', protocol: HTTP/2}")).upstream.httpProtocol == .http2)
        #expect(try Self.serve(config("{url: 'http://api.example.com', protocol: HTTP/2}")).upstream.httpProtocol == .http2, "h2c")

        let h2c = RouteReferences(services: ["grpc": .init(host: "10.96.0.9", ports: [8080, 8443], appProtocols: [8080: "kubernetes.io/h2c", 8443: "kubernetes.io/h2c"])])
        #expect(try Self.serve(config("{service: {name: grpc, port: 8080}}", h2c)).upstream.httpProtocol == .http2, "the port's appProtocol says h2c")
        #expect(try Self.serve(config("{service: {name: grpc, port: 8080}, protocol: HTTP/1.1}", h2c)).upstream.httpProtocol == .http1, "the Route's field wins")
        #expect(
            try config("{service: {name: grpc, port: 8443, scheme: https}}", h2c)
                == .unresolved([
                    #"spec.upstream.service.scheme: Service "grpc" port 8443 has appProtocol kubernetes.io/h2c (HTTP/2 without TLS), and the scheme is https; set spec.upstream.protocol to say which to speak"#
                ])
        )
        #expect(try Self.serve(config("{service: {name: grpc, port: 8443, scheme: https}, protocol: HTTP/2}", h2c)).upstream.httpProtocol == .http2)
        let other = RouteReferences(services: ["grpc": .init(host: "10.96.0.9", ports: [8080], appProtocols: [8080: "kubernetes.io/ws"])])
        #expect(try Self.serve(config("{service: {name: grpc, port: 8080}}", other)).upstream.httpProtocol == .http1)

        // A value outside the enum is refused by the schema, naming the field and the values it takes.
        let schema = Route.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
        let invalid = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: a, namespace: d}, spec: {upstream: {url: 'http://b', protocol: HTTP/3}}}")
        let errors = SchemaValidator(schema: schema).validate(invalid).errors.map(\.description)
        #expect(errors == [#"spec.upstream.protocol: Unsupported value: "HTTP/3": supported values: "HTTP/1.1", "HTTP/2""#], "\(errors)")
    }

    static let mainframe = RouteReferences.Tunnel(isReady: true, address: IPAddress("10.44.0.1"), allowedIPs: [IPNetwork("10.0.0.0/24")!])

    @Test func tunnelsMustBeReady() throws {
        let route = try Self.route("{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: a, namespace: d}, spec: {upstream: {url: 'http://10.0.0.1', tunnelRef: {name: mainframe}}}}")
        var notReady = Self.mainframe
        notReady.isReady = false
        #expect(RouteTranslator.translate(route, references: RouteReferences(tunnels: ["mainframe": notReady])) == .unresolved([#"spec.upstream.tunnelRef.name: Tunnel "mainframe" is not ready"#]))
        #expect(RouteTranslator.translate(route, references: RouteReferences()) == .unresolved([#"spec.upstream.tunnelRef.name: Tunnel "mainframe" not found"#]))
        let config = try Self.serve(RouteTranslator.translate(route, references: RouteReferences(tunnels: ["mainframe": Self.mainframe])))
        #expect(config.upstream.tunnel == UpstreamTarget.Tunnel(name: "mainframe", sourceAddress: IPAddress("10.44.0.1")!))
    }

    @Test func aRouteThroughATunnelReachesOnlyTheTunnelsNetworksInItsFamily() throws {
        func translate(_ upstream: String, references: RouteReferences = RouteReferences(tunnels: ["mainframe": Self.mainframe])) throws -> RouteTranslator.Outcome {
            let route = try Self.route("{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: a, namespace: d}, spec: {upstream: \(upstream)}}")
            return RouteTranslator.translate(route, references: references)
        }
        #expect(
            try translate("{url: 'http://10.0.1.5:8080', tunnelRef: {name: mainframe}}")
                == .unresolved([#"spec.upstream.url: 10.0.1.5 is not in the allowedIPs of Tunnel "mainframe" (10.0.0.0/24), so the tunnel does not route it"#])
        )
        #expect(
            try translate("{url: 'http://[fd00::5]:8080', tunnelRef: {name: mainframe}}")
                == .unresolved([#"spec.upstream.tunnelRef: Tunnel "mainframe" carries IPv4 (its address is 10.44.0.1), and the upstream fd00::5 in spec.upstream.url is IPv6"#])
        )
        // The fallback upstream is checked the same way, and a Service's cluster IP too.
        let service = RouteReferences(services: ["billing": .init(host: "10.96.0.9", ports: [80])], tunnels: ["mainframe": Self.mainframe])
        #expect(
            try translate("{url: 'http://10.0.0.5'}, fallback: {upstream: {service: {name: billing, port: 80}, tunnelRef: {name: mainframe}}}", references: service)
                == .unresolved([#"spec.fallback.upstream.service.name: 10.96.0.9 is not in the allowedIPs of Tunnel "mainframe" (10.0.0.0/24), so the tunnel does not route it"#])
        )
        // Inside the allowed IPs, or a name (which only the tunnel's table routes, when it resolves): served.
        #expect(try Self.serve(translate("{url: 'http://10.0.0.5', tunnelRef: {name: mainframe}}")).upstream.tunnel?.sourceAddress == IPAddress("10.44.0.1"))
        #expect(try Self.serve(translate("{url: 'https://mainframe.internal', tunnelRef: {name: mainframe}}")).upstream.tunnel?.name == "mainframe")
        // An IPv6 Tunnel and upstream.
        let v6 = RouteReferences.Tunnel(isReady: true, address: IPAddress("fd00:44::1"), allowedIPs: [IPNetwork("fd00:10::/64")!])
        let served = try Self.serve(translate("{url: 'http://[fd00:10::5]:8080', tunnelRef: {name: mainframe}}", references: RouteReferences(tunnels: ["mainframe": v6])))
        #expect(served.upstream.host == "fd00:10::5" && served.upstream.description == "http://[fd00:10::5]:8080" && served.upstream.tunnel != nil)
    }

    @Test func invalidRoutesAreNotServed() throws {
        let route = try Self.route("{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: a, namespace: d}, spec: {upstream: {url: 'http://b'}, retries: {backoff: {max: 10ms}}}}")
        #expect(RouteTranslator.translate(route, references: RouteReferences()) == .invalid([FieldError(.invalid, field: "spec.retries.backoff.max", value: "10ms", detail: "must be >= base 25ms")]))
    }

    @Test func everyExampleRouteTranslates() throws {
        var count = 0
        for file in RepositoryFiles.files(under: "examples", extensions: ["yaml"]) {
            for document in try JSONValue.documents(yaml: String(contentsOf: file, encoding: .utf8)) where document["kind"] == "Route" {
                let schema = Route.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
                let route = try Route(json: SchemaValidator(schema: schema).validate(document).value)
                let references = RouteReferences(
                    services: ["billing": .init(host: "10.0.0.9", ports: [8443])],
                    secrets: ["billing-ca": ["ca.crt": Data()]],
                    upstreamAuths: Dictionary(
                        uniqueKeysWithValues: (route.spec.authRefs ?? []).map { reference in
                            let resolved: ResolvedUpstreamAuth = reference.name.contains("mtls")
                                ? .clientCertificate(ClientIdentity(certificateChainPEM: "CERT", privateKeyPEM: "KEY"))
                                : .credential(FixedCredential(name: reference.name))
                            return (reference.name, resolved)
                        }
                    ),
                    tunnels: ["mainframe": .init(isReady: true, address: IPAddress("10.44.0.1"), allowedIPs: [IPNetwork("192.168.10.0/24")!])]
                )
                // The quickstart is what `portcullis dev` applies, with its loopback upstream; the rest is for clusters.
                let policy = file.path.contains("/quickstart/") ? TenancyPolicy.development : TenancyPolicy()
                _ = try Self.serve(RouteTranslator.translate(route, references: references, policy: policy))
                count += 1
            }
        }
        #expect(count >= 8)
    }
}

@Suite struct ConditionListTests {
    @Test func transitionTimeMovesOnlyWhenTheStatusFlips() {
        let first = Date(timeIntervalSince1970: 1_000)
        let later = Date(timeIntervalSince1970: 2_000)
        var conditions = ConditionList.setting("Ready", to: .false, reason: "Pending", message: "a", observedGeneration: 1, in: [], now: first)
        conditions = ConditionList.setting("Ready", to: .false, reason: "StillPending", message: "b", observedGeneration: 2, in: conditions, now: later)
        #expect(conditions.count == 1)
        #expect(conditions[0].lastTransitionTime == RFC3339.string(from: first))
        #expect(conditions[0].reason == "StillPending" && conditions[0].observedGeneration == 2)
        conditions = ConditionList.setting("Ready", to: .true, reason: "Serving", message: "c", observedGeneration: 2, in: conditions, now: later)
        #expect(conditions[0].lastTransitionTime == RFC3339.string(from: later))
        conditions = ConditionList.setting("Accepted", to: .true, reason: "Valid", message: "d", observedGeneration: 2, in: conditions, now: later)
        #expect(conditions.map(\.type) == ["Ready", "Accepted"])
    }
}

/// A credential with a fixed value, for translation tests.
final class FixedCredential: UpstreamCredential {
    let name: String
    let headerName = "authorization"

    init(name: String) { self.name = name }

    func currentHeaderValue(audience: String) throws -> String? { "Bearer fixed" }
    func headerValue(audience: String) async throws -> String { "Bearer fixed" }
    func rejected(headerValue: String) -> Bool { false }
}
