import Foundation
import Kubernetes
import Testing

@testable import KubernetesClient

@Suite struct KubeconfigTests {
    static let caPEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    @Test func contextsClustersUsersAndNamespace() throws {
        let yaml = """
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: dev-cluster
              cluster:
                server: https://127.0.0.1:6443/
                certificate-authority-data: \(Self.base64(Self.caPEM))
            - name: prod-cluster
              cluster:
                server: https://prod.example:443
                insecure-skip-tls-verify: true
            users:
            - name: dev-user
              user:
                token: s3cr3t
            - name: prod-user
              user: {}
            contexts:
            - name: dev
              context: {cluster: dev-cluster, user: dev-user, namespace: shop}
            - name: prod
              context: {cluster: prod-cluster, user: prod-user}
            """
        let kubeconfig = try Kubeconfig(yaml: yaml, source: "/home/me/.kube/config")
        let dev = try kubeconfig.configuration()
        #expect(dev.server == "https://127.0.0.1:6443")
        #expect(dev.tls.certificateAuthorityPEM == Self.caPEM)
        #expect(dev.tls.insecureSkipVerify == false)
        #expect(dev.authentication == .bearerToken("s3cr3t"))
        #expect(dev.namespace == "shop")
        #expect(!"\(dev.authentication)".contains("s3cr3t"), "descriptions redact tokens")

        let prod = try kubeconfig.configuration(context: "prod")
        #expect(prod.server == "https://prod.example:443")
        #expect(prod.tls.insecureSkipVerify)
        #expect(prod.authentication == .none)
        #expect(prod.namespace == "default")
    }

