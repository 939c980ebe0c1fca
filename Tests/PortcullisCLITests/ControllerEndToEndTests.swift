import Foundation
import Kubernetes
import PortcullisTestSupport
import Synchronization
import Testing

/// `portcullis apiserver` and `portcullis controller` processes driven with the real kubectl and curl
/// through what goes wrong in a cluster: the API server restarting, a watch expiring, the leader dying,
/// a Secret appearing unlabelled, being labelled and changing. One test at a time: each runs several processes, which is plenty for 2 cores.
@Suite(
    .serialized,
    .enabled(if: ExternalTool.kubectl.url != nil && ExternalTool("curl").url != nil, "kubectl and curl are needed")
)
struct ControllerEndToEndTests {
    /// Generous: these machines run builds and other tests beside this one.
    static let timeout: Duration = .seconds(90)

    @Test func controllerConvergesAfterTheAPIServerRestartsAndItsWatchExpires() async throws {
        let cluster = try await Cluster()
        try await cluster.apply(Self.route("kept", path: "/kept"), Self.route("doomed", path: "/doomed"))
        let controller = try await cluster.startController()
        defer { controller.process.terminate() }
        #expect(try await cluster.waitReady("kept", "doomed"), "\(controller.process.printed)")

        // Killed while the controller's watches are open; changed through another instance over the
        // same state while it is down. The restarted server's history begins at its restart, so the
        // controller's watch, resuming from an older resourceVersion, gets 410 Gone and relists.
        cluster.apiserver.kill()
        try await cluster.withDetachedAPIServer {
            try await cluster.apply(Self.route("kept", path: "/kept-v2"), Self.route("born", path: "/born"))
            #expect(try await cluster.kubectl("delete", "route", "doomed").status == 0)
        }
        try await cluster.restartAPIServer()

        var served: [String: Int] = [:]
        let converged = try await poll {
            served = try await controller.servedRoutes()
            return served["default/kept"] == 2 && served["default/born"] == 1 && served["default/doomed"] == nil
        }
        #expect(converged, "served: \(served)\n\(controller.process.printed)")
        #expect(try await cluster.waitReady("kept", "born"))
        #expect(try await cluster.kubectl("get", "route", "kept", "-o", "jsonpath={.status.observedGeneration}").stdout == "2")

        let metrics = try await controller.metrics()
        let routes = ["resource": "routes.portcullis.io"]
        #expect(
            (metrics.value("portcullis_informer_watch_restarts_total", routes.merging(["reason": "expired"]) { $1 }) ?? 0) >= 1,
            "the resumed watch got 410"
        )
        #expect((metrics.value("portcullis_informer_relists_total", routes) ?? 0) >= 1, "and the informer relisted")
        #expect(metrics.value("portcullis_gateway_routes") == 2)
        #expect((metrics.value("controller_runtime_reconcile_total", ["controller": "gateway", "result": "success"]) ?? 0) >= 1)
        #expect(metrics.value("controller_runtime_max_concurrent_reconciles", ["controller": "gateway"]) == 1)
        #expect(metrics.value("workqueue_depth", ["name": "gateway-config"]) != nil)

