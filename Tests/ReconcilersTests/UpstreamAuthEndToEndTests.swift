import AsyncHTTPClient
import CredentialFakes
import Foundation
import Gateway
import Kubernetes
import KubernetesAPIServer
import KubernetesClient
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import PKI
import PortcullisAPI
import PortcullisTestSupport
import Reconcilers
import Synchronization
import Testing
import UpstreamCredentials

/// One installation on loopback: the embedded API server (``TestCluster``), the controller with its
/// credentials and PKI, and the gateway serving what the controller builds.
final class Installation: Sendable {
    let client: KubernetesClient
    let gatewayURL: String
    /// The config the gateway serves.
    let state = GatewayState()
    let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
    private let cluster: TestCluster
    private let controller: Task<Void, any Error>
    private let gateway: any Channel
    static let systemNamespace = "portcullis-system"

    /// - Parameters:
    ///   - gatewayTLS: The gateway terminates TLS with the certificate of this Secret, loaded by the controller.
    ///   - secretLookup: How the controller looks up referenced Secrets its cache does not hold.
    ///   - metricsFactory: Where the controller's metrics go.
    init(
        keyRing: KeyRing.Configuration = KeyRing.Configuration(),
        gatewayTLS: (secret: ObjectKey, tls: GatewayTLS)? = nil,
        secretLookup: SecretLookupConfiguration = SecretLookupConfiguration(),
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) async throws {
        cluster = try await TestCluster.start()
        client = cluster.client
        let logger = Logger(label: "test.controller", factory: { _ in SwiftLogNoOpLogHandler() })
        _ = try await client.resources(.namespaces, as: JSONValue.self).create(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(Self.systemNamespace)]])

        gateway = try await GatewayServer(host: "127.0.0.1", port: 0, state: state, tls: gatewayTLS?.tls).start()
        gatewayURL = "\(gatewayTLS == nil ? "http" : "https")://127.0.0.1:\(gateway.localAddress!.port!)"
        let credentials = CredentialRuntime(httpClient: httpClient, logger: logger)
        let controller = GatewayController(
            client: client, state: state, credentials: credentials,
            pki: PKISettings(namespace: Self.systemNamespace, issuer: gatewayURL, keyRing: keyRing), tenancy: .development, gatewayTLS: gatewayTLS,
            secretLookup: secretLookup, logger: logger, metricsFactory: metricsFactory
        )
        self.controller = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await credentials.run() }
                group.addTask { try await controller.run() }
            }
        }
    }

    func createNamespace(_ name: String) async throws {
        _ = try await client.resources(.namespaces, as: JSONValue.self).create(["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
    }

    func stop() async {
        controller.cancel()
        _ = try? await controller.value
        try? await gateway.close()
        try? await httpClient.shutdown()
        await cluster.stop()
    }

    /// Server-side applies every object in `yaml`.
    func apply(_ yaml: String) async throws {
        for object in try JSONValue.documents(yaml: yaml) {
            let descriptor: ResourceDescriptor
            switch object["kind"]?.stringValue {
            case "Route": descriptor = Route.resource
            case "UpstreamAuth": descriptor = UpstreamAuth.resource
            case "Secret": descriptor = .secrets
            case "Service": descriptor = .services
            default: throw KubernetesError(code: .invalid, message: "unexpected kind in a test manifest")
            }
            _ = try await client.resources(descriptor, as: JSONValue.self).patch(
                object[path: ["metadata", "name"]]?.stringValue ?? "",
                namespace: object[path: ["metadata", "namespace"]]?.stringValue ?? "default",
                .apply(object, force: true),
                options: WriteOptions(fieldManager: "test")
            )
        }
    }

    func upstreamAuth(_ name: String, namespace: String = "default") async throws -> UpstreamAuth {
        try await client.resources(UpstreamAuth.self).get(name, namespace: namespace)
    }

    func condition(_ type: String, of name: String, namespace: String = "default") async throws -> Condition? {
        try await upstreamAuth(name, namespace: namespace).status?.conditions?.first { $0.type == type }
    }

    /// A GET through the gateway: the status and the body.
    func get(_ path: String) async throws -> (status: Int, body: String) {
        let response = try await httpClient.execute(HTTPClientRequest(url: gatewayURL + path), timeout: .seconds(15))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), String(buffer: body))
    }
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes.
func eventually(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}

