import Foundation
import Kubernetes
import PortcullisTestSupport
import Testing

/// Runs the built `portcullis` binary as a user would.
@Suite struct CommandLineTests {
    static func portcullis(_ arguments: String...) async throws -> ExternalTool.Output {
        try await portcullis(arguments: arguments)
    }

    static func portcullis(arguments: [String]) async throws -> ExternalTool.Output {
        try await ExternalTool.run(RepositoryFiles.builtProduct("portcullis"), arguments)
    }

    @Test func crdsPrintsExactlyWhatCRDsHolds() async throws {
        let output = try await Self.portcullis("crds")
        #expect(output.status == 0)
        let files = ["portcullis.io_routes.yaml", "portcullis.io_upstreamauths.yaml", "portcullis.io_tunnels.yaml"]
        let committed = try files.map { try RepositoryFiles.text("crds/" + $0) }.joined(separator: "---\n")
        #expect(output.stdout == committed)
    }

    @Test func helpListsEveryCommand() async throws {
        let output = try await Self.portcullis("--help")
        #expect(output.status == 0)
        for command in ["controller", "dev", "apiserver", "crds", "version"] {
            #expect(output.stdout.contains(command))
        }
    }

    @Test func controllerAndDevOfferToExposeDebug() async throws {
        for command in ["controller", "dev"] {
            let output = try await Self.portcullis(command, "--help")
            #expect(output.status == 0)
            #expect(output.stdout.contains("--expose-debug"), "\(command): \(output.stdout)")
        }
    }