    @Test func relativePathsResolveAgainstTheFileAndFilesAreRead() throws {
        let directory = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: directory.file("certs"), withIntermediateDirectories: true)
        try directory.write("certs/ca.crt", Self.caPEM)
        try directory.write("certs/client.crt", "CLIENT CERT")
        try directory.write("certs/client.key", "CLIENT KEY")
        let config = try directory.write(
            "config",
            """
            current-context: c
            clusters: [{name: k, cluster: {server: "https://10.0.0.1", certificate-authority: certs/ca.crt}}]
            users: [{name: u, user: {client-certificate: certs/client.crt, client-key: certs/client.key, tokenFile: token}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """
        )
        let configuration = try Kubeconfig.load(path: config).configuration()
        #expect(configuration.tls.certificateAuthorityPEM == Self.caPEM)
        #expect(configuration.tls.clientCertificatePEM == "CLIENT CERT")
        #expect(configuration.tls.clientKeyPEM == "CLIENT KEY")
        #expect(configuration.authentication == .tokenFile(path: directory.file("token")))
        #expect(!configuration.tls.description.contains("CLIENT KEY"))
    }

    @Test func kubeconfigEnvironmentMergesFirstWins() throws {
        let directory = TemporaryDirectory()
        let first = try directory.write(
            "a",
            """
            current-context: one
            clusters: [{name: k, cluster: {server: "https://first"}}]
            contexts: [{name: one, context: {cluster: k}}]
            """
        )
        let second = try directory.write(
            "b",
            """
            current-context: two
            clusters: [{name: k, cluster: {server: "https://second"}}, {name: k2, cluster: {server: "https://other"}}]
            contexts: [{name: two, context: {cluster: k2}}]
            """
        )
        let merged = try Kubeconfig.load(environment: ["KUBECONFIG": "\(first):\(directory.file("missing")):\(second)"])
        #expect(merged.currentContext == "one")
        #expect(try merged.configuration().server == "https://first")
        #expect(try merged.configuration(context: "two").server == "https://other")
    }

    @Test func errorsNameTheFileAndTheField() throws {
        func error(_ yaml: String, context: String? = nil) -> ConfigurationError? {
            do {
                _ = try Kubeconfig(yaml: yaml, source: "/cfg").configuration(context: context)
                return nil
            } catch {
                return error as? ConfigurationError
            }
        }
        let base = """
            clusters: [{name: k, cluster: {server: "https://x"}}]
            contexts: [{name: c, context: {cluster: k, user: u}}]
            """
        let noCurrent = try #require(error(base + "\nusers: [{name: u, user: {}}]"))
        #expect(noCurrent.code == .missingField)
        #expect(noCurrent.message == "/cfg: current-context is not set and no context was given")

        let unknownContext = try #require(error(base + "\nusers: [{name: u, user: {}}]", context: "nope"))
        #expect(unknownContext.code == .unknownContext)
        #expect(unknownContext.message == #"/cfg: context "nope" not found"#)

        let unknownUser = try #require(error(base, context: "c"))
        #expect(unknownUser.code == .unknownUser)
        #expect(unknownUser.message == #"/cfg: user "u" of context "c" not found"#)

        let badBase64 = try #require(
            error(base + "\nusers: [{name: u, user: {client-certificate-data: '!!!'}}]", context: "c")
        )
        #expect(badBase64.code == .invalidField)
        #expect(badBase64.message == "/cfg: users[0].user.client-certificate-data: not valid base64-encoded PEM")

        let missingFile = try #require(
            error(
                """
                clusters: [{name: k, cluster: {server: "https://x", certificate-authority: /nonexistent/ca.crt}}]
                contexts: [{name: c, context: {cluster: k}}]
                """,
                context: "c"
            )
        )
        #expect(missingFile.code == .unreadableFile)
        #expect(missingFile.message == #"/cfg: cluster "k": certificate-authority: /nonexistent/ca.crt does not exist"#)

        let certWithoutKey = try #require(
            error(base + "\nusers: [{name: u, user: {client-certificate-data: \(Self.base64("C"))}}]", context: "c")
        )
        #expect(certWithoutKey.code == .invalidField)
        #expect(certWithoutKey.message.contains("client-certificate and client-key must be given together"))

        let badServer = try #require(
            error(
                "clusters: [{name: k, cluster: {server: \"10.0.0.1:443\"}}]\ncontexts: [{name: c, context: {cluster: k}}]",
                context: "c"
            )
        )
        #expect(badServer.message == #"/cfg: cluster "k": server "10.0.0.1:443" is not an http(s) URL"#)

        let execVersion = try #require(
            error(
                base
                    + "\nusers: [{name: u, user: {exec: {command: x, apiVersion: client.authentication.k8s.io/v1alpha1}}}]"
            )
        )
        #expect(execVersion.code == .invalidField)
        #expect(
            execVersion.message.hasPrefix(
                "/cfg: users[0].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is not supported"
            )
        )

        let authProvider = try #require(
            error(base + "\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]", context: "c")
        )
        #expect(authProvider.code == .unsupported)
        #expect(authProvider.message.contains("users[0].user.auth-provider is not supported"))

        let notYAML = try #require(error("clusters: [unclosed"))
        #expect(notYAML.code == .invalidFormat)

        #expect(throws: ConfigurationError(.unreadableFile, "")) {
            try Kubeconfig.load(path: "/nonexistent/kubeconfig")
        }
    }

    @Test func execPluginIsParsedWithArgumentsEnvironmentAndRelativeCommand() throws {
        let kubeconfig = try Kubeconfig(
            yaml: """
                current-context: c
                clusters: [{name: k, cluster: {server: "https://x"}}]
                contexts: [{name: c, context: {cluster: k, user: u}}]
                users:
                - name: u
                  user:
                    exec:
                      apiVersion: client.authentication.k8s.io/v1
                      command: ./bin/credential-helper
                      args: [get-token, --audience, kube]
                      env: [{name: REGION, value: eu}]
                      installHint: install credential-helper
                """,
            source: "/etc/portcullis/kubeconfig"
        )
        guard case .exec(let exec) = try kubeconfig.configuration().authentication else {
            Issue.record("expected exec authentication")
            return
        }
        #expect(exec.command == "/etc/portcullis/bin/credential-helper")
        #expect(exec.arguments == ["get-token", "--audience", "kube"])
        #expect(exec.environment == [.init(name: "REGION", value: "eu")])
        #expect(exec.installHint == "install credential-helper")
    }
}

@Suite struct InClusterConfigurationTests {
    @Test func readsTheServiceAccountAndEnvironment() throws {
        let directory = TemporaryDirectory()
        try directory.write("token", "eyJtoken\n")
        try directory.write("ca.crt", KubeconfigTests.caPEM)
        try directory.write("namespace", "portcullis-system\n")
        let configuration = try KubernetesClient.Configuration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: directory.path
        )
        #expect(configuration.server == "https://[fd00::1]:443")
        #expect(configuration.tls.certificateAuthorityPEM == KubeconfigTests.caPEM)
        #expect(configuration.namespace == "portcullis-system")
        #expect(configuration.authentication == .tokenFile(path: directory.file("token"), rereadInterval: .seconds(60)))

