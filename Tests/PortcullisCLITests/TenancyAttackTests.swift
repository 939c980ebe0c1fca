import Foundation
import Kubernetes
import PKI
import PortcullisTestSupport
import Testing

/// The attacks of the tenancy issue (#13), run as a tenant with rights on its own namespace would run them:
/// `portcullis apiserver` and `portcullis controller` with default flags (only `--issuer-url` set), two teams
/// (`shop`, the victim, and `evil`) whose backends, and the attacker's hosts, are network namespaces of their
/// own. Each test asserts that the attack fails and that shop's Route keeps serving. docs/security.md says
/// where each boundary is enforced.
@Suite(
    .serialized,
    .enabled(
        if: ExternalTool.kubectl.url != nil && ExternalTool("curl").url != nil && TestHost.isAvailable,
        "needs kubectl, curl, root, ip and python3 (.ci/run provides them)"
    )
)
struct TenancyAttackTests {
    @Test func aTenantCannotMakeTheControllerReadAFileOrPostAnythingToAHostOfItsChoosing() async throws {
        let teams = try await TwoTeams.start()
        // A plain-HTTP endpoint on loopback: the token endpoints' URL rules used to accept it (http to a loopback
        // address), so the controller would post there what it read and signed.
        let thief = try await TestHost("thief", port: Int.random(in: 20_000...40_000), onLoopback: true)
        let endpoint = "http://127.0.0.1:\(thief.port)"
        let apiToken = try String(contentsOf: teams.cluster.state.appendingPathComponent("token"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let provider = "projects/123456789012/locations/global/workloadIdentityPools/pool/providers/gateway"
        let attempts = [
            // The embedded API server's token (it can read every Secret), read from a file and sent to the thief.
            "steal-file": """
                gcpWorkloadIdentity:
                  provider: \(provider)
                  subjectToken: {type: ServiceAccountToken, path: \(teams.cluster.state.appendingPathComponent("token").path)}
                  endpoints: {sts: '\(endpoint)/v1/token'}
                """,
            // An assertion signed by the installation, sent to the thief.
            "steal-assertion": "gcpWorkloadIdentity: {provider: \(provider), endpoints: {sts: '\(endpoint)/v1/token'}}",
            // Assertions naming shop's identity.
            "forge-entra": """
                azureAD:
                  tenantID: 00000000-0000-0000-0000-000000000001
                  clientID: 00000000-0000-0000-0000-000000000002
                  scope: api://ledger/.default
                  authorityHost: '\(endpoint)'
                  credential: {federated: {subject: 'portcullis:shop:orders-identity'}}
                """,
            "forge-client": "oauth2ClientCredentials: {tokenURL: '\(endpoint)/token', clientID: shop-client, clientAuth: private_key_jwt}",
        ]
        var applied: [String] = []
        for (name, spec) in attempts.sorted(by: { $0.key < $1.key }) {
            let indented = spec.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")
            let result = try await teams.apply("apiVersion: portcullis.io/v1alpha1\nkind: UpstreamAuth\nmetadata: {name: \(name), namespace: evil}\nspec:\n\(indented)")
            // Refused at admission (a field that no longer exists) or accepted, to be refused by the controller.
            if result.status == 0 { applied.append(name) }
        }
        // The controller resolves UpstreamAuths within a second, and token fetches start at once; eight seconds
        // leave room for a loaded machine and a retry.
        try await Task.sleep(for: .seconds(8))
        #expect(thief.connections == 0, "the controller reached the thief: \(thief.requests.map { "\($0.method) \($0.path) \($0.body)" })")
        #expect(!thief.requests.contains { $0.body.contains(apiToken) }, "the API server's token was sent to the thief")
        for name in applied {
            let reason = try await teams.kubectl("get", "upstreamauth", name, "-n", "evil", "-o", #"jsonpath={.status.conditions[?(@.type=="Ready")].reason}"#)
                .stdout
            #expect(["EndpointNotAllowed", "SubjectTokenNotAllowed"].contains(reason), "\(name): \(reason)")
        }
        let evilView = try await teams.kubectl("get", "upstreamauths,routes,events,secrets", "-n", "evil", "-o", "yaml").stdout
        #expect(!evilView.contains(apiToken))
        #expect(try await teams.shopServes())
        await thief.stop()
        await teams.stop()
    }

    @Test func everySubjectTheInstallationSignsForANamespaceNamesThatNamespace() async throws {
        let teams = try await TwoTeams.start()
        try await teams.applyEvilCA()
        let forged = try await teams.apply(
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: forged, namespace: evil}
            spec: {gatewayJWT: {subject: 'portcullis:shop:orders-identity'}}
            """
        )
        let own = try await teams.apply(
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: own, namespace: evil}
            spec: {gatewayJWT: {subject: orders-identity}}
            """
        )
        #expect(own.status == 0, "\(own.stderr)")
        for (name, auth) in [("forged", "forged"), ("own", "own")] {
            let route = try await teams.apply(teams.evilRoute(name, path: "/\(name)", upstream: teams.evilBackend.url, extra: "authRefs: [{name: \(auth)}]"))
            #expect(route.status == 0, "\(route.stderr)")
        }
        #expect(try await teams.waitReady("own", namespace: "evil"))
        _ = try await teams.request(host: "evil.example.com", path: "/own")
        if forged.status == 0 { _ = try await teams.request(host: "evil.example.com", path: "/forged") }

        let subjects = teams.evilBackend.requests.compactMap { $0.header("authorization") }.compactMap(TwoTeams.jwtSubject)
        #expect(subjects.contains("portcullis:evil:orders-identity"), "\(subjects)")
        #expect(subjects.allSatisfy { $0.hasPrefix("portcullis:evil:") }, "a token signed for evil named another namespace: \(subjects)")
        #expect(try await teams.shopServes())
        await teams.stop()
    }

    @Test func aRouteCannotSendACredentialWhereItsUpstreamAuthDoesNotLetIt() async throws {
        let teams = try await TwoTeams.start()
        // Someone with rights on shop's Routes (not its UpstreamAuths) points shop's credential at the attacker.
        let leaks = [
            ("leak-cleartext", "/leak-cleartext", "url: '\(teams.evilCleartext.url)'", "orders-identity"),
            ("leak-unverified", "/leak-unverified", "{url: '\(teams.evilBackend.url)', tls: {insecureSkipVerify: true}}", "orders-identity"),
            ("leak-fallback", "/leak-fallback", "{url: 'https://\(teams.shopBackend.address):9', tls: {caSecretRef: {name: backend-ca}}}", "orders-identity"),
            ("leak-elsewhere", "/leak-elsewhere", "{url: '\(teams.evilBackend.url)', tls: {caSecretRef: {name: attacker-ca}}}", "pinned"),
        ]
        let pinned = try await teams.apply(
            try TwoTeams.caSecret("attacker-ca", namespace: "shop", authority: teams.evilAuthority),
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: pinned, namespace: shop}
            spec:
              gatewayJWT: {}
              allowedDestinations: [{url: 'https://\(teams.shopBackend.address):\(teams.shopBackend.port)'}]
            """
        )
        #expect(pinned.status == 0, "\(pinned.stderr)")
        for (name, path, upstream, auth) in leaks {
            let fallback = name == "leak-fallback" ? "fallback: {upstream: {url: '\(teams.evilCleartext.url)'}}" : ""
            let upstreamField = upstream.hasPrefix("{") ? upstream : "{\(upstream)}"
            let result = try await teams.apply(
                """
                apiVersion: portcullis.io/v1alpha1
                kind: Route
                metadata: {name: \(name), namespace: shop}
                spec:
                  hostnames: [shop.example.com]
                  match: {path: {value: \(path)}}
                  upstream: \(upstreamField)
                  authRefs: [{name: \(auth)}]
                  \(fallback)
                """
            )
            #expect(result.status == 0, "\(result.stderr)")
        }
        for (name, _, _, _) in leaks {
            let refused = try await poll { try await teams.condition(name, namespace: "shop", "ResolvedRefs", "reason") == "RefNotPermitted" }
            let message = try await teams.condition(name, namespace: "shop", "ResolvedRefs", "message")
            #expect(refused, "\(name): \(message)")
        }
        for (_, path, _, _) in leaks { _ = try await teams.request(host: "shop.example.com", path: path) }
        for host in [teams.evilBackend, teams.evilCleartext] {
            #expect(!host.requests.contains { $0.header("authorization") != nil }, "shop's credential reached \(host.name)")
        }
        #expect(try await teams.shopServes())
        await teams.stop()
    }

    @Test func aRouteCannotReachTheInstallationOrAnotherNamespacesBackend() async throws {
        let teams = try await TwoTeams.start()
        let apiServer = try #require(teams.cluster.apiserver.printed.firstMatch(of: /listening on https:\/\/127\.0\.0\.1:(\d+)/)).1
        let targets = [
            ("admin-port", "/debug", "{url: 'http://127.0.0.1:\(teams.controller.adminPort)'}"),
            ("localhost", "/local", "{url: 'http://localhost:\(teams.controller.adminPort)'}"),
            ("api-server", "/apis", "{url: 'https://127.0.0.1:\(apiServer)', tls: {insecureSkipVerify: true}}"),
            ("metadata", "/latest", "{url: 'http://169.254.169.254'}"),
            ("neighbour", "/neighbour", "{url: 'https://shop-backend.shop.svc:8443'}"),
        ]
        for (name, path, upstream) in targets {
            let result = try await teams.apply(teams.evilRoute(name, path: path, upstreamField: upstream))
            #expect(result.status == 0, "\(result.stderr)")
        }
        for (name, _, _) in targets {
            let refused = try await poll { try await teams.condition(name, namespace: "evil", "Accepted", "reason") == "DestinationNotAllowed" }
            let message = try await teams.condition(name, namespace: "evil", "Accepted", "message")
            #expect(refused, "\(name): \(message)")
        }
        let debug = try await teams.request(host: "evil.example.com", path: "/debug/config")
        #expect(debug.status == 404 && !debug.body.contains("shop/shop-api"), "the admin port's /debug/config through the gateway: \(debug)")
        for path in ["/local/debug/config", "/apis", "/latest/meta-data", "/neighbour"] {
            let answer = try await teams.request(host: "evil.example.com", path: path)
            #expect(answer.status == 404 && answer.body.contains("no-route"), "\(path): \(answer)")
        }
        #expect(try await teams.shopServes())
        await teams.stop()
    }

    @Test func aNamespaceCannotTakeOverAnothersHostname() async throws {
        let teams = try await TwoTeams.start()
        try await teams.applyEvilCA()
        // shop keeps being asked all along: not one request may fail while evil tries.
        let watcher = Task { () -> [String] in
            var failures: [String] = []
            while !Task.isCancelled {
                if let answer = try? await teams.request(host: "shop.example.com", path: "/api/orders"), answer.status != 200 {
                    failures.append("\(answer.status) \(answer.body)")
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
            return failures
        }
        let claimed = try await teams.apply(
            teams.evilRoute("login", path: "/login", upstream: teams.evilBackend.url, hostnames: "[shop.example.com]"),
            teams.evilRoute("login-wild", path: "/login", upstream: teams.evilBackend.url, hostnames: "['*.example.com']"),
            teams.evilRoute("login-anywhere", path: "/login", upstream: teams.evilBackend.url, hostnames: "[]")
        )
        #expect(claimed.status == 0, "\(claimed.stderr)")
        for name in ["login", "login-wild"] {
            let refused = try await poll { try await teams.condition(name, namespace: "evil", "Accepted", "reason") == "HostnameConflict" }
            let message = try await teams.condition(name, namespace: "evil", "Accepted", "message")
            #expect(refused, "\(name): \(message)")
            #expect(message.contains("namespace shop"), "\(message)")
        }
        // The host-less Route is accepted, and takes only hostnames nobody claims.
        #expect(try await teams.waitReady("login-anywhere", namespace: "evil"))
        for _ in 0..<5 {
            let login = try await teams.request(host: "shop.example.com", path: "/login")
            #expect(login.status == 404, "shop's users reached evil's /login: \(login)")
        }
        #expect(teams.evilBackend.requests.isEmpty, "\(teams.evilBackend.requests.map(\.path))")
        #expect(try await teams.request(host: "unclaimed.example.org", path: "/login").status == 200)
        watcher.cancel()
        let failures = await watcher.value
        #expect(failures.isEmpty, "shop's Route stopped serving: \(failures)")
        #expect(try await teams.shopServes())
        await teams.stop()
    }

    @Test func aTenantsClientCertificateCannotPassForAGatewayReplica() async throws {
        let teams = try await TwoTeams.start()
        let peerName = "breaker-peer.portcullis.invalid"
        let impostor = try await teams.apply(
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: impostor, namespace: evil}
            spec: {mutualTLS: {dnsNames: [\(peerName)]}}
            """,
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: ordinary, namespace: evil}
            spec: {mutualTLS: {}}
            """
        )
        _ = impostor
        // The ordinary certificate is issued: evil holds a certificate of the installation's CA.
        let issued = try await poll { try await teams.kubectl("get", "secret", "ordinary-client-tls", "-n", "evil").status == 0 }
        #expect(issued)
        let impostorIssued = try await teams.kubectl("get", "secret", "impostor-client-tls", "-n", "evil").status == 0
        #expect(!impostorIssued, "the installation signed a certificate naming \(peerName) for a tenant")

        let breakers = try JSONValue(json: try await teams.controller.get("/debug/breakers"))
        let settings = try #require(breakers["breakers"]?.arrayValue?.first { $0["route"]?.stringValue == "shop/shop-api" }?["settings"]?.stringValue)
        let transition = #"{"sender":"impostor","namespace":"shop","name":"shop-api","settings":"\#(settings)","state":"Open","openForMilliseconds":86400000,"tripStreak":1}"#
        for secret in ["ordinary-client-tls", "impostor-client-tls"] {
            let data = try await teams.kubectl("get", "secret", secret, "-n", "evil", "-o", "json")
            guard data.status == 0, let object = try? JSONValue(json: data.stdout), let certificate = object[path: ["data", "tls.crt"]]?.stringValue,
                let key = object[path: ["data", "tls.key"]]?.stringValue
            else { continue }
            let directory = teams.cluster.state.appendingPathComponent(secret)
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(base64Encoded: certificate)!.write(to: directory.appendingPathComponent("tls.crt"))
            try Data(base64Encoded: key)!.write(to: directory.appendingPathComponent("tls.key"))
            let posted = try await ExternalTool("curl").run([
                "-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", "--cert", directory.appendingPathComponent("tls.crt").path,
                "--key", directory.appendingPathComponent("tls.key").path, "-H", "Content-Type: application/json", "-d", transition,
                "https://127.0.0.1:\(teams.controller.adminPort)/peer/v1/breaker-transitions",
            ])
            #expect(posted.stdout != "200" && posted.stdout != "202" && posted.stdout != "204", "\(secret): the admin port took the transition (\(posted.stdout))")
        }
        #expect(try await teams.shopServes(), "shop's breaker was held open by a tenant")
        await teams.stop()
    }
}

extension TenancyAttackTests {
    @Test(.enabled(if: WireGuardTestEnvironment.isAvailable, "needs root, /dev/net/tun, wg and wireguard-go (.ci/run installs them)"))
    func aTunnelCarriesOnlyTheTrafficOfTheRoutesThatNameIt() async throws {
        let teams = try await TwoTeams.start()
        let port = Int.random(in: 40_000...59_999)
        func tunnel(_ name: String, pool: String, allowedIPs: String, port: Int) -> String {
            """
            apiVersion: portcullis.io/v1alpha1
            kind: Tunnel
            metadata: {name: \(name), namespace: evil}
            spec:
              wireGuard: {addressPool: '\(pool)', listenPort: \(port), endpoint: 'gw.example.com:\(port)', allowedIPs: \(allowedIPs)}
            """
        }
        // Half the address space each (the whole of it), and the /32 of shop's backend alone.
        let everything = try await teams.apply(tunnel("everything", pool: "10.250.1.0/30", allowedIPs: "['0.0.0.0/1', '128.0.0.0/1']", port: port))
        let pinpoint = try await teams.apply(tunnel("pinpoint", pool: "10.250.2.0/30", allowedIPs: "['\(teams.shopBackend.address)/32']", port: port + 1))
        #expect(pinpoint.status == 0, "\(pinpoint.stderr)")
        // The /32 is no one else's Tunnel network, so it is configured: a real interface the evil team could use.
        let configured = try await poll {
            try await teams.kubectl("get", "tunnel", "pinpoint", "-n", "evil", "-o", #"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#).stdout == "True"
        }
        let tunnels = try await teams.kubectl("get", "tunnels", "-n", "evil", "-o", "yaml").stdout
        #expect(configured, "\(tunnels)")
        _ = everything  // refused (it covers loopback) or configured: either way it must capture nothing
        // shop's Route, which names no Tunnel, still reaches its backend directly, request after request.
        for _ in 0..<5 {
            #expect(try await teams.shopServes(), "shop's traffic went into evil's tunnel")
        }
        // The controller takes its interfaces, routes and rules down as the Tunnels go (their finalizer).
        try await teams.kubectl("delete", "tunnels", "--all", "-n", "evil", "--timeout=60s")
        await teams.stop()
    }
}

/// Two teams on one installation: `shop`, whose Route `shop-api` (hostname `shop.example.com`, path `/api`) reaches
/// its HTTPS backend with a gateway JWT, and `evil`, with an HTTPS backend of its own and a plain-HTTP host, all in
/// network namespaces of their own; `portcullis controller` with default flags against `portcullis apiserver`.
final class TwoTeams: Sendable {
    let cluster: Cluster
    let controller: ControllerProcess
    let shopAuthority: CertificateAuthority
    let evilAuthority: CertificateAuthority
    let shopBackend: TestHost
    let evilBackend: TestHost
    let evilCleartext: TestHost

    private init(
        cluster: Cluster, controller: ControllerProcess, shopAuthority: CertificateAuthority, evilAuthority: CertificateAuthority,
        shopBackend: TestHost, evilBackend: TestHost, evilCleartext: TestHost
    ) {
        self.cluster = cluster
        self.controller = controller
        self.shopAuthority = shopAuthority
        self.evilAuthority = evilAuthority
        self.shopBackend = shopBackend
        self.evilBackend = evilBackend
        self.evilCleartext = evilCleartext
    }

    static func start() async throws -> TwoTeams {
        let now = Date()
        let shopAuthority = try CertificateAuthority.generate(commonName: "shop test CA", now: now)
        let evilAuthority = try CertificateAuthority.generate(commonName: "evil test CA", now: now)
        func backend(_ name: String, _ authority: CertificateAuthority) async throws -> TestHost {
            // The address is known once the host exists; a certificate for every address a test host may get.
            let addresses = (10...249).map { "10.213.\($0).2" }
            let issued = try authority.issue(.server(dnsNames: ["\(name).test"], ipAddresses: addresses), now: now)
            return try await TestHost(name, certificate: (issued.certificatePEM, issued.privateKeyPEM))
        }
        var hosts: [TestHost] = []
        let cluster: Cluster
        let controller: ControllerProcess
        do {
            hosts.append(try await backend("shop-backend", shopAuthority))
            hosts.append(try await backend("evil-backend", evilAuthority))
            hosts.append(try await TestHost("evil-cleartext", port: 8080))
            cluster = try await Cluster()
            for namespace in ["shop", "evil"] { try await cluster.kubectl("create", "namespace", namespace) }
            controller = try await cluster.startController(["--issuer-url", "https://gateway.portcullis.test"], allowingLoopbackUpstreams: false)
        } catch {
            for host in hosts { await host.stop() }
            throw error
        }
        let (shopBackend, evilBackend, evilCleartext) = (hosts[0], hosts[1], hosts[2])
        let teams = TwoTeams(
            cluster: cluster, controller: controller, shopAuthority: shopAuthority, evilAuthority: evilAuthority,
            shopBackend: shopBackend, evilBackend: evilBackend, evilCleartext: evilCleartext
        )
        let setup = try await teams.apply(
            try caSecret("backend-ca", namespace: "shop", authority: shopAuthority),
            """
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: orders-identity, namespace: shop}
            spec: {gatewayJWT: {}}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: shop-api, namespace: shop}
            spec:
              hostnames: [shop.example.com]
              match: {path: {value: /api}}
              upstream: {url: '\(shopBackend.url)', tls: {caSecretRef: {name: backend-ca}}}
              authRefs: [{name: orders-identity}]
              circuitBreaker: {consecutiveFailures: 5}
            """
        )
        #expect(setup.status == 0, "\(setup.stderr)")
        guard try await teams.waitReady("shop-api", namespace: "shop"), try await teams.shopServes() else {
            let status = try await cluster.kubectl("get", "routes,upstreamauths", "-A", "-o", "yaml").stdout
            await teams.stop()
            throw EndToEndFailure("shop's Route did not serve:\n\(status)\n\(controller.process.printed)")
        }
        return teams
    }

    func stop() async {
        await controller.process.stop()
        await cluster.stop()
        for host in [shopBackend, evilBackend, evilCleartext] { await host.stop() }
    }

    @discardableResult
    func kubectl(_ arguments: String...) async throws -> ExternalTool.Output {
        try await ExternalTool.kubectl.run(["--kubeconfig", cluster.kubeconfig] + arguments)
    }

    /// `kubectl apply` of YAML documents, as the tenant runs it (strict field validation): what came back.
    func apply(_ documents: String...) async throws -> ExternalTool.Output {
        let file = cluster.state.appendingPathComponent("apply-\(UUID().uuidString).yaml")
        try documents.joined(separator: "\n---\n").write(to: file, atomically: true, encoding: .utf8)
        return try await kubectl("apply", "-f", file.path)
    }

    /// evil's CA in a Secret its Routes name, so the gateway verifies evil's backend.
    func applyEvilCA() async throws {
        let result = try await apply(try Self.caSecret("evil-ca", namespace: "evil", authority: evilAuthority))
        #expect(result.status == 0, "\(result.stderr)")
    }

    /// A Secret with `authority`'s certificate as `ca.crt`, labelled so the controller may read it.
    static func caSecret(_ name: String, namespace: String, authority: CertificateAuthority) throws -> String {
        let pem = Data(try authority.certificatePEM.utf8).base64EncodedString()
        return "apiVersion: v1\nkind: Secret\nmetadata: {name: \(name), namespace: \(namespace), labels: {portcullis.io/secret: referenced}}\ndata: {ca.crt: \(pem)}"
    }

    /// A Route of evil's, on `evil.example.com` unless `hostnames` says otherwise.
    func evilRoute(_ name: String, path: String, upstream: String, hostnames: String = "[evil.example.com]", extra: String = "") -> String {
        evilRoute(name, path: path, upstreamField: "{url: '\(upstream)', tls: {caSecretRef: {name: evil-ca}}}", hostnames: hostnames, extra: extra)
    }

    func evilRoute(_ name: String, path: String, upstreamField: String, hostnames: String = "[evil.example.com]", extra: String = "") -> String {
        """
        apiVersion: portcullis.io/v1alpha1
        kind: Route
        metadata: {name: \(name), namespace: evil}
        spec:
          hostnames: \(hostnames)
          match: {path: {value: \(path)}}
          upstream: \(upstreamField)
          \(extra)
        """
    }

    func waitReady(_ route: String, namespace: String) async throws -> Bool {
        let timeout = "--timeout=\(ControllerEndToEndTests.timeout.components.seconds)s"
        return try await kubectl("wait", "--for=condition=Ready", timeout, "-n", namespace, "route/\(route)").status == 0
    }

    func condition(_ route: String, namespace: String, _ type: String, _ field: String) async throws -> String {
        try await kubectl("get", "route", route, "-n", namespace, "-o", "jsonpath={.status.conditions[?(@.type==\"\(type)\")].\(field)}").stdout
    }

    /// A request through the gateway: the status and the body.
    func request(host: String, path: String) async throws -> (status: Int, body: String) {
        let output = try await ExternalTool("curl").run([
            "-s", "--max-time", "10", "-H", "Host: \(host)", "-w", "\n%{http_code}", "http://127.0.0.1:\(controller.gatewayPort)\(path)",
        ])
        let lines = output.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    /// Whether shop's Route answers from shop's backend, with a token naming shop.
    func shopServes() async throws -> Bool {
        let before = shopBackend.requests.count
        let answer = try await request(host: "shop.example.com", path: "/api/orders")
        guard answer.status == 200, answer.body.contains(#""host": "shop-backend""#) else { return false }
        let received = shopBackend.requests.dropFirst(before).last
        return received?.header("authorization").flatMap(Self.jwtSubject) == "portcullis:shop:orders-identity"
    }

    /// The `sub` of the JWT in an `Authorization: Bearer` value.
    static func jwtSubject(_ authorization: String) -> String? {
        let parts = authorization.replacingOccurrences(of: "Bearer ", with: "").split(separator: ".")
        guard parts.count == 3 else { return nil }
        var payload = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        payload += String(repeating: "=", count: (4 - payload.count % 4) % 4)
        guard let data = Data(base64Encoded: payload), let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return claims["sub"] as? String
    }
}