        // And it keeps following: a change made after the restart is served too.
        try await cluster.apply(Self.route("born", path: "/born-v2"))
        #expect(try await poll { try await controller.servedRoutes()["default/born"] == 2 })
        await controller.process.stop()
        await cluster.stop()
    }

    @Test func aFollowerTakesOverWhenTheLeaderIsKilledAndKeepsWritingStatus() async throws {
        let cluster = try await Cluster()
        try await cluster.apply(Self.route("first", path: "/first"))
        let leaderElection = [
            "--leader-elect", "--lease-namespace", "default", "--leader-elect-lease-duration", "4s",
            "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms",
        ]
        let replicas = [try await cluster.startController(leaderElection), try await cluster.startController(leaderElection)]
        defer { for replica in replicas { replica.process.terminate() } }

        var leading: [Bool] = []
        let elected = try await poll {
            leading = []
            for replica in replicas { leading.append(try await replica.metrics().value("portcullis_leader") == 1) }
            return leading.filter { $0 }.count == 1
        }
        #expect(elected, "exactly one replica leads: \(leading)")
        guard elected, let leaderIndex = leading.firstIndex(of: true) else { return }
        let (leader, follower) = (replicas[leaderIndex], replicas[1 - leaderIndex])
        #expect(try await follower.metrics().value("portcullis_leader") == 0)
        #expect(try await cluster.waitReady("first"))
        func replicaLeases() async throws -> [Substring] {
            try await cluster.kubectl("get", "leases", "-l", "portcullis.io/gateway-replica", "-o", "name").stdout.split(separator: "\n")
        }
        #expect(try await poll { try await replicaLeases().count == 2 }, "each replica reports what it serves in a Lease of its own")

        let killed = ContinuousClock.now
        leader.process.kill()
        let tookOver = try await poll(every: .milliseconds(100)) { try await follower.metrics().value("portcullis_leader") == 1 }
        let takeover = ContinuousClock.now - killed
        #expect(tookOver, "\(follower.process.printed)")
        // The lease is respected for 4 s after it last changed, then the next attempt (≤ 1.1 s) wins;
        // the rest is room for a loaded machine.
        #expect(takeover < .seconds(15), "took over after \(takeover)")
        let lease = try await cluster.kubectl("get", "lease", "portcullis-controller", "-o", "jsonpath={.spec.leaseTransitions}")
        #expect(lease.stdout == "1", "\(lease.stderr)")

        // The new leader writes status: an update and a new Route become Ready for their generations.
        try await cluster.apply(Self.route("first", path: "/first-v2"), Self.route("second", path: "/second"))
        #expect(try await cluster.waitReady("first", "second"), "\(follower.process.printed)")
        let observed = try await poll {
            try await cluster.kubectl("get", "route", "first", "-o", "jsonpath={.status.observedGeneration}").stdout == "2"
        }
        #expect(observed)
        #expect(try await cluster.kubectl("get", "leases", "-l", "!portcullis.io/gateway-replica", "-o", "name").stdout == "lease.coordination.k8s.io/portcullis-controller\n")
        let leases = try await replicaLeases()
        #expect(leases.count == 2, "one replica Lease per controller that ran: \(leases)")
        #expect(try await cluster.kubectl("get", "routes", "-o", "name").stdout == "route.portcullis.io/first\nroute.portcullis.io/second\n")
        await follower.process.stop()
        await cluster.stop()
    }

    @Test func aChangedSecretReRendersTheRoutesThatUseIt() async throws {
        let cluster = try await Cluster()
        let controller = try await cluster.startController()
        defer { controller.process.terminate() }
        let route = """
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: secure, namespace: default}
            spec:
              match: {path: {value: /secure}}
              upstream:
                url: https://127.0.0.1:9443
                tls: {caSecretRef: {name: upstream-ca}}
            """
        try await cluster.apply(route)
        let missing = try await poll {
            try await cluster.condition("secure", "ResolvedRefs", "message").contains(#"Secret "upstream-ca" not found"#)
        }
        #expect(missing)
        #expect(try await cluster.condition("secure", "Ready", "reason") == "NotServed")
        #expect(try await controller.servedRoutes()["default/secure"] == nil)

        // The Secret appears without the label: the controller does not read it, and says so.
        let caFile = cluster.state.appendingPathComponent("ca.crt").path
        let created = try await cluster.kubectl("create", "secret", "generic", "upstream-ca", "--from-file=ca.crt=\(caFile)")
        #expect(created.status == 0, "\(created.stderr)")
        let unlabelled = try await poll {
            try await cluster.condition("secure", "ResolvedRefs", "message").contains(
                #"Secret "upstream-ca" is not labelled portcullis.io/secret; label it so the controller may read it"#
            )
        }
        #expect(unlabelled)
        #expect(try await controller.servedRoutes()["default/secure"] == nil)

        // Labelled: the Route is served and Ready, as `kubectl wait` sees it.
        let labelled = try await cluster.kubectl("label", "secret", "upstream-ca", "portcullis.io/secret=referenced")
        #expect(labelled.status == 0, "\(labelled.stderr)")
        #expect(try await cluster.waitReady("secure"), "\(controller.process.printed)")
        #expect(try await controller.servedRoutes()["default/secure"] == 1)
        let servedGeneration = try await controller.metrics().value("portcullis_gateway_config_generation") ?? 0

        // The key it names goes away: the status says so and the last good version keeps serving.
        let removed = try await cluster.kubectl("patch", "secret", "upstream-ca", "--type=json", "-p", #"[{"op":"remove","path":"/data/ca.crt"}]"#)
        #expect(removed.status == 0, "\(removed.stderr)")
        let noKey = try await poll {
            try await cluster.condition("secure", "ResolvedRefs", "message").contains(#"has no key "ca.crt""#)
        }
        #expect(noKey)
        #expect(try await cluster.condition("secure", "Ready", "reason") == "ServingPreviousGeneration")
        #expect(try await controller.servedRoutes()["default/secure"] == 1)
        // What the gateway serves did not change, so it got no new config.
        #expect(try await controller.metrics().value("portcullis_gateway_config_generation") == servedGeneration)

        #expect(await controller.process.stop(), "the controller ends on SIGTERM, as a rollout needs")
        await cluster.stop()
    }

    static func route(_ name: String, path: String) -> String {
        """
        apiVersion: portcullis.io/v1alpha1
        kind: Route
        metadata: {name: \(name), namespace: default}
        spec:
          match: {path: {type: PathPrefix, value: \(path)}}
          upstream: {url: "http://127.0.0.1:8090"}
        """
    }
}

/// A `portcullis apiserver` over a state directory of its own, with the CRDs installed; the test's
/// kubectl talks to it through the kubeconfig it writes.
final class Cluster: Sendable {
    let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-e2e-\(UUID().uuidString)")
    private let running: Mutex<(process: BackgroundProcess, port: Int)>

    init() async throws {
        let (process, port) = try await Self.startAPIServer(state: state, port: 0)
        running = Mutex((process, port))
        let crds = try await kubectl("apply", "-f", RepositoryFiles.url("crds").path)
        #expect(crds.status == 0, "\(crds.stderr)")
    }

    deinit {
        running.withLock { $0.process }.terminate()
        try? FileManager.default.removeItem(at: state)
    }

    /// Stops the API server without blocking the cooperative pool (the `deinit` then has nothing to wait for).
    func stop() async {
        await running.withLock { $0.process }.stop()
    }

    var kubeconfig: String { state.appendingPathComponent("kubeconfig").path }
    var apiserver: BackgroundProcess { running.withLock { $0.process } }

    private static func startAPIServer(state: URL, port: Int) async throws -> (BackgroundProcess, Int) {
        let process = try BackgroundProcess(
            RepositoryFiles.builtProduct("portcullis"),
            ["apiserver", "--state-dir", state.path, "--port", String(port)]
        )
        let started = try await process.waitFor("kubeconfig: ", timeout: ControllerEndToEndTests.timeout)
        let bound = process.printed.firstMatch(of: /listening on https:\/\/127\.0\.0\.1:(\d+)/).flatMap { Int($0.1) }
        guard started, let bound else {
            process.terminate()
            throw EndToEndFailure("portcullis apiserver did not start:\n\(process.printed)")
        }
        return (process, bound)
    }

    /// Starts the API server again on the port it had, over the same state.
    func restartAPIServer() async throws {
        let port = running.withLock { $0.port }
        let (process, _) = try await Self.startAPIServer(state: state, port: port)
        running.withLock { $0 = (process, port) }
    }

    /// Runs a second server on another port over the same state (the first must be stopped), points
    /// kubectl at it for `body`, then stops it.
    func withDetachedAPIServer(_ body: () async throws -> Void) async throws {
        let (process, _) = try await Self.startAPIServer(state: state, port: 0)
        defer { process.terminate() }
        try await body()
        await process.stop()
    }

    @discardableResult
    func kubectl(_ arguments: String...) async throws -> ExternalTool.Output {
        try await ExternalTool.kubectl.run(["--kubeconfig", kubeconfig] + arguments)
    }

    /// `kubectl apply` of YAML documents.
    func apply(_ documents: String...) async throws {
        let file = state.appendingPathComponent("apply-\(UUID().uuidString).yaml")
        try documents.joined(separator: "\n---\n").write(to: file, atomically: true, encoding: .utf8)
        let output = try await kubectl("apply", "-f", file.path)
        #expect(output.status == 0, "\(output.stderr)")
    }

    /// `kubectl wait --for=condition=Ready` on Routes.
    func waitReady(_ names: String...) async throws -> Bool {
        let timeout = "--timeout=\(ControllerEndToEndTests.timeout.components.seconds)s"
        let output = try await ExternalTool.kubectl.run(
            ["--kubeconfig", kubeconfig, "wait", "--for=condition=Ready", timeout] + names.map { "route/\($0)" }
        )
        return output.status == 0
    }

    /// A field (`reason`, `message`, …) of one of a Route's conditions, as `kubectl get` reads it.
    func condition(_ route: String, _ type: String, _ field: String) async throws -> String {
        let path = "jsonpath={.status.conditions[?(@.type==\"\(type)\")].\(field)}"
        return try await kubectl("get", "route", route, "-o", path).stdout
    }

    /// A `portcullis controller` against this API server, once it serves its ports.
    ///
    /// - Parameter allowingLoopbackUpstreams: Most tests' upstreams listen on 127.0.0.1, which their admin
    ///   allows (`--allow-upstream-network`) as a cluster admin would allow an address of theirs; the attack
    ///   suite runs the default flags.
    func startController(_ arguments: [String] = [], allowingLoopbackUpstreams: Bool = true) async throws -> ControllerProcess {
        let allowance = allowingLoopbackUpstreams ? ["--allow-upstream-network", "127.0.0.1/32"] : []
        let process = try BackgroundProcess(
            RepositoryFiles.builtProduct("portcullis"),
            ["controller", "--kubeconfig", kubeconfig, "--gateway-port", "0", "--admin-port", "0"] + allowance + arguments
        )
        let started = try await process.waitFor("admin on port", timeout: ControllerEndToEndTests.timeout)
        guard started, let match = process.printed.firstMatch(of: /gateway on port (\d+), admin on port (\d+)/), let gateway = Int(match.1),
            let admin = Int(match.2)
        else {
            process.terminate()
            throw EndToEndFailure("portcullis controller did not start:\n\(process.printed)")
        }
        return ControllerProcess(process: process, gatewayPort: gateway, adminPort: admin)
    }
}

/// A running `portcullis controller` and its admin port.
struct ControllerProcess: Sendable {
    let process: BackgroundProcess
    let gatewayPort: Int
    let adminPort: Int

    func get(_ path: String) async throws -> String {
        try await ExternalTool("curl").run(["-s", "--max-time", "10", "http://127.0.0.1:\(adminPort)\(path)"]).stdout
    }

    /// `/metrics`, parsed.
    func metrics() async throws -> PrometheusText {
        PrometheusText(try await get("/metrics"))
    }

    /// The Routes the gateway serves (from `/debug/config`), by `namespace/name`, with their generations.
    func servedRoutes() async throws -> [String: Int] {
        let config = try JSONValue(json: try await get("/debug/config"))
        var served: [String: Int] = [:]
        for route in config["routes"]?.arrayValue ?? [] {
            if let key = route["route"]?.stringValue, let generation = route["generation"]?.integerValue {
                served[key] = Int(generation)
            }
        }
        return served
    }
}

struct EndToEndFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or ``ControllerEndToEndTests/timeout`` passes; errors count as "not yet".
func poll(every interval: Duration = .milliseconds(250), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + ControllerEndToEndTests.timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return true }
        try await Task.sleep(for: interval)
    }
    return (try? await condition()) == true
}
