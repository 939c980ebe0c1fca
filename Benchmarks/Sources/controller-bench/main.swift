// The controller under load: the GatewayController (Sources/Reconcilers) with a GatewayState, against
// the embedded API server over real HTTPS, at 1,000 and at 10,000 Routes:
//   1. full sync: from the controller's start until the gateway serves every Route (all created before);
//   2. apply → served and apply → Ready: create or update one Route, then time until the gateway serves
//      that generation, and until its status says Ready for it (p50/p99, on an idle controller);
//   3. the controller process's resident memory, and the API server's.
// Three processes, so each is measured alone: this driver creates the Routes; the API server
// (`--serve`) and the controller (`--controller`) are children running this same binary.
//
//   swift run -c release --package-path Benchmarks controller-bench [--routes 1000,10000] [--samples 200]

import AsyncHTTPClient
import CMallocInfo
import Foundation
import Gateway
import Kubernetes
import KubernetesAPIServer
import KubernetesClient
import Logging
import Metrics
import PKI
import PortcullisAPI
import Prometheus
import Reconcilers
import Synchronization

struct Options {
    var routeCounts = [1_000, 10_000]
    var samples = 200
    var concurrency = 32

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--routes": routeCounts = (iterator.next() ?? "").split(separator: ",").compactMap { Int($0) }
            case "--samples": samples = Int(iterator.next() ?? "") ?? samples
            case "--concurrency": concurrency = Int(iterator.next() ?? "") ?? concurrency
            default: break
            }
        }
    }
}

let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })

func milliseconds(_ duration: Duration) -> Double {
    let (seconds, attoseconds) = duration.components
    return Double(seconds) * 1000 + Double(attoseconds) / 1e15
}

/// p50 and p99 of a sample, in milliseconds.
func percentiles(_ samples: [Duration]) -> (p50: Double, p99: Double, max: Double) {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return (0, 0, 0) }
    return (
        milliseconds(sorted[sorted.count / 2]),
        milliseconds(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]),
        milliseconds(sorted.last!)
    )
}

/// A line of `/proc/<pid>/status` in MiB (`VmRSS`, `VmHWM`, `RssAnon`).
func memoryMiB(_ field: String, pid: String = "self") -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") })
    else { return 0 }
    return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
}

/// The bytes malloc has handed out and not had back, in MiB (all arenas): the live heap, without the
/// free memory glibc keeps in its per-thread arenas, which RSS counts.
func heapInUseMiB() -> Double {
    Double(c_malloc_bytes_in_use()) / 1024 / 1024
}

func route(_ name: String, index: Int, labels: [String: String] = [:]) -> JSONValue {
    [
        "apiVersion": "portcullis.io/v1alpha1", "kind": "Route",
        "metadata": [
            "name": .string(name), "namespace": "default",
            "labels": .object(labels.mapValues { .string($0) }),
        ],
        "spec": [
            "hostnames": .array([.string("svc\(index).example.com")]),
            "match": ["path": ["type": "PathPrefix", "value": .string("/api/\(index)")]],
            "upstream": ["url": .string("http://backend-\(index % 50).default.svc:8080")],
            "retries": ["attempts": 3], "circuitBreaker": ["consecutiveFailures": 5],
        ],
    ]
}

/// A child process running this binary, whose first stdout line is a JSON handshake or result. Its
/// stdin is a pipe the driver never writes to: when the driver exits, however it exits, the child
/// reads end-of-file and exits too (see ``exitWhenTheDriverExits()``).
final class Child: Sendable {
    let process: Process
    let firstLine: JSONValue
    private let lifeline = Pipe()