/// UpstreamAuths from apply to the upstream, through the controller, the credential runtime and the
/// gateway, against fakes that verify what the real services verify.
@Suite(.serialized) struct UpstreamAuthEndToEndTests {
    /// A backend that trusts the gateway's JWTs: it fetches the JWKS over HTTP from the issuer's
    /// discovery document (again for an unknown `kid`), and checks signature, issuer and audience.
    final class JWTVerifyingBackend: Sendable {
        /// What the backend saw: the `kid` of every accepted token, and why it refused any.
        final class Observations: Sendable {
            let kids = Mutex<[String]>([])
            let rejections = Mutex<[String]>([])
            let keys = Mutex<String?>(nil)
            let origin = Mutex("")
        }

        let server: FakeHTTPServer
        let seen = Observations()
        var origin: String { server.baseURL }

        init(issuer: String) async throws {
            let fetcher = IssuerKeyFetcher()
            let seen = self.seen
            server = try await FakeHTTPServer.start { request in
                guard let authorization = request.header("authorization"), authorization.hasPrefix("Bearer "),
                    let jwt = UnverifiedJWT(String(authorization.dropFirst(7)))
                else {
                    seen.rejections.withLock { $0.append("no bearer token") }
                    return .text(401, "no token")
                }
                do {
                    var jwks = seen.keys.withLock { $0 }
                    if jwks == nil || !(jwks ?? "").contains(jwt.kid ?? "-") {
                        jwks = try await fetcher.jwksJSON(issuer: issuer)
                        seen.keys.withLock { $0 = jwks }
                    }
                    try await IssuerKeyFetcher.verifySignature(jwt.compact, jwksJSON: jwks ?? "")
                    guard jwt.iss == issuer, jwt.aud == [seen.origin.withLock { $0 }], let exp = jwt.exp, exp > Date() else {
                        seen.rejections.withLock { $0.append("claims: iss \(jwt.iss ?? "-") aud \(jwt.aud)") }
                        return .text(401, "bad claims")
                    }
                    seen.kids.withLock { $0.append(jwt.kid ?? "") }
                    return .text(200, jwt.sub ?? "")
                } catch {
                    seen.rejections.withLock { $0.append("\(error)") }
                    return .text(401, "\(error)")
                }
            }
            seen.origin.withLock { $0 = server.baseURL }
        }
    }

