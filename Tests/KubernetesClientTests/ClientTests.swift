import Foundation
import Kubernetes
import KubernetesClient
import Logging
import PKI
import PortcullisAPI
import Testing

/// The client against the embedded API server over HTTPS with a bearer token.
extension IntegrationTests {
    @Suite struct ClientTests {
        @Test func createGetUpdatePatchDeleteWithTypedErrors() async throws {
            try await withServer { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                let created = try await configMaps.create(.named("web", data: ["a": "1"]))
                #expect(created.metadata.uid != nil && created.metadata.resourceVersion != nil)
                #expect(created.metadata.namespace == "default", "the client's namespace from the kubeconfig context")

                let duplicate = await #expect(throws: KubernetesError.self) {
                    _ = try await configMaps.create(.named("web"))
                }
                #expect(duplicate?.code == .alreadyExists)
                #expect(duplicate?.statusCode == 409)
                #expect(duplicate?.reason == "AlreadyExists")

                var fetched = try await configMaps.get("web")
                #expect(fetched.data == ["a": "1"])
                fetched.data = ["a": "2"]
                let updated = try await configMaps.update(fetched)
                #expect(updated.data == ["a": "2"])
                #expect(updated.metadata.resourceVersion != fetched.metadata.resourceVersion)

                var stale = fetched
                stale.data = ["a": "stale"]
                let conflict = await #expect(throws: KubernetesError.self) { _ = try await configMaps.update(stale) }
                #expect(conflict?.code == .conflict)
                #expect(conflict?.message.contains("the object has been modified") == true)

                let merged = try await configMaps.patch("web", .merge(["data": ["b": "3"]]))
                #expect(merged.data == ["a": "2", "b": "3"])
                let jsonPatched = try await configMaps.patch(
                    "web",
                    .json(try JSONPatch(json: #"[{"op":"remove","path":"/data/a"}]"#))
                )
                #expect(jsonPatched.data == ["b": "3"])
                let applied = try await configMaps.patch(
                    "web",
                    .apply(["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "web"], "data": ["c": "4"]]),
                    options: WriteOptions(fieldManager: "test-apply")
                )
                #expect(applied.data?["c"] == "4")

                let wrongUID = await #expect(throws: KubernetesError.self) {
                    try await configMaps.delete("web", options: DeleteOptions(preconditionUID: "not-the-uid"))
                }
                #expect(wrongUID?.code == .conflict)

                try await configMaps.delete(
                    "web",
                    options: DeleteOptions(propagationPolicy: .background, preconditionUID: created.metadata.uid)
                )
                let missing = await #expect(throws: KubernetesError.self) { _ = try await configMaps.get("web") }
                #expect(missing?.code == .notFound)
                #expect(missing?.statusCode == 404)
                #expect(missing?.message == #"configmaps "web" not found"#)
                #expect(missing?.status?.details?.name == "web")
                #expect(missing == KubernetesError(code: .notFound, message: "anything"), "errors compare by code")
            }
        }

        @Test func invalidCustomResourceReportsEveryCause() async throws {
            try await withServer(crds: true) { _, client in
                let routes = client.resources(.routes, as: JSONValue.self)
                let bad: JSONValue = [
                    "apiVersion": "portcullis.io/v1alpha1", "kind": "Route", "metadata": ["name": "bad"],
                    "spec": ["upstream": ["url": "ftp://nope"], "retries": ["attempts": 11]],
                ]
                let error = await #expect(throws: KubernetesError.self) { _ = try await routes.create(bad) }
                #expect(error?.code == .invalid)
                #expect(error?.statusCode == 422)
                let fields = Set(error?.causes.compactMap(\.field) ?? [])
                #expect(fields == ["spec.retries.attempts", "spec.upstream.url"])
                #expect(error?.causes.first { $0.field == "spec.retries.attempts" }?.reason == "FieldValueInvalid")
                #expect(error?.message.hasPrefix(#"Route.portcullis.io "bad" is invalid"#) == true)

                let typed = client.resources(Route.self)
                let route = Route(
                    metadata: .init(name: "web"),
                    spec: RouteSpec(upstream: Upstream(url: "http://127.0.0.1:8090"))
                )
                let created = try await typed.create(route)
                #expect(created.metadata.generation == 1)
                #expect(created.spec.upstream.url == "http://127.0.0.1:8090")
                var status = created
                status.status = RouteStatus(observedGeneration: 1)
                let written = try await typed.updateStatus(status)
                #expect(written.status?.observedGeneration == 1)
                #expect(try await typed.get("web").status?.observedGeneration == 1)
            }
        }

        @Test func listsWithSelectorsAndPages() async throws {
            try await withServer { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                for index in 0..<7 {
                    _ = try await configMaps.create(
                        .named("cm-\(index)", labels: ["parity": index.isMultiple(of: 2) ? "even" : "odd"])
                    )
                }
                let ns = client.resources(CoreV1.Namespace.self)
                _ = try await ns.create(CoreV1.Namespace(metadata: .init(name: "other")))
                _ = try await configMaps.create(.named("elsewhere", namespace: "other"))

                let even = try await configMaps.list(
                    namespace: "default",
                    options: ListOptions(labelSelector: "parity=even")
                )
                #expect(even.items.compactMap(\.metadata.name) == ["cm-0", "cm-2", "cm-4", "cm-6"])
                let byName = try await configMaps.list(
                    namespace: "default",
                    options: ListOptions(fieldSelector: "metadata.name=cm-3")
                )
                #expect(byName.items.compactMap(\.metadata.name) == ["cm-3"])

                let firstPage = try await configMaps.list(namespace: "default", options: ListOptions(limit: 3))
                #expect(firstPage.items.count == 3)
                let token = try #require(firstPage.continueToken)
                let secondPage = try await configMaps.list(
                    namespace: "default",
                    options: ListOptions(limit: 3, continueToken: token)
                )
                #expect(secondPage.items.compactMap(\.metadata.name) == ["cm-3", "cm-4", "cm-5"])

                let all = try await configMaps.listAll(namespace: "default", pageSize: 3)
                #expect(all.items.compactMap(\.metadata.name) == (0..<7).map { "cm-\($0)" })
                #expect(all.continueToken == nil)
                #expect(all.resourceVersion == firstPage.resourceVersion || !all.resourceVersion.isEmpty)

                let everywhere = try await configMaps.listAll(pageSize: 2)
                #expect(everywhere.items.count == 8, "a nil namespace lists all namespaces")
                let expired = await #expect(throws: KubernetesError.self) {
                    _ = try await configMaps.list(
                        namespace: "default",
                        options: ListOptions(limit: 3, continueToken: "garbage")
                    )
                }
                #expect(expired?.code == .badRequest || expired?.code == .gone)
            }
        }

        @Test func watchDeliversTypedEventsAndBookmarks() async throws {
            try await withServer(bookmarkInterval: .milliseconds(200)) { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                _ = try await configMaps.create(.named("before"))
                let list = try await configMaps.list(namespace: "default")
                let stream = try await configMaps.watch(
                    namespace: "default",
                    options: WatchOptions(
                        resourceVersion: list.resourceVersion,
                        allowWatchBookmarks: true,
                        timeoutSeconds: 30
                    )
                )
                var iterator = stream.makeAsyncIterator()
                let created = try await configMaps.create(.named("w", data: ["v": "1"]))
                _ = try await configMaps.patch("w", .merge(["data": ["v": "2"]]))
                try await configMaps.delete("w")

                var seen: [String] = []
                var bookmark: WatchBookmark?
                while seen.count < 3, let event = try await iterator.next() {
                    switch event {
                    case .added(let object):
                        seen.append("ADDED \(object.metadata.name ?? "") \(object.data?["v"] ?? "")")
                    case .modified(let object):
                        seen.append("MODIFIED \(object.metadata.name ?? "") \(object.data?["v"] ?? "")")
                    case .deleted(let object): seen.append("DELETED \(object.metadata.name ?? "")")
                    case .bookmark(let value): bookmark = value
                    case .error(let error): Issue.record("unexpected \(error)")
                    }
                }
                #expect(seen == ["ADDED w 1", "MODIFIED w 2", "DELETED w"])
                #expect(created.metadata.resourceVersion != nil)
                while bookmark == nil, let event = try await iterator.next() {
                    if case .bookmark(let value) = event { bookmark = value }
                }
                #expect(bookmark.map { !$0.resourceVersion.isEmpty } == true, "bookmarks carry a resourceVersion")
            }
        }

        @Test func watchFromAnExpiredVersionEndsWithAGoneError() async throws {
            try await withServer(historyLimit: 3) { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                let start = try await configMaps.create(.named("x")).metadata.resourceVersion
                for index in 0..<6 { _ = try await configMaps.patch("x", .merge(["data": ["i": .string("\(index)")]])) }
                let stream = try await configMaps.watch(
                    namespace: "default",
                    options: WatchOptions(resourceVersion: start)
                )
                var events: [WatchEvent<CoreV1.ConfigMap>] = []
                for try await event in stream { events.append(event) }
                #expect(events.count == 1)
                guard case .error(let error) = events.first else {
                    Issue.record("expected an ERROR event, got \(events)")
                    return
                }
                #expect(error.code == .gone)
                #expect(error.isExpired)
                #expect(error.statusCode == 410)
            }
        }

        @Test func aWatchEndingAtItsTimeoutLeavesTheConnectionUsable() async throws {
            try await withServer { _, client in
                var configuration = client.configuration
                configuration.maximumConnections = 1  // every request shares the watch's connection
                configuration.timeouts.request = .seconds(15)
                let single = try KubernetesClient(configuration: configuration, logger: quietLogger)
                let configMaps = single.resources(CoreV1.ConfigMap.self)
                do {
                    let start = ContinuousClock.now
                    let stream = try await configMaps.watch(
                        namespace: "default",
                        options: WatchOptions(timeoutSeconds: 1)
                    )
                    for try await _ in stream {}
                    #expect(ContinuousClock.now - start >= .seconds(1), "the server ends the watch at timeoutSeconds")
                    for index in 0..<3 { _ = try await configMaps.create(.named("after-\(index)")) }
                    #expect(try await configMaps.list(namespace: "default").items.count == 3)
                } catch {
                    try await single.shutdown()
                    throw error
                }
                try await single.shutdown()
            }
        }

        @Test func cancellingTheConsumerEndsTheWatch() async throws {
            try await withServer { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                let stream = try await configMaps.watch(
                    namespace: "default",
                    options: WatchOptions(timeoutSeconds: 600)
                )
                let consumer = Task {
                    var count = 0
                    do {
                        for try await _ in stream { count += 1 }
                    } catch {}
                    return count
                }
                try await Task.sleep(for: .milliseconds(200))
                let start = ContinuousClock.now
                consumer.cancel()
                _ = await consumer.value
                #expect(
                    ContinuousClock.now - start < .seconds(10),
                    "cancellation ends the stream at once, not at its 600 s timeout"
                )
                // The connection pool still works afterwards.
                _ = try await configMaps.create(.named("after"))
            }
        }