    init(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardInput = lifeline
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        self.process = process
        firstLine = try JSONValue(json: String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    var pid: String { String(process.processIdentifier) }
}

/// In a child: exits once stdin, the driver's lifeline, reaches end-of-file.
func exitWhenTheDriverExits() {
    Thread {
        _ = FileHandle.standardInput.readDataToEndOfFile()
        exit(0)
    }.start()
}

// MARK: - API server child

if CommandLine.arguments.contains("--serve") {
    exitWhenTheDriverExits()
    let authority = try CertificateAuthority.generate(now: Date())
    let serving = try authority.issue(.loopbackServer(), now: Date())
    let token = UUID().uuidString
    let server = try EmbeddedAPIServer(
        configuration: .init(
            port: 0,
            token: token,
            tls: .init(certificateChainPEM: serving.certificatePEM, privateKeyPEM: serving.privateKeyPEM)
        ),
        logger: quiet
    )
    let caPEM = try authority.certificatePEM
    try await server.run { endpoint in
        let kubeconfig = EmbeddedAPIServer.kubeconfig(server: endpoint.url, certificateAuthorityPEM: caPEM, token: token)
        print(JSONValue.object(["kubeconfig": .string(kubeconfig)]).description)
        fflush(nil)
    }
    exit(0)
}

func makeClient(kubeconfig: String) throws -> KubernetesClient {
    let configuration = try Kubeconfig(yaml: kubeconfig, source: "controller-bench").configuration()
    return try KubernetesClient(configuration: configuration, logger: quiet)
}

// MARK: - Controller child

/// What the controller child measures and reports to the driver.
struct ControllerRun {
    let client: KubernetesClient
    let expected: Int
    let samples: Int
    let registry = PrometheusCollectorRegistry()
    let factory: PrometheusMetricsFactory
    /// The gateway, with its per-route metrics in the same registry, as `portcullis controller` has them.
    let state: GatewayState

    init(client: KubernetesClient, expected: Int, samples: Int) {
        self.client = client
        self.expected = expected
        self.samples = samples
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ControllerRuntimeMetrics.durationHistogramBuckets
        self.factory = factory
        state = GatewayState(metricsFactory: factory)
    }

    /// Whether the controller has nothing queued and nothing in progress.
    func idle() -> Bool {
        let text = registry.emitToString()
        return text.contains("workqueue_depth{name=\"gateway-config\"} 0.0")
            && text.contains("controller_runtime_active_workers{controller=\"gateway\"} 0.0")
    }

    func waitForIdle() async throws {
        var quietChecks = 0
        while quietChecks < 3 {
            quietChecks = idle() ? quietChecks + 1 : 0
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Polls until the gateway serves `key` at `generation`.
    func waitServed(_ key: RouteKey, generation: Int64) async throws {
        while state.routeGenerations[key] != generation { try await Task.sleep(for: .milliseconds(1)) }
    }

    func run() async throws -> JSONValue {
        // As `portcullis controller` runs it: with the credential runtime and the installation's PKI
        // (which creates its CA and signing keys in the namespace at the start).
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let credentials = CredentialRuntime(httpClient: httpClient, logger: quiet)
        let controller = GatewayController(
            client: client,
            state: state,
            namespace: "default",
            credentials: credentials,
            pki: PKISettings(namespace: "default", issuer: nil),
            logger: quiet,
            metricsFactory: factory
        )
        let clock = ContinuousClock()
        let start = clock.now
        let task = Task {
            try await withThrowingDiscardingTaskGroup { group in
                group.addTask { try await credentials.run() }
                group.addTask { try await controller.run() }
            }
        }
        while state.routeGenerations.count < expected { try await Task.sleep(for: .milliseconds(5)) }
        let fullSync = clock.now - start
        try await waitForIdle()
        let statusesWritten = clock.now - start
        let syncedMemory = memoryMiB("VmRSS")
        let syncedHeap = heapInUseMiB()

        // Ready is read from a watch on the probes, so that polling adds no load to the API server.
        let routes = client.resources(Route.self)
        let runLabel = "bench-probe=\(UUID().uuidString.prefix(8).lowercased())"
        let listed = try await routes.list(namespace: "default", options: ListOptions(labelSelector: runLabel))
        let readyAt = Mutex<[String: ContinuousClock.Instant]>([:])
        let watch = try await routes.watch(
            namespace: "default",
            options: WatchOptions(labelSelector: runLabel, resourceVersion: listed.resourceVersion)
        )
        let watcher = Task {
            for try await event in watch {
                guard case .modified(let route) = event, let status = route.status,
                    status.conditions?.contains(where: {
                        $0.type == "Ready" && $0.status == .true && $0.observedGeneration == route.metadata.generation
                    }) == true
                else { continue }
                let key = "\(route.metadata.name ?? "")@\(route.metadata.generation ?? 0)"
                readyAt.withLock { if $0[key] == nil { $0[key] = clock.now } }
            }
        }

        var served: [Duration] = []
        var ready: [Duration] = []
        let label = String(runLabel.split(separator: "=")[1])
        var probes: [String] = []
        for sample in 0..<samples {
            try await waitForIdle()
            // Even samples create a Route, odd ones update the one created before (generation 2).
            let name = "probe-\(label)-\(sample / 2)"
            let generation: Int64 = sample % 2 == 0 ? 1 : 2
            let sent = clock.now
            if generation == 1 {
                let object = route(name, index: 1_000_000 + sample, labels: ["bench-probe": label])
                _ = try await client.resources(Route.resource, as: JSONValue.self).create(object)
                probes.append(name)
            } else {
                _ = try await routes.patch(name, namespace: "default", .merge(["spec": ["match": ["path": ["value": .string("/probe/\(sample)")]]]]))
            }
            try await waitServed(RouteKey(namespace: "default", name: name), generation: generation)
            served.append(clock.now - sent)
            while readyAt.withLock({ $0["\(name)@\(generation)"] }) == nil { try await Task.sleep(for: .milliseconds(1)) }
            ready.append(readyAt.withLock { $0["\(name)@\(generation)"]! } - sent)
        }
        try await waitForIdle()  // the rebuild that the last status write triggers
        let finalMemory = memoryMiB("VmRSS")
        // Settled: once the controller's HeapTrimmer has given back what the samples' rebuilds freed.
        try await Task.sleep(for: .seconds(11))  // its interval is 10 s
        let settledMemory = memoryMiB("VmRSS")
        let settledAnonymous = memoryMiB("RssAnon")
        let finalHeap = heapInUseMiB()
        let peakMemory = memoryMiB("VmHWM")
        watcher.cancel()
        for name in probes { try await routes.delete(name, namespace: "default") }
        task.cancel()
        _ = try? await task.value
        try await httpClient.shutdown()

        let servedPercentiles = percentiles(served)
        let readyPercentiles = percentiles(ready)
        return [
            "routes": .integer(Int64(expected)),
            "fullSyncMs": .double(milliseconds(fullSync)),
            "statusesWrittenMs": .double(milliseconds(statusesWritten)),
            "servedP50Ms": .double(servedPercentiles.p50), "servedP99Ms": .double(servedPercentiles.p99),
            "readyP50Ms": .double(readyPercentiles.p50), "readyP99Ms": .double(readyPercentiles.p99),
            "readyMaxMs": .double(readyPercentiles.max),
            "syncedRSSMiB": .double(syncedMemory), "finalRSSMiB": .double(finalMemory), "peakRSSMiB": .double(peakMemory),
            "settledRSSMiB": .double(settledMemory), "settledAnonymousMiB": .double(settledAnonymous),
            "syncedHeapMiB": .double(syncedHeap), "finalHeapMiB": .double(finalHeap),
        ]
    }
}

if let index = CommandLine.arguments.firstIndex(of: "--controller") {
    exitWhenTheDriverExits()
    let arguments = Array(CommandLine.arguments[(index + 1)...])
    let kubeconfig = try String(contentsOfFile: arguments[0], encoding: .utf8)
    let client = try makeClient(kubeconfig: kubeconfig)
    let result = try await ControllerRun(client: client, expected: Int(arguments[1])!, samples: Int(arguments[2])!).run()
    print(result.description)
    fflush(nil)
    try await client.shutdown()
    exit(0)
}

// MARK: - Driver

let options = Options(CommandLine.arguments)
let apiserver = try Child(["--serve"])
defer { apiserver.process.terminate() }
let kubeconfig = apiserver.firstLine["kubeconfig"]!.stringValue!
let kubeconfigFile = FileManager.default.temporaryDirectory.appendingPathComponent("controller-bench-\(UUID().uuidString).kubeconfig")
try kubeconfig.write(to: kubeconfigFile, atomically: true, encoding: .utf8)
defer { try? FileManager.default.removeItem(at: kubeconfigFile) }
let client = try makeClient(kubeconfig: kubeconfig)
let crds = client.resources(.customResourceDefinitions, as: JSONValue.self)
for type in PortcullisAPIGroup.resourceTypes {
    _ = try await crds.create(try JSONValue(encoding: type.customResourceDefinition))
}
try await Task.sleep(for: .milliseconds(200))  // the CRDs become Established

var created = 0
var results: [JSONValue] = []
for target in options.routeCounts.sorted() {
    let routes = client.resources(Route.resource, as: JSONValue.self)
    let first = created
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<options.concurrency {
            group.addTask {
                var index = first + worker
                while index < target {
                    _ = try await routes.create(route("route-\(index)", index: index))
                    index += options.concurrency
                }
            }
        }
        try await group.waitForAll()
    }
    created = target
    FileHandle.standardError.write(Data("created \(target) Routes; starting the controller\n".utf8))
    let controller = try Child(["--controller", kubeconfigFile.path, String(target), String(options.samples)])
    controller.process.waitUntilExit()
    var result = controller.firstLine
    result["apiserverRSSMiB"] = .double(memoryMiB("VmRSS", pid: apiserver.pid))
    results.append(result)
}
try await client.shutdown()

func format(_ value: JSONValue?, _ digits: Int = 0) -> String {
    String(format: "%.\(digits)f", value?.doubleValue ?? 0)
}

print(
    "| Routes | full sync | statuses written | apply→served p50 / p99 | apply→Ready p50 / p99 (max)"
        + " | controller RSS synced / end / settled (peak) | of it anonymous, settled | controller heap in use synced / end | API server RSS |"
)
print("|---|---|---|---|---|---|---|---|---|")
for result in results {
    print(
        "| \(format(result["routes"])) | \(format(result["fullSyncMs"])) ms | \(format(result["statusesWrittenMs"])) ms"
            + " | \(format(result["servedP50Ms"], 1)) / \(format(result["servedP99Ms"], 1)) ms"
            + " | \(format(result["readyP50Ms"], 1)) / \(format(result["readyP99Ms"], 1)) (\(format(result["readyMaxMs"], 1))) ms"
            + " | \(format(result["syncedRSSMiB"])) / \(format(result["finalRSSMiB"])) / \(format(result["settledRSSMiB"])) (\(format(result["peakRSSMiB"]))) MiB"
            + " | \(format(result["settledAnonymousMiB"])) MiB"
            + " | \(format(result["syncedHeapMiB"])) / \(format(result["finalHeapMiB"])) MiB"
            + " | \(format(result["apiserverRSSMiB"])) MiB |"
    )
}