        let resolved = try KubernetesClient.Configuration.resolve(
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
            serviceAccountDirectory: directory.path
        )
        #expect(resolved.server == "https://10.96.0.1:443")
    }

    @Test func errorsNameWhatIsMissing() throws {
        let directory = TemporaryDirectory()
        #expect(throws: ConfigurationError(.notInCluster, "")) {
            try KubernetesClient.Configuration.inCluster(environment: [:], serviceAccountDirectory: directory.path)
        }
        do {
            _ = try KubernetesClient.Configuration.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                serviceAccountDirectory: directory.path
            )
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            #expect(error.code == .unreadableFile)
            #expect(error.message == "service account token: \(directory.file("token")) does not exist")
        }
        try directory.write("token", "t")
        do {
            _ = try KubernetesClient.Configuration.inCluster(
                environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                serviceAccountDirectory: directory.path
            )
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            #expect(error.message == "service account CA: \(directory.file("ca.crt")) does not exist")
        }
    }
}

extension IntegrationTests {
    @Suite struct CredentialTests {
        /// A plugin that counts its runs in `runs` and prints a token valid for `lifetime` seconds.
        static func plugin(
            in directory: TemporaryDirectory,
            token: String = "plugin-token",
            lifetime: Int? = nil
        ) throws -> String {
            let expiry =
                lifetime.map { #", "expirationTimestamp": "$(date -u -d "\#($0) seconds" +%Y-%m-%dT%H:%M:%SZ)""# } ?? ""
            return try directory.write(
                "plugin.sh",
                """
                #!/bin/sh
                echo run >> "\(directory.file("runs"))"
                test "$REGION" = "eu" || { echo "REGION not passed" >&2; exit 3; }
                case "$KUBERNETES_EXEC_INFO" in *'"interactive":false'*) ;; *) echo "no exec info" >&2; exit 4;; esac
                cat <<JSON
                {"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                 "status": {"token": "\(token)"\(expiry)}}
                JSON
                """,
                executable: true
            )
        }

        static func runs(in directory: TemporaryDirectory) -> Int {
            ((try? String(contentsOfFile: directory.file("runs"), encoding: .utf8)) ?? "").split(separator: "\n").count
        }

        static func exec(_ command: String) -> KubernetesClient.Configuration.Authentication {
            .exec(.init(command: command, environment: [.init(name: "REGION", value: "eu")]))
        }

        @Test func execPluginRunsOnceUntilItsCredentialExpires() async throws {
            let directory = TemporaryDirectory()
            let provider = CredentialProvider(
                configuration: .init(server: "https://x", authentication: Self.exec(try Self.plugin(in: directory)))
            )
            async let first = provider.current()
            async let second = provider.current()
            let (a, b) = try await (first, second)
            #expect(a.bearerToken == "plugin-token" && b.bearerToken == "plugin-token")
            #expect(Self.runs(in: directory) == 1, "concurrent callers share one run")
            _ = try await provider.current()
            #expect(Self.runs(in: directory) == 1, "no expiry: cached until a 401")
            provider.invalidate(a)
            _ = try await provider.current()
            #expect(Self.runs(in: directory) == 2, "a 401 re-runs the plugin")
        }

        @Test func execPluginRerunsOnceItsCredentialHasExpired() async throws {
            let expired = TemporaryDirectory()
            let stale = CredentialProvider(
                configuration: .init(
                    server: "https://x",
                    authentication: Self.exec(try Self.plugin(in: expired, lifetime: -60))
                )
            )
            _ = try await stale.current()
            _ = try await stale.current()
            #expect(Self.runs(in: expired) == 2, "an expired credential is fetched again on the next request")

            let fresh = TemporaryDirectory()
            let valid = CredentialProvider(
                configuration: .init(
                    server: "https://x",
                    authentication: Self.exec(try Self.plugin(in: fresh, lifetime: 3600))
                )
            )
            _ = try await valid.current()
            _ = try await valid.current()
            #expect(Self.runs(in: fresh) == 1, "a credential valid for an hour is reused")
        }

        @Test func execPluginFailuresAreClear() async throws {
            let directory = TemporaryDirectory()
            let failing = try directory.write(
                "fail.sh",
                "#!/bin/sh\necho 'login required' >&2\nexit 2\n",
                executable: true
            )
            await #expect(throws: ConfigurationError(.execFailed, "")) {
                _ = try await ExecCredentialPlugin.run(.init(command: failing))
            }
            do {
                _ = try await ExecCredentialPlugin.run(.init(command: failing))
            } catch let error as ConfigurationError {
                #expect(error.message == "exec plugin \(failing) exited with status 2: login required")
            }
            let garbage = try directory.write("garbage.sh", "#!/bin/sh\necho hello\n", executable: true)
            await #expect(throws: ConfigurationError(.execInvalidOutput, "")) {
                _ = try await ExecCredentialPlugin.run(.init(command: garbage))
            }
            #expect(throws: ConfigurationError(.execInvalidOutput, "")) {
                _ = try ExecCredentialPlugin.parse(
                    #"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}"#,
                    command: "p",
                    apiVersion: "client.authentication.k8s.io/v1"
                )
            }
            let certificate = try ExecCredentialPlugin.parse(
                #"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"C","clientKeyData":"K","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#,
                command: "p",
                apiVersion: "client.authentication.k8s.io/v1"
            )
            #expect(
                certificate.clientCertificatePEM == "C" && certificate.clientKeyPEM == "K"
                    && certificate.bearerToken == nil
            )
            #expect(certificate.expiration == RFC3339.date(from: "2030-01-01T00:00:00Z"))
            await #expect(throws: ConfigurationError(.execFailed, "")) {
                _ = try await ExecCredentialPlugin.run(
                    .init(command: "portcullis-no-such-plugin", installHint: "brew install it")
                )
            }
            let slow = try directory.write("slow.sh", "#!/bin/sh\nsleep 60\n", executable: true)
            let start = ContinuousClock.now
            await #expect(throws: ConfigurationError(.execFailed, "")) {
                _ = try await ExecCredentialPlugin.run(.init(command: slow, timeout: .milliseconds(300)))
            }
            #expect(ContinuousClock.now - start < .seconds(30), "a hung plugin is killed at its timeout")
        }

        @Test func tokenFileIsRereadAfterItsIntervalOrA401() async throws {
            let directory = TemporaryDirectory()
            let path = try directory.write("token", "first\n")
            let provider = CredentialProvider(
                configuration: .init(
                    server: "https://x",
                    authentication: .tokenFile(path: path, rereadInterval: .milliseconds(300))
                )
            )
            let first = try await provider.current()
            #expect(first.bearerToken == "first")
            try directory.write("token", "second")
            #expect(try await provider.current().bearerToken == "first", "cached within the interval")
            provider.invalidate(first)
            #expect(try await provider.current().bearerToken == "second", "re-read after a 401")
            try directory.write("token", "third")
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await provider.current().bearerToken == "third", "re-read after the interval")
        }

        @Test func cacheStateMachineIsSingleFlight() {
            typealias Machine = CredentialCacheStateMachine<String, MonotonicInstant, Int>
            var machine = Machine()
            let t0 = MonotonicInstant.zero
            guard case .fetch = machine.acquire(now: t0) else {
                Issue.record("the first caller fetches")
                return
            }
            guard case .wait = machine.acquire(now: t0) else {
                Issue.record("the second waits")
                return
            }
            let queued = (machine.enqueue(2), machine.enqueue(3))
            #expect(queued == (true, true))
            let resumed = machine.succeeded("token", refreshAt: t0.advanced(by: .seconds(60)))
            #expect(resumed == [2, 3])
            let late = machine.enqueue(4)
            #expect(late == false, "a late waiter acquires again")
            guard case .use("token") = machine.acquire(now: t0.advanced(by: .seconds(59))) else {
                Issue.record("cached")
                return
            }
            guard case .fetch = machine.acquire(now: t0.advanced(by: .seconds(60))) else {
                Issue.record("refresh at 60 s")
                return
            }
            let failedWaiters = machine.failed()
            #expect(failedWaiters == [])
            guard case .fetch = machine.acquire(now: t0) else {
                Issue.record("after a failure the next caller fetches")
                return
            }
            _ = machine.succeeded("new", refreshAt: nil)
            machine.invalidate("old")
            guard case .use("new") = machine.acquire(now: t0) else {
                Issue.record("invalidating a stale value keeps the new one")
                return
            }
            machine.invalidate("new")
            guard case .fetch = machine.acquire(now: t0) else {
                Issue.record("invalidating the current value fetches")
                return
            }
        }

        @Test func microTimeHasSixFractionalDigits() {
            #expect(MicroTime.string(from: Date(timeIntervalSince1970: 1_735_732_800)) == "2025-01-01T12:00:00.000000Z")
            #expect(
                MicroTime.string(from: Date(timeIntervalSince1970: 1_735_732_800.123456))
                    == "2025-01-01T12:00:00.123456Z"
            )
            #expect(
                MicroTime.date(from: "2025-01-01T12:00:00.250000Z") == Date(timeIntervalSince1970: 1_735_732_800.25)
            )
        }
    }
}