    @Test func gatewayJWTsVerifyThroughTheJWKSAcrossKeyRotations() async throws {
        // A new key every 4 s, published 2 s before it signs.
        let installation = try await Installation(
            keyRing: .init(rotationInterval: .seconds(4), publishLead: .seconds(2), maxTokenTTL: .seconds(60), removalSlack: .seconds(1))
        )
        let backend = try await JWTVerifyingBackend(issuer: installation.gatewayURL)
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: identity, namespace: default}
            spec: {gatewayJWT: {ttl: 60s}}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: api, namespace: default}
            spec: {upstream: {url: '\(backend.origin)'}, authRefs: [{name: identity}]}
            """)
        try await eventually("the route serves") { try await installation.get("/").status == 200 }
        #expect(try await installation.get("/").body == "portcullis:default:identity")

        var failures: [String] = []
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: .seconds(9))
        while clock.now < end {
            let (status, body) = try await installation.get("/")
            if status != 200 { failures.append("\(status) \(body)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(failures.isEmpty, "\(failures.prefix(5)) \(backend.seen.rejections.withLock { $0 }.prefix(5))")
        let kids = backend.seen.kids.withLock { Set($0) }
        #expect(kids.count >= 2, "requests were signed by \(kids.count) key(s) across the rotations")

        let status = try await installation.upstreamAuth("identity").status
        #expect(status?.conditions?.first { $0.type == "CredentialReady" }?.status == .true)
        #expect(status?.jwks?.uri == installation.gatewayURL + "/.well-known/jwks.json")
        #expect(status?.secretless == true)
        let published = try await installation.client.resources(CoreV1.ConfigMap.self).get("portcullis-jwks", namespace: Installation.systemNamespace)
        #expect(published.data?["jwks.json"]?.contains(status?.jwks?.keyID ?? "?") == true)
        await backend.server.stop()
        await installation.stop()
    }

    @Test func mutualTLSCertificatesAreIssuedIntoOwnedSecretsAndRotatedWithoutFailures() async throws {
        let installation = try await Installation()
        let bundle = try await eventuallyValue("the trust bundle") {
            try await installation.client.resources(CoreV1.ConfigMap.self).get("portcullis-ca-bundle", namespace: Installation.systemNamespace).data?["ca.crt"]
        }
        let serverAuthority = try CertificateAuthority.generate(commonName: "backend CA", now: Date())
        let upstream = try await MutualTLSUpstream(serverAuthority: serverAuthority, clientCAPEM: bundle)
        let serverCA = Data(try serverAuthority.trustAnchorPEM.utf8).base64EncodedString()
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: backend-ca, namespace: default, labels: {portcullis.io/secret: referenced}}
            data: {ca.crt: \(serverCA)}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: client-cert, namespace: default}
            spec: {mutualTLS: {duration: 2h, uris: ['spiffe://cluster.local/ns/default/gateway']}}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: secure, namespace: default}
            spec: {upstream: {url: 'https://127.0.0.1:\(upstream.port)', tls: {caSecretRef: {name: backend-ca}}}, authRefs: [{name: client-cert}]}
            """)
        let first = try await eventuallyValue("the certificate status") { try await installation.upstreamAuth("client-cert").status?.certificate?.serialNumber }
        let secret = try await installation.client.resources(CoreV1.Secret.self).get("client-cert-client-tls", namespace: "default")
        #expect(secret.type == "kubernetes.io/tls")
        #expect(Set(secret.data?.keys.map { $0 } ?? []) == ["tls.crt", "tls.key", "ca.crt"])
        #expect(secret.metadata.ownerReferences?.first?.kind == "UpstreamAuth")
        #expect(secret.metadata.ownerReferences?.first?.name == "client-cert")
        #expect(secret.metadata.labels?["portcullis.io/secret"] == "owned", "the controller's cache holds what it issues")
        try await eventually("the upstream sees the certificate") { try await installation.get("/").body == first }
        #expect(try await installation.condition("CredentialReady", of: "client-cert")?.reason == "CertificateIssued")

        // A spec change reissues the certificate; requests keep succeeding meanwhile.
        let failures = Mutex<[String]>([])
        let load = Task {
            while !Task.isCancelled {
                if let (status, body) = try? await installation.get("/"), status != 200 { failures.withLock { $0.append("\(status) \(body)") } }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: client-cert, namespace: default}
            spec: {mutualTLS: {duration: 2h, uris: ['spiffe://cluster.local/ns/default/gateway-v2']}}
            """)
        let second = try await eventuallyValue("a new certificate") { () -> String? in
            let serial = try await installation.upstreamAuth("client-cert").status?.certificate?.serialNumber
            return serial == first ? nil : serial
        }
        try await eventually("the upstream sees the new certificate") { try await installation.get("/").body == second }
        load.cancel()
        _ = await load.value
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        try await upstream.stop()
        await installation.stop()
    }

    @Test func tokenServiceFailuresReachStatusAndTheirFixIsPickedUp() async throws {
        let installation = try await Installation()
        let oauth = try await FakeOAuth2Server.start()
        oauth.setClient(.init(clientID: "gateway", secret: "the-right-secret", methods: [.clientSecretBasic]))
        let backend = try await FakeHTTPServer.start { request in .text(200, request.header("authorization") ?? "none") }
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: oauth-client, namespace: default, labels: {portcullis.io/secret: referenced}}
            stringData: {client-secret: a-wrong-secret}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: oauth, namespace: default}
            spec: {oauth2ClientCredentials: {tokenURL: '\(oauth.tokenURL)', clientID: gateway, clientSecretRef: {name: oauth-client}}}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: api, namespace: default}
            spec: {upstream: {url: '\(backend.baseURL)'}, authRefs: [{name: oauth}]}
            """)
        try await eventually("InvalidClient in status") { try await installation.condition("CredentialReady", of: "oauth")?.reason == "InvalidClient" }
        let failed = try await installation.upstreamAuth("oauth").status
        #expect(failed?.secretless == false)
        #expect((failed?.credential?.consecutiveFailures ?? 0) >= 1)
        #expect(failed?.credential?.lastError?.hasPrefix("InvalidClient:") == true, "\(failed?.credential?.lastError ?? "-")")
        let statusText = try JSONValue(encoding: failed).description
        #expect(!statusText.contains("a-wrong-secret") && !statusText.contains("the-right-secret"), "no secret in status")
        let refused = try await installation.get("/")
        #expect(refused.status == 503)
        #expect(refused.body.contains("upstream-auth-failed"))

        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: oauth-client, namespace: default, labels: {portcullis.io/secret: referenced}}
            stringData: {client-secret: the-right-secret}
            """)
        try await eventually("TokenReady", timeout: .seconds(30)) { try await installation.condition("CredentialReady", of: "oauth")?.reason == "TokenReady" }
        let served = try await installation.get("/")
        #expect(served.status == 200)
        let token = String(served.body.dropFirst("Bearer ".count))
        #expect(oauth.issuedTokens[token] == "gateway", "the upstream got the token the OAuth2 server issued")
        await backend.stop()
        await oauth.stop()
        await installation.stop()
    }

    /// private_key_jwt (RFC 7523): iss = sub = the client ID, so the key must say whose assertion it is. team-a's
    /// client is registered with team-a's JWKS, which the gateway serves; team-b naming team-a's client ID is
    /// refused by the authorization server, and neither namespace's key is in the installation's JWKS.
    @Test func privateKeyJWTClientsTrustTheirNamespacesJWKSWhichNoOtherNamespaceSignsFor() async throws {
        let installation = try await Installation()
        let oauth = try await FakeOAuth2Server.start()
        let teamAJWKS = installation.gatewayURL + "/namespaces/team-a/jwks.json"
        oauth.setClient(.init(clientID: "team-a-client", methods: [.privateKeyJWT], jwksURI: teamAJWKS))
        let backend = try await FakeHTTPServer.start { request in .text(200, request.header("authorization") ?? "none") }
        try await installation.createNamespace("team-a")
        try await installation.createNamespace("team-b")
        for namespace in ["team-a", "team-b"] {
            try await installation.apply("""
                apiVersion: portcullis.io/v1alpha1
                kind: UpstreamAuth
                metadata: {name: partner, namespace: \(namespace)}
                spec: {oauth2ClientCredentials: {tokenURL: '\(oauth.tokenURL)', clientID: team-a-client, clientAuth: private_key_jwt}}
                """)
        }
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: api, namespace: team-a}
            spec: {match: {path: {value: /api}}, upstream: {url: '\(backend.baseURL)'}, authRefs: [{name: partner}]}
            """)
        try await eventually("team-a's token", timeout: .seconds(40)) {
            try await installation.condition("CredentialReady", of: "partner", namespace: "team-a")?.reason == "TokenReady"
        }
        try await eventually("team-b refused", timeout: .seconds(40)) {
            try await installation.condition("CredentialReady", of: "partner", namespace: "team-b")?.reason == "InvalidClient"
        }
        #expect(Set(oauth.issuedTokens.values) == ["team-a-client"])
        let served = try await installation.get("/api")
        #expect(served.status == 200)
        #expect(oauth.issuedTokens[String(served.body.dropFirst("Bearer ".count))] == "team-a-client", "team-a's token reached its upstream")

        // Status names the JWKS to register the client with, and the key signing now.
        let status = try await installation.upstreamAuth("partner", namespace: "team-a").status
        #expect(status?.jwks?.uri == teamAJWKS)
        let keyID = try #require(status?.jwks?.keyID)
        let teamBKeyID = try #require(try await installation.upstreamAuth("partner", namespace: "team-b").status?.jwks?.keyID)
        #expect(teamBKeyID != keyID)

        // Each namespace's JWKS holds its keys only, and the installation's none of theirs.
        func kids(_ path: String) async throws -> Set<String> {
            let (status, body) = try await installation.get(path)
            try #require(status == 200, "\(path): \(status)")
            let document = try #require(JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            return Set((document["keys"] as? [[String: Any]] ?? []).compactMap { $0["kid"] as? String })
        }
        let teamA = try await kids("/namespaces/team-a/jwks.json")
        let teamB = try await kids("/namespaces/team-b/jwks.json")
        let installationKeys = try await kids("/.well-known/jwks.json")
        #expect(teamA == [keyID] && teamB == [teamBKeyID])
        #expect(installationKeys.isDisjoint(with: teamA.union(teamB)) && !installationKeys.isEmpty)
        #expect(try await installation.get("/namespaces/default/jwks.json").status == 404, "only namespaces with a private_key_jwt client")
        await backend.stop()
        await oauth.stop()
        await installation.stop()
    }

    @Test func gcpWorkloadIdentityFederatesTheGatewaysJWTAndReportsPermissionDenied() async throws {
        let installation = try await Installation()
        let sts = try await FakeGoogleSTS.start()
        let iam = try await FakeIAMCredentials.start(sts: sts)
        let provider = "projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/providers/gateway"
        sts.setProvider("//iam.googleapis.com/" + provider, .init(issuerURI: installation.gatewayURL))
        let account = "backend@example-project.iam.gserviceaccount.com"
        iam.addServiceAccount(.init(email: account))
        let backend = try await FakeHTTPServer.start { request in .text(200, request.header("authorization") ?? "none") }
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: google, namespace: default}
            spec:
              gcpWorkloadIdentity:
                provider: \(provider)
                serviceAccount: \(account)
                endpoints: {sts: '\(sts.tokenURL)', iamCredentials: '\(iam.baseURL)'}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: api, namespace: default}
            spec: {upstream: {url: '\(backend.baseURL)'}, authRefs: [{name: google}]}
            """)
        // STS verified the gateway's JWT through its discovery document; IAM refuses: no binding yet.
        try await eventually("PermissionDenied in status") { try await installation.condition("CredentialReady", of: "google")?.reason == "PermissionDenied" }
        #expect(!sts.issuedTokens.isEmpty, "STS accepted the gateway's JWT")

        let principal = "principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/subject/portcullis:default:google"
        iam.addServiceAccount(.init(email: account, tokenCreators: [principal]))
        try await eventually("TokenReady", timeout: .seconds(40)) { try await installation.condition("CredentialReady", of: "google")?.reason == "TokenReady" }
        let served = try await installation.get("/")
        #expect(served.status == 200)
        #expect(iam.issuedAccessTokens[String(served.body.dropFirst("Bearer ".count))]?.serviceAccount == account)
        await backend.stop()
        await iam.stop()
        await sts.stop()
        await installation.stop()
    }
}

/// Polls `value` every 50 ms until it is not `nil`.
func eventuallyValue<Value>(_ what: String, timeout: Duration = .seconds(20), _ value: () async throws -> Value?) async throws -> Value {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if let found = try? await value() { return found }
        try await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("timed out waiting for \(what)")
    throw CancellationError()
}
