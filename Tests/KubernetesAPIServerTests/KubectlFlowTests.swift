import Foundation
import Kubernetes
import KubernetesAPIServer
import Logging
import PKI
import PortcullisTestSupport
import Testing

/// The real kubectl against the embedded API server over HTTPS with a bearer token: every flow of
/// ../shared/k8s-api-contract.md §6, with the project's own CRDs and examples.
@Suite(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"), .serialized)
struct KubectlFlowTests {
    /// A running server, a kubeconfig for it and a fresh kubectl cache.
    final class Cluster: Sendable {
        let directory = TemporaryDirectory()
        let task: Task<Void, any Error>
        let kubeconfig: URL
        let endpoint: EmbeddedAPIServer.Endpoint

        init(gitVersion: String = "v1.32.0") async throws {
            let authority = try CertificateAuthority.generate(commonName: "test CA", now: Date())
            let serving = try authority.issue(.loopbackServer(), now: Date())
            let token = UUID().uuidString
            let server = try EmbeddedAPIServer(
                configuration: .init(
                    port: 0,
                    stateDirectory: directory.url.appendingPathComponent("state"),
                    token: token,
                    tls: .init(certificateChainPEM: serving.certificatePEM, privateKeyPEM: serving.privateKeyPEM),
                    gitVersion: gitVersion
                ),
                logger: Logger(label: "test.apiserver")
            )
            let (endpoints, continuation) = AsyncStream<EmbeddedAPIServer.Endpoint>.makeStream()
            task = Task { try await server.run { continuation.yield($0) } }
            var iterator = endpoints.makeAsyncIterator()
            endpoint = try #require(await iterator.next())
            kubeconfig = directory.url.appendingPathComponent("kubeconfig")
            try EmbeddedAPIServer.kubeconfig(server: endpoint.url, certificateAuthorityPEM: try authority.certificatePEM, token: token)
                .write(to: kubeconfig, atomically: true, encoding: .utf8)
        }

        deinit { task.cancel() }

        /// Runs kubectl; `input` is written to a file passed where `-` appears in the arguments.
        @discardableResult
        func kubectl(_ arguments: String..., input: String? = nil) async throws -> ExternalTool.Output {
            var arguments = arguments
            if let input {
                let file = directory.url.appendingPathComponent("input-\(UUID().uuidString).yaml")
                try input.write(to: file, atomically: true, encoding: .utf8)
                arguments = arguments.map { $0 == "-" ? file.path : $0 }
            }
            return try await ExternalTool.kubectl.run(
                ["--kubeconfig", kubeconfig.path, "--cache-dir", directory.url.appendingPathComponent("cache").path] + arguments
            )
        }

        func expectSuccess(_ output: ExternalTool.Output, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
            #expect(output.status == 0, "\(comment) stderr: \(output.stderr) stdout: \(output.stdout)", sourceLocation: sourceLocation)
        }
    }

    static let crds = RepositoryFiles.url("crds").path
    static let examples = RepositoryFiles.url("examples").path

    @Test func crdsAndExamplesApplyAndRead() async throws {
        let cluster = try await Cluster()
        let applied = try await cluster.kubectl("apply", "-f", Self.crds)
        cluster.expectSuccess(applied)
        #expect(applied.stdout.contains("customresourcedefinition.apiextensions.k8s.io/routes.portcullis.io created"))
        let again = try await cluster.kubectl("apply", "-f", Self.crds)
        #expect(again.stdout.contains("routes.portcullis.io unchanged"))
        cluster.expectSuccess(try await cluster.kubectl("wait", "--for=condition=Established", "crd/routes.portcullis.io", "--timeout=10s"))

        for namespace in ["shop", "finance", "analytics"] {
            cluster.expectSuccess(try await cluster.kubectl("create", "namespace", namespace))
        }
        let dryRun = try await cluster.kubectl("apply", "--dry-run=server", "-R", "-f", Self.examples)
        cluster.expectSuccess(dryRun, "every example passes server-side validation")
        #expect(try await cluster.kubectl("get", "routes", "-A", "-o", "name").stdout.isEmpty, "a dry run stores nothing")

        cluster.expectSuccess(try await cluster.kubectl("apply", "-R", "-f", Self.examples))
        let routes = try await cluster.kubectl("get", "routes", "-n", "shop")
        cluster.expectSuccess(routes)
        #expect(routes.stdout.split(separator: "\n").first?.split(separator: " ", omittingEmptySubsequences: true) == ["NAME", "PATH", "UPSTREAM", "BREAKER", "READY", "AGE"])
        #expect(routes.stdout.contains("catalog") && routes.stdout.contains("/catalog"))
        let wide = try await cluster.kubectl("get", "rt", "-n", "shop", "-o", "wide")
        #expect(wide.stdout.contains("HOSTS"))
        let all = try await cluster.kubectl("get", "portcullis", "-A")
        cluster.expectSuccess(all)
        #expect(all.stdout.contains("route.portcullis.io/catalog") && all.stdout.contains("upstreamauth.portcullis.io/") && all.stdout.contains("tunnel.portcullis.io/mainframe"))
        let jsonPath = try await cluster.kubectl("get", "route", "catalog", "-n", "shop", "-o", "jsonpath={.spec.retries.backoff.max}")
        #expect(jsonPath.stdout == "250ms")
        let defaulted = try await cluster.kubectl("get", "route", "orders", "-n", "shop", "-o", "jsonpath={.spec.timeouts.request}")
        #expect(defaulted.stdout.isEmpty, "an absent timeouts object is not invented")
        let json = try await cluster.kubectl("get", "ua", "ledger-api", "-n", "finance", "-o", "json")
        let object = try JSONValue(json: json.stdout)
        #expect(object[path: ["spec", "azureAD", "credential", "federated", "audience"]] == "api://AzureADTokenExchange", "schema defaults applied")

        let described = try await cluster.kubectl("describe", "route", "catalog", "-n", "shop")
        cluster.expectSuccess(described)
        #expect(described.stdout.contains("Circuit Breaker:"))

        let explained = try await cluster.kubectl("explain", "route.spec.retries")
        cluster.expectSuccess(explained)
        #expect(explained.stdout.contains("retryOn"))
        #expect(explained.stdout.contains("budget"))
    }

    @Test func invalidResourcesAreRejectedWithEveryCause() async throws {
        let cluster = try await Cluster()
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", Self.crds))
        let route = """
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata:
              name: bad
            spec:
              upstream:
                url: ftp://nope
              retries:
                attempts: 11
                retryOn: [sometimes]
              bogusField: true
            """
        let strict = try await cluster.kubectl("apply", "-f", "-", input: route)
        #expect(strict.status != 0)
        #expect(strict.stderr.contains(#"unknown field "spec.bogusField""#))
        let invalid = try await cluster.kubectl("apply", "--validate=false", "-f", "-", input: route)
        #expect(invalid.status != 0)
        #expect(invalid.stderr.contains(#"The Route "bad" is invalid:"#))
        #expect(invalid.stderr.contains("* spec.retries.attempts: Invalid value: 11: spec.retries.attempts in body should be less than or equal to 10"))
        #expect(invalid.stderr.contains(#"* spec.retries.retryOn[0]: Unsupported value: "sometimes""#))
        #expect(invalid.stderr.contains(#"* spec.upstream.url: Invalid value: "ftp://nope": spec.upstream.url in body should match '^https?://'"#))
    }

    @Test func statusWaitPatchAndDelete() async throws {
        let cluster = try await Cluster()
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", Self.crds))
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", RepositoryFiles.url("examples/quickstart").path))
        let notYet = try await cluster.kubectl("wait", "--for=condition=Ready", "route/hello", "--timeout=1s")
        #expect(notYet.status != 0)
        #expect(notYet.stderr.contains("timed out waiting for the condition on routes/hello"))

        let status = #"{"status":{"observedGeneration":1,"conditions":[{"type":"Ready","status":"True","reason":"Serving","message":"served","lastTransitionTime":"2025-01-01T00:00:00Z","observedGeneration":1}]}}"#
        let patched = try await cluster.kubectl("patch", "route", "hello", "--subresource=status", "--type=merge", "-p", status)
        cluster.expectSuccess(patched)
        #expect(patched.stdout.contains("route.portcullis.io/hello patched"))
        let waited = try await cluster.kubectl("wait", "--for=condition=Ready", "route/hello", "--timeout=10s")
        cluster.expectSuccess(waited)
        #expect(waited.stdout.contains("route.portcullis.io/hello condition met"))
        let ready = try await cluster.kubectl("get", "route", "hello")
        #expect(ready.stdout.contains("True"))

        let strategic = try await cluster.kubectl("patch", "route", "hello", "-p", #"{"spec":{"retries":{"attempts":2}}}"#)
        #expect(strategic.status != 0)
        #expect(strategic.stderr.contains("application/strategic-merge-patch+json is not supported"))

        cluster.expectSuccess(try await cluster.kubectl("patch", "route", "hello", "--type=merge", "-p", #"{"metadata":{"finalizers":["example.com/hold"]}}"#))
        let deleting = try await cluster.kubectl("delete", "route", "hello", "--wait=false")
        cluster.expectSuccess(deleting)
        #expect(deleting.stdout.contains(#"route.portcullis.io "hello" deleted"#))
        cluster.expectSuccess(try await cluster.kubectl("get", "route", "hello"), "still there while the finalizer holds it")
        cluster.expectSuccess(try await cluster.kubectl("patch", "route", "hello", "--type=json", "-p", #"[{"op":"remove","path":"/metadata/finalizers"}]"#))
        let gone = try await cluster.kubectl("get", "route", "hello")
        #expect(gone.status != 0)
        #expect(gone.stderr.contains(#"Error from server (NotFound): routes.portcullis.io "hello" not found"#))
        cluster.expectSuccess(try await cluster.kubectl("delete", "upstreamauth", "demo-identity"))
    }

    @Test func serverSideApplySecretsAndClusterInfo() async throws {
        let cluster = try await Cluster()
        let serverSide = try await cluster.kubectl("apply", "--server-side", "-f", Self.crds)
        cluster.expectSuccess(serverSide)
        #expect(serverSide.stdout.contains("serverside-applied"))
        cluster.expectSuccess(try await cluster.kubectl("apply", "--server-side", "-f", RepositoryFiles.url("examples/quickstart").path))
        let reapplied = try await cluster.kubectl("apply", "--server-side", "-f", RepositoryFiles.url("examples/quickstart").path)
        cluster.expectSuccess(reapplied)

        cluster.expectSuccess(try await cluster.kubectl("create", "secret", "generic", "creds", "--from-literal=token=s3cr3t"))
        let secret = try await JSONValue(json: cluster.kubectl("get", "secret", "creds", "-o", "json").stdout)
        #expect(secret[path: ["data", "token"]] == "czNjcjN0")
        #expect(secret["type"] == "Opaque")
        let configMap = try await cluster.kubectl("create", "configmap", "settings", "--from-literal=mode=fast")
        cluster.expectSuccess(configMap)
        cluster.expectSuccess(try await cluster.kubectl("label", "configmap", "settings", "tier=gold"))
        let labelled = try await cluster.kubectl("get", "configmaps", "-l", "tier=gold", "-o", "name")
        #expect(labelled.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "configmap/settings")

        let resources = try await cluster.kubectl("api-resources")
        cluster.expectSuccess(resources)
        #expect(resources.stdout.contains("routes") && resources.stdout.contains("rt") && resources.stdout.contains("portcullis.io/v1alpha1"))
        let version = try await cluster.kubectl("version")
        #expect(version.stdout.contains("Server Version: v1.32.0"))
        let info = try await cluster.kubectl("cluster-info")
        cluster.expectSuccess(info)
        #expect(info.stdout.contains(cluster.endpoint.url))
    }

    @Test func watchPrintsEachChange() async throws {
        let cluster = try await Cluster()
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", Self.crds))
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", RepositoryFiles.url("examples/quickstart").path))
        let watcher = Task { try await cluster.kubectl("get", "routes", "-w", "--request-timeout=4s") }
        try await Task.sleep(for: .seconds(1.5))
        cluster.expectSuccess(try await cluster.kubectl("patch", "route", "hello", "--type=merge", "-p", #"{"spec":{"match":{"path":{"value":"/howdy"}}}}"#))
        let output = try await watcher.value
        #expect(output.stdout.contains("/hello"))
        #expect(output.stdout.contains("/howdy"))
        #expect(output.stdout.components(separatedBy: "NAME").count == 2, "the header is printed once")
    }

    @Test(arguments: ["v1.27.0", "v1.33.0"])
    func otherKubectlVersionsApplyAndExplain(gitVersion: String) async throws {
        let cluster = try await Cluster(gitVersion: gitVersion)
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", Self.crds))
        cluster.expectSuccess(try await cluster.kubectl("apply", "-f", RepositoryFiles.url("examples/quickstart").path))
        cluster.expectSuccess(try await cluster.kubectl("create", "secret", "generic", "creds", "--from-literal=a=b"))
        let routes = try await cluster.kubectl("get", "routes")
        #expect(routes.stdout.contains("hello"))
        cluster.expectSuccess(try await cluster.kubectl("explain", "route.spec.timeouts"))
    }

    @Test func requestsWithoutTheTokenAreUnauthorized() async throws {
        let cluster = try await Cluster()
        let output = try await ExternalTool.kubectl.run([
            "--server", cluster.endpoint.url, "--insecure-skip-tls-verify", "--token", "wrong", "--cache-dir",
            cluster.directory.url.appendingPathComponent("other-cache").path, "get", "namespaces",
        ])
        #expect(output.status != 0)
        #expect(output.stderr.contains("You must be logged in to the server"))
    }
}
