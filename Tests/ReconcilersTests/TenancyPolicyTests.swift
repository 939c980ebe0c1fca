import Foundation
import Gateway
import IPAddresses
import Kubernetes
import PortcullisAPI
@testable import Reconcilers
import Testing
import UpstreamCredentials

/// The tenancy boundary of docs/security.md as the control plane enforces it: what a tenant's fields may
/// make the controller post to, the gateway connect to, a credential be sent to, and which hostnames a
/// namespace gets.
@Suite struct TokenEndpointPolicyTests {
    static func auth(_ spec: String, namespace: String = "shop") throws -> UpstreamAuth {
        let object = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: UpstreamAuth, metadata: {name: a, namespace: \(namespace)}, spec: \(spec)}")
        let schema = UpstreamAuth.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
        let validated = SchemaValidator(schema: schema).validate(object)
        #expect(validated.errors.isEmpty, "\(validated.errors)")
        return try UpstreamAuth(json: validated.value)
    }

    static let provider = "projects/123/locations/global/workloadIdentityPools/pool/providers/prov"

    @Test func googlesAndMicrosoftsEndpointsAreAllowedAndNothingElse() {
        let policy = TokenEndpointPolicy()
        for allowed in [
            "https://sts.googleapis.com/v1/token", "https://iamcredentials.googleapis.com", "https://login.microsoftonline.com",
            "https://login.microsoftonline.com/contoso/oauth2/v2.0/token", "https://LOGIN.microsoftonline.us/",
        ] {
            #expect(policy.refusal(allowed) == nil, "\(allowed)")
        }
        for refused in [
            "https://attacker.example/token", "https://sts.googleapis.com.attacker.example/v1/token", "https://sts.googleapis.com:8443/v1/token",
            "http://sts.googleapis.com/v1/token", "https://user:pw@sts.googleapis.com/v1/token", "https://sts.googleapis.com/v1/token?x=1",
            "http://127.0.0.1:9000/token", "https://oauth2.googleapis.com/tokenx",
        ] {
            #expect(policy.refusal(refused) != nil, "\(refused)")
        }
    }

    @Test func anAdminEntryIsAPrefixBySegments() throws {
        let policy = TokenEndpointPolicy(additional: [try #require(TokenEndpointPolicy.Entry("https://idp.partner.example/oauth2"))])
        #expect(policy.refusal("https://idp.partner.example/oauth2/token") == nil)
        #expect(policy.refusal("https://idp.partner.example/oauth2") == nil)
        #expect(policy.refusal("https://idp.partner.example/oauth2evil/token") != nil, "a prefix of whole segments")
        #expect(policy.refusal("https://idp.partner.example/oauth2/../admin/token") != nil, "no dot segments")
        #expect(policy.refusal("https://idp.partner.example/oauth2/%2e%2e/token") != nil, "nor encoded ones")
        #expect(TokenEndpointPolicy.Entry("https://idp.example/x?y=1") == nil)
    }

    @Test func loopbackIsAllowedOnlyWhereDevAllowsIt() {
        var policy = TokenEndpointPolicy()
        #expect(policy.refusal("http://127.0.0.1:9000/token") != nil)
        policy.allowsLoopback = true
        #expect(policy.refusal("http://127.0.0.1:9000/token") == nil)
        #expect(policy.refusal("http://[::1]:9000/token") == nil)
        #expect(policy.refusal("http://localhost:9000/token") == nil)
        #expect(policy.refusal("http://10.0.0.1:9000/token") != nil)
    }

    @Test func anUpstreamAuthNamingAnotherEndpointIsNotAllowedNamingTheField() throws {
        let cases: [(spec: String, field: String)] = [
            ("{gcpWorkloadIdentity: {provider: \(Self.provider), endpoints: {sts: 'https://attacker.example/v1/token'}}}", "spec.gcpWorkloadIdentity.endpoints.sts"),
            (
                "{gcpWorkloadIdentity: {provider: \(Self.provider), serviceAccount: a@p.iam.gserviceaccount.com, endpoints: {iamCredentials: 'https://attacker.example'}}}",
                "spec.gcpWorkloadIdentity.endpoints.iamCredentials"
            ),
            (
                "{azureAD: {tenantID: contoso.onmicrosoft.com, clientID: 00000000-0000-0000-0000-000000000001, scope: 'api://x/.default', authorityHost: 'https://attacker.example', credential: {federated: {}}}}",
                "spec.azureAD.authorityHost"
            ),
            ("{oauth2ClientCredentials: {tokenURL: 'https://attacker.example/token', clientID: c, clientAuth: private_key_jwt}}", "spec.oauth2ClientCredentials.tokenURL"),
        ]
        for (spec, field) in cases {
            let outcome = UpstreamAuthTranslator.translate(try Self.auth(spec), secrets: [:], policy: TenancyPolicy())
            guard case .notAllowed(let reason, let errors) = outcome else {
                Issue.record("\(spec): expected notAllowed, got \(outcome)")
                continue
            }
            #expect(reason == UpstreamAuthTranslator.endpointNotAllowed)
            #expect(errors.map(\.field) == [field])
            #expect(errors.first?.description.contains("--allow-token-endpoint") == true)
        }
        var allowed = TenancyPolicy()
        allowed.tokenEndpoints = TokenEndpointPolicy(additional: [try #require(TokenEndpointPolicy.Entry("https://attacker.example/"))])
        guard case .plan = UpstreamAuthTranslator.translate(try Self.auth(cases[3].spec), secrets: [:], policy: allowed) else {
            Issue.record("an endpoint the admin allows is used")
            return
        }
    }

    @Test func theProjectedTokenIsTheAdminsAndOnlyForTheNamespacesTheAdminNames() throws {
        let spec = "{gcpWorkloadIdentity: {provider: \(Self.provider), subjectToken: {type: ServiceAccountToken}}}"
        func outcome(_ policy: TenancyPolicy, namespace: String = "analytics") throws -> UpstreamAuthTranslator.Outcome {
            UpstreamAuthTranslator.translate(try Self.auth(spec, namespace: namespace), secrets: [:], policy: policy)
        }
        guard case .notAllowed(let reason, let errors) = try outcome(TenancyPolicy()) else {
            Issue.record("no projected token without the admin's file")
            return
        }
        #expect(reason == UpstreamAuthTranslator.subjectTokenNotAllowed)
        #expect(errors.map(\.field) == ["spec.gcpWorkloadIdentity.subjectToken.type"])

        let policy = TenancyPolicy(gcpSubjectTokenFile: "/var/run/secrets/tokens/gcp", gcpSubjectTokenNamespaces: ["analytics"])
        guard case .notAllowed(_, let other) = try outcome(policy, namespace: "shop") else {
            Issue.record("a namespace the admin does not name cannot present it")
            return
        }
        #expect(other.first?.description.contains("namespace shop") == true)
        guard case .plan(.token(let configuration)) = try outcome(policy), case .gcpWorkloadIdentity(let gcp) = configuration.source else {
            Issue.record("the namespace the admin names presents it")
            return
        }
        #expect(gcp.subjectToken == .serviceAccountTokenFile(path: "/var/run/secrets/tokens/gcp"))
    }

    @Test func subjectTokenPathIsNoLongerAField() throws {
        let object = try JSONValue(
            yaml: "{apiVersion: portcullis.io/v1alpha1, kind: UpstreamAuth, metadata: {name: a, namespace: shop}, spec: {gcpWorkloadIdentity: {provider: \(Self.provider), subjectToken: {type: ServiceAccountToken, path: /var/run/secrets/kubernetes.io/serviceaccount/token}}}}"
        )
        let schema = UpstreamAuth.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
        // Pruned by the API server, which tells the client (kubectl's strict field validation refuses it).
        #expect(SchemaValidator(schema: schema).validate(object).value[path: ["spec", "gcpWorkloadIdentity", "subjectToken", "path"]] == nil)
    }
}

@Suite struct RouteDestinationTests {
    static func route(_ upstream: String, namespace: String = "shop", extra: String = "") throws -> Route {
        try RouteTranslatorTests.route(
            "{apiVersion: portcullis.io/v1alpha1, kind: Route, metadata: {name: r, namespace: \(namespace)}, spec: {upstream: \(upstream)\(extra)}}"
        )
    }

    static func refusal(_ outcome: RouteTranslator.Outcome) -> [String]? {
        guard case .notAllowed(let reason, let errors) = outcome, reason == RouteTranslator.destinationNotAllowed else { return nil }
        return errors.map(\.description)
    }

    static let policy = TenancyPolicy(
        destinations: DestinationPolicy(
            clusterNetworks: [IPNetwork("10.96.0.0/12")!],
            apiServer: [.init(address: IPAddress("10.96.0.1")!, port: nil)],
            gatewayPorts: [8080, 9090],
            localAddresses: [IPAddress("10.244.0.5")!]
        ),
        apiServerHosts: ["api.cluster.example"]
    )

    @Test(arguments: [
        "http://127.0.0.1:9090", "http://[::1]:8090", "http://localhost:8090", "http://a.localhost", "http://0.0.0.0:8080",
        "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]", "http://metadata.google.internal", "http://metadata",
        "https://kubernetes.default.svc", "https://kubernetes.default.svc.cluster.local", "https://api.cluster.example:6443",
        "https://10.96.0.1", "http://10.96.5.5:8080", "http://10.244.0.5:8080", "http://169.254.10.10",
        "http://orders.finance.svc:8080", "http://orders.finance.svc.cluster.local", "http://orders:8080",
    ])
    func refusedDestinations(url: String) throws {
        let outcome = RouteTranslator.translate(try Self.route("{url: '\(url)'}"), references: RouteReferences(), policy: Self.policy)
        let errors = try #require(Self.refusal(outcome), "\(url): \(outcome)")
        #expect(errors.count == 1 && errors[0].hasPrefix("spec.upstream.url: Forbidden: "), "\(errors)")
    }

    @Test func theFallbackUpstreamIsCheckedToo() throws {
        let route = try Self.route("{url: 'https://api.example.com'}", extra: ", fallback: {upstream: {url: 'http://169.254.169.254'}}")
        let errors = try #require(Self.refusal(RouteTranslator.translate(route, references: RouteReferences(), policy: Self.policy)))
        #expect(errors.count == 1 && errors[0].hasPrefix("spec.fallback.upstream.url: Forbidden: 169.254.169.254 is a cloud metadata address"), "\(errors)")
    }

    @Test func ownServicesAndPublicNamesAreConnectedToByAbsoluteName() throws {
        func upstream(_ url: String) throws -> UpstreamTarget {
            try RouteTranslatorTests.serve(RouteTranslator.translate(try Self.route("{url: '\(url)'}"), references: RouteReferences(), policy: Self.policy)).upstream
        }
        let own = try upstream("http://orders.shop.svc:8080")
        #expect(own.connectHost == "orders.shop.svc.cluster.local.")
        #expect(own.intoClusterNetwork, "a Service of its own namespace may be in the cluster network")
        #expect(own.host == "orders.shop.svc", "the Host header and audience keep the name as written")
        let public_ = try upstream("https://api.example.com")
        #expect(public_.connectHost == "api.example.com.")
        #expect(!public_.intoClusterNetwork)
        #expect(try upstream("http://10.244.0.6:8080").connectHost == nil, "another pod's address (no cluster network covers it here)")

        let service = try Self.route("{service: {name: billing, port: 8080}}")
        let references = RouteReferences(services: ["billing": .init(host: "10.96.0.7", ports: [8080])])
        let config = try RouteTranslatorTests.serve(RouteTranslator.translate(service, references: references, policy: Self.policy))
        #expect(config.upstream.intoClusterNetwork)
        let headless = RouteReferences(services: ["billing": .init(host: "billing.shop.svc", ports: [8080])])
        #expect(try RouteTranslatorTests.serve(RouteTranslator.translate(service, references: headless, policy: Self.policy)).upstream.connectHost == "billing.shop.svc.cluster.local.")
    }

    @Test func theAdminOpensExceptions() throws {
        var policy = Self.policy
        policy.destinations.allowedNetworks = [IPNetwork("127.0.0.0/8")!]
        policy.allowedUpstreamHosts = ["*.finance.svc", "metadata.google.internal"]
        for url in ["http://127.0.0.1:8090", "http://orders.finance.svc:8080", "http://metadata.google.internal"] {
            _ = try RouteTranslatorTests.serve(RouteTranslator.translate(try Self.route("{url: '\(url)'}"), references: RouteReferences(), policy: policy))
        }
        #expect(Self.refusal(RouteTranslator.translate(try Self.route("{url: 'http://127.0.0.1:9090'}"), references: RouteReferences(), policy: policy)) != nil, "not the gateway's own port")
        #expect(Self.refusal(RouteTranslator.translate(try Self.route("{url: 'https://10.96.0.1'}"), references: RouteReferences(), policy: policy)) != nil, "nor the API server")
        #expect(TenancyPolicy.development.destinations.refusal(IPAddress("127.0.0.1")!, port: 8090) == nil, "dev allows loopback")
    }
}

@Suite struct CredentialDestinationTests {
    static let references = RouteReferences(
        services: ["orders": .init(host: "10.96.0.7", ports: [8080, 8443])],
        upstreamAuths: ["token": .credential(FixedCredential(name: "shop/token"))]
    )

    static func outcome(_ upstream: String, rules: CredentialSendingRules? = nil, fallback: String? = nil, policy: TenancyPolicy = TenancyPolicy()) throws -> RouteTranslator.Outcome {
        var references = references
        if let rules { references.credentialRules["token"] = rules }
        let extra = ", authRefs: [{name: token}]" + (fallback.map { ", fallback: {upstream: \($0)}" } ?? "")
        return RouteTranslator.translate(try RouteDestinationTests.route(upstream, extra: extra), references: references, policy: policy)
    }

    static func rules(_ spec: String) throws -> CredentialSendingRules {
        CredentialSendingRules(try TokenEndpointPolicyTests.auth("{gatewayJWT: {}, \(spec)}").spec)
    }

    @Test func credentialsDoNotTravelInCleartextUnlessTheUpstreamAuthSaysSo() throws {
        let refused = try Self.outcome("{url: 'http://api.example.com'}")
        guard case .notPermitted(let problems) = refused else {
            Issue.record("expected RefNotPermitted, got \(refused)")
            return
        }
        #expect(problems == [#"spec.authRefs[0].name: UpstreamAuth "token" may not be sent to spec.upstream http://api.example.com: it would travel in cleartext; set allowCleartext on the UpstreamAuth to allow that"#])
        _ = try RouteTranslatorTests.serve(Self.outcome("{url: 'http://api.example.com'}", rules: Self.rules("allowCleartext: true")))
        // portcullis dev: cleartext to loopback.
        _ = try RouteTranslatorTests.serve(Self.outcome("{url: 'http://127.0.0.1:8090'}", policy: .development))
        guard case .notPermitted = try Self.outcome("{url: 'http://10.0.0.9:8090'}", policy: .development) else {
            Issue.record("only loopback is relaxed in dev")
            return
        }
    }

    @Test func norToAnUnverifiedPeerUnlessTheUpstreamAuthSaysSo() throws {
        let upstream = "{url: 'https://api.example.com', tls: {insecureSkipVerify: true}}"
        guard case .notPermitted(let problems) = try Self.outcome(upstream) else {
            Issue.record("expected RefNotPermitted")
            return
        }
        #expect(problems.first?.contains("tls.insecureSkipVerify") == true)
        _ = try RouteTranslatorTests.serve(Self.outcome(upstream, rules: Self.rules("allowUnverifiedTLS: true")))
    }

    @Test func onlyToTheAllowedDestinations() throws {
        let rules = try Self.rules("allowedDestinations: [{url: 'https://*.example.com'}, {url: 'https://pay.partner.example:8443'}, {service: {name: orders, port: 8443}}]")
        for allowed in ["{url: 'https://api.example.com'}", "{url: 'https://a.b.example.com/x'}", "{url: 'https://pay.partner.example:8443'}", "{service: {name: orders, port: 8443, scheme: https}}"] {
            _ = try RouteTranslatorTests.serve(Self.outcome(allowed, rules: rules))
        }
        for refused in [
            "{url: 'https://example.com'}", "{url: 'https://api.example.com.attacker.example'}", "{url: 'https://pay.partner.example'}",
            "{url: 'https://attacker.example'}", "{service: {name: orders, port: 8080, scheme: https}}",
        ] {
            guard case .notPermitted(let problems) = try Self.outcome(refused, rules: rules) else {
                Issue.record("\(refused) is not an allowed destination")
                continue
            }
            #expect(problems.allSatisfy { $0.hasSuffix("it is not one of the UpstreamAuth's allowedDestinations") }, "\(problems)")
        }
    }

    @Test func aTokenGoesToTheFallbackUpstreamToo() throws {
        let rules = try Self.rules("allowedDestinations: [{url: 'https://api.example.com'}]")
        guard case .notPermitted(let problems) = try Self.outcome("{url: 'https://api.example.com'}", rules: rules, fallback: "{url: 'https://attacker.example'}") else {
            Issue.record("the fallback is a destination")
            return
        }
        #expect(problems == [#"spec.authRefs[0].name: UpstreamAuth "token" may not be sent to spec.fallback.upstream https://attacker.example: it is not one of the UpstreamAuth's allowedDestinations"#])
    }

    @Test func destinationsAreValidated() throws {
        let auth = UpstreamAuth(
            metadata: ObjectMeta(name: "a", namespace: "shop"),
            spec: UpstreamAuthSpec(
                gatewayJWT: GatewayJWT(),
                allowedDestinations: [
                    CredentialDestination(url: "http://api.example.com"), CredentialDestination(url: "https://api.example.com/path"),
                    CredentialDestination(url: "https://a.example.com", service: CredentialDestinationService(name: "x")),
                ]
            )
        )
        #expect(
            auth.validate().map(\.description) == [
                #"spec.allowedDestinations[0].url: Invalid value: "http://api.example.com": is cleartext: set allowCleartext to send the credential over http"#,
                #"spec.allowedDestinations[1].url: Invalid value: "https://api.example.com/path": must be an origin, https://host[:port], whose host may start with *."#,
                "spec.allowedDestinations[2].service: Forbidden: exactly one of url, service may be set, and url is set",
            ]
        )
    }
}

@Suite struct HostnameClaimTests {
    @Test func theOldestClaimWinsAndOverlapsConflict() {
        var claims = HostnameClaims(shared: [], catchAllNamespaces: nil)
        #expect(claims.claim(["shop.example.com", "*.shop.example.com"], namespace: "shop") == nil)
        #expect(claims.claim(["shop.example.com"], namespace: "shop") == nil, "a namespace's own Routes share its hostnames")
        #expect(claims.claim(["shop.example.com"], namespace: "evil")?.reason == "HostnameConflict")
        #expect(claims.claim(["login.shop.example.com"], namespace: "evil")?.message.contains("*.shop.example.com") == true, "covered by a wildcard")
        #expect(claims.claim(["*.example.com"], namespace: "evil")?.message.contains("namespace shop") == true, "a wildcard covering a claim")
        #expect(claims.claim(["*.a.shop.example.com"], namespace: "evil") != nil)
        #expect(claims.claim(["example.com", "other.example.org"], namespace: "evil") == nil, "a wildcard does not cover its own domain")
        #expect(claims.claim(["other.example.org"], namespace: "shop") != nil, "first come")
    }

    @Test func theCatchAllHasOneHolderAndTheAdminMayReserveIt() {
        var claims = HostnameClaims(shared: [], catchAllNamespaces: nil)
        #expect(claims.claim([], namespace: "default") == nil)
        #expect(claims.claim([], namespace: "default") == nil)
        #expect(claims.claim([], namespace: "evil")?.message.contains("namespace default") == true)
        #expect(claims.claim(["evil.example.com"], namespace: "evil") == nil, "a hostname is not the catch-all's")

        var reserved = HostnameClaims(shared: [], catchAllNamespaces: ["edge"])
        #expect(reserved.claim([], namespace: "evil")?.reason == "HostnameNotAllowed")
        #expect(reserved.claim([], namespace: "edge") == nil)
    }

    @Test func sharedHostnamesNeverConflict() {
        var claims = HostnameClaims(shared: ["portal.example.com"], catchAllNamespaces: nil)
        #expect(claims.claim(["portal.example.com"], namespace: "a") == nil)
        #expect(claims.claim(["portal.example.com"], namespace: "b") == nil)
    }
}

@Suite struct HostnameResolutionTests {
    static func config(_ namespace: String, _ name: String, hostnames: [String], createdAt: Int64, generation: Int64 = 1) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: namespace, name: name),
            generation: generation,
            createdAt: createdAt,
            match: RouteMatchRule(hostnames: hostnames, path: .prefix("/")),
            upstream: UpstreamTarget(scheme: .https, host: "backend.example.com", port: 443)
        )
    }

    static func entry(_ config: RouteConfig) -> RouteState.Entry {
        RouteState.Entry(generation: config.generation, accepted: config)
    }

    @Test func theOldestWinsAndTheLoserServesNothingUntilTheWinnerGoes() {
        var state = RouteState()
        let shop = Self.config("shop", "api", hostnames: ["shop.example.com"], createdAt: 100)
        let evil = Self.config("evil", "login", hostnames: ["shop.example.com"], createdAt: 200)
        state.entries = [shop.key: Self.entry(shop), evil.key: Self.entry(evil)]
        #expect(GatewayController.resolveHostnames(&state, policy: TenancyPolicy()))
        #expect(state.entries[shop.key]?.served == shop)
        #expect(state.entries[evil.key]?.served == nil)
        #expect(state.entries[evil.key]?.conflict?.message.contains("namespace shop") == true)

        state.entries[shop.key] = nil
        #expect(GatewayController.resolveHostnames(&state, policy: TenancyPolicy()))
        #expect(state.entries[evil.key]?.served == evil, "the hostname is free again")
        #expect(state.entries[evil.key]?.conflict == nil)
    }

    @Test func aRouteCreatedInTheSameSecondDoesNotTakeAServingRoutesHostnames() {
        // "evil" sorts before "shop": without incumbency it would win the tie.
        var state = RouteState()
        let shop = Self.config("shop", "api", hostnames: ["shop.example.com"], createdAt: 100)
        state.entries = [shop.key: Self.entry(shop)]
        _ = GatewayController.resolveHostnames(&state, policy: TenancyPolicy())
        let evil = Self.config("evil", "login", hostnames: ["shop.example.com"], createdAt: 100)
        state.entries[evil.key] = Self.entry(evil)
        #expect(!GatewayController.resolveHostnames(&state, policy: TenancyPolicy()), "shop keeps serving, without a blip")
        #expect(state.entries[shop.key]?.served == shop)
        #expect(state.entries[evil.key]?.served == nil)
    }

    @Test func aNewVersionThatConflictsLeavesThePreviousOneServing() {
        var state = RouteState()
        let shop = Self.config("shop", "api", hostnames: ["shop.example.com"], createdAt: 100)
        let evil = Self.config("evil", "app", hostnames: ["evil.example.com"], createdAt: 200)
        state.entries = [shop.key: Self.entry(shop), evil.key: Self.entry(evil)]
        _ = GatewayController.resolveHostnames(&state, policy: TenancyPolicy())
        let grabbing = Self.config("evil", "app", hostnames: ["evil.example.com", "shop.example.com"], createdAt: 200, generation: 2)
        state.entries[evil.key]?.accepted = grabbing
        _ = GatewayController.resolveHostnames(&state, policy: TenancyPolicy())
        #expect(state.entries[evil.key]?.served == evil, "generation 1 keeps serving")
        #expect(state.entries[evil.key]?.conflict?.reason == "HostnameConflict")
        #expect(state.entries[shop.key]?.served == shop)
    }
}