    @Test func versionNamesTheAPIVersion() async throws {
        let output = try await Self.portcullis("version")
        #expect(output.status == 0)
        #expect(output.stdout.contains("portcullis.io/v1alpha1"))
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func controllerServesRoutesFromAClusterAndElectsALeader() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-controller-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let apiserver = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { apiserver.terminate() }
        #expect(try await apiserver.waitFor("kubeconfig: "), "\(apiserver.printed)")
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        let kubectl = { (arguments: [String]) in try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig] + arguments) }
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("crds").path]).status == 0)
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("examples/quickstart").path]).status == 0)
        // The quickstart is made for `portcullis dev`, which allows its loopback upstream and cleartext to it; in a
        // cluster the admin allows the address, and the UpstreamAuth allows cleartext itself.
        let cleartext = try await kubectl(["patch", "upstreamauth", "demo-identity", "--type=merge", "-p", #"{"spec":{"allowCleartext":true}}"#])
        #expect(cleartext.status == 0, "\(cleartext.stderr)")

        let controller = try BackgroundProcess(
            RepositoryFiles.builtProduct("portcullis"),
            [
                "controller", "--kubeconfig", kubeconfig, "--gateway-port", "0", "--admin-port", "0", "--leader-elect", "--lease-namespace", "default",
                "--issuer-url", "https://gateway.portcullis.test", "--allow-upstream-network", "127.0.0.1/32",
            ]
        )
        defer { controller.terminate() }
        #expect(try await controller.waitFor("gateway on port"), "\(controller.printed)")
        let ready = try await kubectl(["wait", "--for=condition=Ready", "route/hello", "--timeout=30s"])
        #expect(ready.status == 0, "\(ready.stderr)\n\(controller.printed)")
        let lease = try await kubectl(["get", "lease", "portcullis-controller", "-o", "jsonpath={.spec.holderIdentity}"])
        #expect(!lease.stdout.isEmpty, "the controller holds the Lease")
        await controller.stop()
        await apiserver.stop()
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func apiserverWritesAKubeconfigThatKubectlUses() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let server = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { server.terminate() }
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        #expect(try await server.waitFor("kubeconfig: \(kubeconfig)"), "\(server.printed)")
        #expect(server.printed.contains("API server listening on https://127.0.0.1:"))
        let attributes = try FileManager.default.attributesOfItem(atPath: kubeconfig)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let namespaces = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "get", "namespaces", "-o", "name"])
        #expect(namespaces.status == 0, "\(namespaces.stderr)")
        #expect(namespaces.stdout.contains("namespace/default"))
        await server.stop()
    }

    /// Everything under `directory` whose mode is not 0700 (directories) or 0600 (files), and how many entries were looked at.
    static func notOwnerOnly(under directory: URL) throws -> (wrong: [String], count: Int) {
        var wrong: [String] = []
        var paths = [directory.path]
        var index = 0
        while index < paths.count {
            let path = paths[index]
            index += 1
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            let mode = (attributes[.posixPermissions] as? Int) ?? -1
            if attributes[.type] as? FileAttributeType == .typeDirectory {
                if mode != 0o700 { wrong.append("\(path): \(String(mode, radix: 8))") }
                paths += try FileManager.default.contentsOfDirectory(atPath: path).map { "\(path)/\($0)" }
            } else if mode != 0o600 {
                wrong.append("\(path): \(String(mode, radix: 8))")
            }
        }
        return (wrong, paths.count)
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func theStateDirectoryIsItsOwnersAlone() async throws {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: parent) }
        let state = parent.appendingPathComponent("state")
        let server = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { server.terminate() }
        #expect(try await server.waitFor("kubeconfig: "), "\(server.printed)")
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        // A Secret goes to the write-ahead log, and on the next start into the snapshot.
        let created = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "create", "secret", "generic", "creds", "--from-literal=token=s3cr3t"])
        #expect(created.status == 0, "\(created.stderr)")
        await server.stop()
        let restarted = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { restarted.terminate() }
        #expect(try await restarted.waitFor("kubeconfig: "), "\(restarted.printed)")
        await restarted.stop()

        let (wrong, count) = try Self.notOwnerOnly(under: state)
        #expect(wrong.isEmpty, "group or others may read: \(wrong)")
        for file in ["ca.crt", "ca.key", "token", "kubeconfig", "objects/snapshot.json", "objects/wal.log"] {
            #expect(FileManager.default.fileExists(atPath: state.appendingPathComponent(file).path), "\(file)")
        }
        #expect(count >= 8)
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func acknowledgedWritesSurviveAKill() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        let arguments = ["apiserver", "--state-dir", state.path, "--port", "0"]
        let first = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), arguments)
        #expect(try await first.waitFor("kubeconfig: "), "\(first.printed)")
        let kubectl = { (arguments: [String]) in try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig] + arguments) }
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("crds").path]).status == 0)
        #expect(try await kubectl(["apply", "-f", RepositoryFiles.url("examples/quickstart").path]).status == 0)
        #expect(try await kubectl(["create", "configmap", "settings", "--from-literal=mode=fast"]).status == 0)
        let before = try await kubectl(["get", "routes", "-o", "jsonpath={.items[0].metadata.resourceVersion}"]).stdout
        first.kill()

        let second = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), arguments)
        defer { second.terminate() }
        #expect(try await second.waitFor("kubeconfig: "), "\(second.printed)")
        let route = try await kubectl(["get", "route", "hello", "-o", "jsonpath={.metadata.resourceVersion} {.spec.match.path.value}"])
        #expect(route.stdout == "\(before) /hello", "\(route.stderr)")
        #expect(try await kubectl(["get", "configmap", "settings", "-o", "jsonpath={.data.mode}"]).stdout == "fast")
        let created = try await kubectl(["create", "configmap", "after", "-o", "jsonpath={.metadata.resourceVersion}"])
        #expect((Int(created.stdout) ?? 0) > (Int(before) ?? .max), "resourceVersions continue after the restart")
        await second.stop()
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
    func bodiesOverThreeMebibytesAreRefused() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-cli-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let server = try BackgroundProcess(RepositoryFiles.builtProduct("portcullis"), ["apiserver", "--state-dir", state.path, "--port", "0"])
        defer { server.terminate() }
        #expect(try await server.waitFor("kubeconfig: "), "\(server.printed)")
        let large = state.appendingPathComponent("large.txt")
        try String(repeating: "x", count: 4 * 1024 * 1024).write(to: large, atomically: true, encoding: .utf8)
        let kubeconfig = state.appendingPathComponent("kubeconfig").path
        let output = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "create", "configmap", "big", "--from-file=\(large.path)"])
        #expect(output.status != 0)
        #expect(output.stderr.contains("Request entity too large"), "\(output.stderr)")
        let stillServing = try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig, "get", "configmaps"])
        #expect(stillServing.status == 0)
        await server.stop()
    }

    @Test(.enabled(if: ExternalTool.kubectl.url != nil && ExternalTool("curl").url != nil, "kubectl and curl are needed"))
    func devServesTheQuickstartAndFollowsChanges() async throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-dev-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let dev = try BackgroundProcess(
            RepositoryFiles.builtProduct("portcullis"),
            ["dev", "--state-dir", state.path, "--api-port", "0", "--gateway-port", "0", "--admin-port", "0", "--demo",
             "--apply", RepositoryFiles.url("examples/quickstart").path]
        )
        defer { dev.terminate() }
        #expect(try await dev.waitFor("Ctrl-C stops everything."), "\(dev.printed)")
        let endpoints = try JSONValue(json: String(contentsOf: state.appendingPathComponent("endpoints.json"), encoding: .utf8))
        #expect(try Self.notOwnerOnly(under: state).wrong.isEmpty, "the state directory is its owner's alone")
        let gateway = try #require(endpoints["gateway"]?.stringValue)
        let kubeconfig = try #require(endpoints["kubeconfig"]?.stringValue)
        let kubectl = { (arguments: [String]) in try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig] + arguments) }
        let curl = { (path: String) in try await ExternalTool("curl").run(["-s", "-i", gateway + path]) }

        let ready = try await kubectl(["wait", "--for=condition=Ready", "route/hello", "--timeout=30s"])
        #expect(ready.status == 0, "\(ready.stderr)")
        let served = try await curl("/hello/world")
        #expect(served.stdout.hasPrefix("HTTP/1.1 200"), "\(served.stdout)")
        #expect(served.stdout.contains("portcullis demo upstream") && served.stdout.contains("\"path\" : \"\\/world\""))
        // The demo upstream verified the gateway's JWT against the JWKS it fetched from the gateway.
        #expect(served.stdout.contains("\"verified\" : true"), "\(served.stdout)")
        #expect(served.stdout.contains("\"sub\" : \"portcullis:default:demo-identity\""))

        // An invalid update is reported, and the last good version keeps serving.
        let invalid = try await kubectl(["patch", "route", "hello", "--type=merge", "-p", #"{"spec":{"retries":{"backoff":{"max":"10ms"}}}}"#])
        #expect(invalid.status == 0, "\(invalid.stderr)")
        var accepted = ""
        for _ in 0..<100 {
            accepted = try await kubectl(["get", "route", "hello", "-o", #"jsonpath={.status.conditions[?(@.type=="Accepted")].message}"#]).stdout
            if accepted.contains("must be >= base") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(accepted == #"spec.retries.backoff.max: Invalid value: "10ms": must be >= base 25ms"#)
        #expect(try await curl("/hello/world").stdout.hasPrefix("HTTP/1.1 200"), "the previous generation still serves")

        // A deleted Route stops serving.
        #expect(try await kubectl(["delete", "route", "hello"]).status == 0)
        var gone = ""
        for _ in 0..<100 {
            gone = try await curl("/hello/world").stdout
            if gone.hasPrefix("HTTP/1.1 404") { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(gone.hasPrefix("HTTP/1.1 404"))
        #expect(gone.contains("https://portcullis.io/problems/no-route"))
        await dev.stop()
    }
}