        @Test func wrongTokenIsUnauthorized() async throws {
            let server = try await TestAPIServer()
            var configuration = try Kubeconfig(yaml: server.kubeconfig(), source: "kubeconfig").configuration()
            configuration.authentication = .bearerToken("wrong")
            let client = try KubernetesClient(configuration: configuration, logger: quietLogger)
            let error = await #expect(throws: KubernetesError.self) {
                _ = try await client.resources(CoreV1.ConfigMap.self).list(namespace: "default")
            }
            #expect(error?.code == .unauthorized)
            #expect(error?.statusCode == 401)
            try await client.shutdown()
            await server.stop()
        }

        @Test func untrustedServerCertificateIsRefused() async throws {
            let server = try await TestAPIServer()
            var configuration = try Kubeconfig(yaml: server.kubeconfig(), source: "kubeconfig").configuration()
            configuration.tls.certificateAuthorityPEM = nil
            configuration.timeouts.connect = .seconds(1)
            let client = try KubernetesClient(configuration: configuration, logger: quietLogger)
            await #expect(throws: (any Error).self) {
                _ = try await client.resources(CoreV1.ConfigMap.self).list(namespace: "default")
            }
            configuration.tls.insecureSkipVerify = true
            let insecure = try KubernetesClient(configuration: configuration, logger: quietLogger)
            _ = try await insecure.resources(CoreV1.ConfigMap.self).list(namespace: "default")
            try await client.shutdown()
            try await insecure.shutdown()
            await server.stop()
        }

        @Test func tokenFileIsRereadWhenTheServerAnswers401() async throws {
            let server = try await TestAPIServer()
            let directory = TemporaryDirectory()
            let tokenPath = try directory.write("token", "stale-token")
            var configuration = try Kubeconfig(yaml: server.kubeconfig(), source: "kubeconfig").configuration()
            configuration.authentication = .tokenFile(path: tokenPath)
            let client = try KubernetesClient(configuration: configuration, logger: quietLogger)
            let configMaps = client.resources(CoreV1.ConfigMap.self)
            let first = await #expect(throws: KubernetesError.self) {
                _ = try await configMaps.list(namespace: "default")
            }
            #expect(first?.code == .unauthorized)
            // The kubelet rotates the token: the cached one is rejected, the file is read again, the retry succeeds.
            try directory.write("token", server.token)
            _ = try await configMaps.list(namespace: "default")
            try await client.shutdown()
            await server.stop()
        }

        @Test func execPluginSuppliesTheToken() async throws {
            let server = try await TestAPIServer()
            let directory = TemporaryDirectory()
            let plugin = try CredentialTests.plugin(in: directory, token: server.token, lifetime: 3600)
            let kubeconfig = """
                apiVersion: v1
                kind: Config
                current-context: c
                clusters: [{name: k, cluster: {server: "\(server.url)", certificate-authority: ca.crt}}]
                contexts: [{name: c, context: {cluster: k, user: u, namespace: default}}]
                users:
                - name: u
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1
                      command: \(plugin)
                      env: [{name: REGION, value: eu}]
                """
            try directory.write("ca.crt", server.certificateAuthorityPEM)
            let path = try directory.write("kubeconfig", kubeconfig)
            let client = try KubernetesClient(
                configuration: try Kubeconfig.load(path: path).configuration(),
                logger: quietLogger
            )
            let configMaps = client.resources(CoreV1.ConfigMap.self)
            _ = try await configMaps.create(.named("via-exec"))
            _ = try await configMaps.get("via-exec")
            #expect(CredentialTests.runs(in: directory) == 1)
            try await client.shutdown()
            await server.stop()
        }

        @Test func clientCertificatesFromTheKubeconfigAndFromAnExecPluginAreUsable() async throws {
            let server = try await TestAPIServer()
            let authority = try CertificateAuthority.generate(commonName: "client CA", now: Date())
            let issued = try authority.issue(.client(commonName: "portcullis-controller"), now: Date())
            var configuration = try Kubeconfig(yaml: server.kubeconfig(), source: "kubeconfig").configuration()
            configuration.tls.clientCertificatePEM = issued.certificatePEM
            configuration.tls.clientKeyPEM = issued.privateKeyPEM
            let client = try KubernetesClient(configuration: configuration, logger: quietLogger)
            _ = try await client.resources(CoreV1.ConfigMap.self).list(namespace: "default")
            try await client.shutdown()

            var broken = configuration
            broken.tls.clientKeyPEM = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n"
            #expect(throws: ConfigurationError(.invalidField, "")) {
                _ = try KubernetesClient(configuration: broken, logger: quietLogger)
            }

            // An exec plugin that returns a token and a client certificate: later requests present it.
            let directory = TemporaryDirectory()
            let credential: JSONValue = [
                "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                "status": [
                    "token": .string(server.token), "clientCertificateData": .string(issued.certificatePEM),
                    "clientKeyData": .string(issued.privateKeyPEM),
                ],
            ]
            try directory.write("credential.json", credential.jsonString)
            let plugin = try directory.write(
                "plugin.sh",
                "#!/bin/sh\ncat \"\(directory.file("credential.json"))\"\n",
                executable: true
            )
            configuration.tls.clientCertificatePEM = nil
            configuration.tls.clientKeyPEM = nil
            configuration.authentication = .exec(.init(command: plugin))
            let viaExec = try KubernetesClient(configuration: configuration, logger: quietLogger)
            _ = try await viaExec.resources(CoreV1.ConfigMap.self).create(.named("via-exec-certificate"))
            try await viaExec.shutdown()
            await server.stop()
        }

        @Test func secretsRoundTripBytesAndNeverPrintThem() async throws {
            try await withServer { _, client in
                let secrets = client.resources(CoreV1.Secret.self)
                let secret = CoreV1.Secret(
                    metadata: .init(name: "db"),
                    data: ["password": Data("hunter2".utf8)],
                    type: "Opaque"
                )
                _ = try await secrets.create(secret)
                let read = try await secrets.get("db")
                #expect(read.data?["password"] == Data("hunter2".utf8))
                #expect(!"\(read)".contains("hunter2") && !String(reflecting: read).contains("hunter2"))
                var dumped = ""
                dump(read, to: &dumped)
                #expect(!dumped.contains("hunter2") && !dumped.contains("aHVudGVyMg"))
            }
        }

        @Test func clusterScopedAndUnstructuredAccess() async throws {
            try await withServer { _, client in
                let namespaces = client.resources(.namespaces, as: JSONValue.self)
                _ = try await namespaces.create(["metadata": ["name": "team-a"]])
                let read = try await namespaces.get("team-a")
                #expect(read["kind"] == "Namespace")
                #expect(read.metadata.name == "team-a")
                #expect(
                    ResourceDescriptor.namespaces.path(namespace: "ignored", name: "team-a")
                        == "/api/v1/namespaces/team-a"
                )
                #expect(
                    ResourceDescriptor.routes.path(namespace: "shop", name: "web", subresource: "status")
                        == "/apis/portcullis.io/v1alpha1/namespaces/shop/routes/web/status"
                )
                #expect(ResourceDescriptor.leases.path() == "/apis/coordination.k8s.io/v1/leases")
            }
        }
    }
}
