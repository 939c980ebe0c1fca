// The embedded API server under a controller-sized load, over real HTTPS:
//   1. create N Routes (default 10,000) from C concurrent clients;
//   2. list them all, paged as informers do (limit=500) and in one page;
//   3. 10 watchers, then U updates: the latency from sending an update to each watcher receiving it;
//   4. the server's resident memory, empty and with the N Routes stored.
// The server runs in a child process (this binary with --serve) so its memory is measured alone.
//
//   swift run -c release --package-path Benchmarks apiserver-bench [--routes N] [--updates U] [--concurrency C]

import AsyncHTTPClient
import Foundation
import Kubernetes
import KubernetesAPIServer
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PKI

struct Options {
    var routes = 10_000
    var updates = 1_000
    var concurrency = 32
    var watchers = 10

    init(_ arguments: [String]) {
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            switch argument {
            case "--routes": routes = Int(iterator.next() ?? "") ?? routes
            case "--updates": updates = Int(iterator.next() ?? "") ?? updates
            case "--concurrency": concurrency = Int(iterator.next() ?? "") ?? concurrency
            case "--watchers": watchers = Int(iterator.next() ?? "") ?? watchers
            default: break
            }
        }
    }
}

/// Percentiles of a sample of durations, in milliseconds.
func percentiles(_ samples: [Duration]) -> (p50: Double, p99: Double, max: Double) {
    let sorted = samples.sorted()
    func ms(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1000 + Double(attoseconds) / 1e15
    }
    guard !sorted.isEmpty else { return (0, 0, 0) }
    return (ms(sorted[sorted.count / 2]), ms(sorted[min(sorted.count - 1, sorted.count * 99 / 100)]), ms(sorted.last!))
}

func residentMemoryMiB(pid: Int32) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    return kilobytes / 1024
}

func route(_ index: Int) -> JSONValue {
    [
        "apiVersion": "portcullis.io/v1alpha1", "kind": "Route",
        "metadata": ["name": .string("route-\(index)"), "namespace": "default", "labels": ["bench": "true"]],
        "spec": [
            "hostnames": .array([.string("svc\(index).example.com")]),
            "match": ["path": ["type": "PathPrefix", "value": .string("/api/\(index)")]],
            "upstream": ["url": .string("http://backend-\(index % 50).default.svc:8080")],
            "retries": ["attempts": 3], "circuitBreaker": ["consecutiveFailures": 5],
        ],
    ]
}

// MARK: - Server mode

if CommandLine.arguments.contains("--serve") {
    // Child process: print the endpoint, CA and token as one JSON line, then serve until killed.
    let authority = try CertificateAuthority.generate(now: Date())
    let serving = try authority.issue(.loopbackServer(), now: Date())
    let token = UUID().uuidString
    let server = try EmbeddedAPIServer(
        configuration: .init(port: 0, token: token, tls: .init(certificateChainPEM: serving.certificatePEM, privateKeyPEM: serving.privateKeyPEM)),
        logger: Logger(label: "bench.apiserver")
    )
    let caPEM = try authority.certificatePEM
    try await server.run { endpoint in
        let line: JSONValue = ["url": .string(endpoint.url), "ca": .string(caPEM), "token": .string(token)]
        print(line.description)
        fflush(nil)
    }
    exit(0)
}

// MARK: - Driver

let options = Options(CommandLine.arguments)
let child = Process()
child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
child.arguments = ["--serve"]
let pipe = Pipe()
child.standardOutput = pipe
try child.run()
var firstLine = Data()
while !firstLine.contains(UInt8(ascii: "\n")) {
    let chunk = pipe.fileHandleForReading.availableData
    if chunk.isEmpty { break }
    firstLine.append(chunk)
}
let handshake = try JSONValue(json: String(decoding: firstLine, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
let baseURL = handshake["url"]!.stringValue!
let token = handshake["token"]!.stringValue!
var tls = TLSConfiguration.makeClientConfiguration()
tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(handshake["ca"]!.stringValue!.utf8)))
var clientConfiguration = HTTPClient.Configuration(tlsConfiguration: tls)
clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = options.concurrency + options.watchers + 4
let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)

func call(_ method: HTTPMethod, _ path: String, body: JSONValue? = nil, contentType: String = "application/json") async throws -> (Int, ByteBuffer) {
    var request = HTTPClientRequest(url: baseURL + path)
    request.method = method
    request.headers.add(name: "authorization", value: "Bearer \(token)")
    request.headers.add(name: "content-type", value: contentType)
    if let body { request.body = .bytes(ByteBuffer(string: body.description)) }
    let response = try await client.execute(request, timeout: .seconds(60))
    return (Int(response.status.code), try await response.body.collect(upTo: 64 * 1024 * 1024))
}

let emptyMemory = residentMemoryMiB(pid: child.processIdentifier)
let crds = try String(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../crds/portcullis.io_routes.yaml").standardized, encoding: .utf8)
let (crdStatus, _) = try await call(.POST, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: try JSONValue(yaml: crds))
precondition(crdStatus == 201, "installing the Route CRD failed: \(crdStatus)")
let routes = "/apis/portcullis.io/v1alpha1/namespaces/default/routes"

// 1. Create.
let createStart = ContinuousClock.now
let createLatencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
    for worker in 0..<options.concurrency {
        group.addTask {
            var latencies: [Duration] = []
            var index = worker
            while index < options.routes {
                let start = ContinuousClock.now
                let (status, body) = try await call(.POST, routes, body: route(index))
                guard status == 201 else { fatalError("create route-\(index): \(status) \(String(buffer: body))") }
                latencies.append(ContinuousClock.now - start)
                index += options.concurrency
            }
            return latencies
        }
    }
    var all: [Duration] = []
    for try await latencies in group { all += latencies }
    return all
}
let createElapsed = ContinuousClock.now - createStart
let fullMemory = residentMemoryMiB(pid: child.processIdentifier)

// 2. List.
let pagedStart = ContinuousClock.now
var continueToken: String?
var listed = 0
repeat {
    var path = routes + "?limit=500"
    if let token = continueToken { path += "&continue=" + (token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token) }
    let (_, body) = try await call(.GET, path)
    // Only what the next request needs is read, so the time measured is the server's and the transfer's.
    let text = String(buffer: body)
    listed += text.components(separatedBy: #""kind":"Route""#).count - 1
    continueToken = text.firstRange(of: #""continue":""#).map { range in
        String(text[range.upperBound...].prefix { $0 != "\"" })
    }
} while continueToken != nil
let pagedElapsed = ContinuousClock.now - pagedStart
let singleStart = ContinuousClock.now
let (_, wholeList) = try await call(.GET, routes)
let singleElapsed = ContinuousClock.now - singleStart
let listResourceVersion = try JSONValue(json: String(buffer: wholeList))[path: ["metadata", "resourceVersion"]]!.stringValue!
precondition(listed == options.routes, "listed \(listed) of \(options.routes)")

// 3. Watch fan-out.
actor SendTimes {
    var sent: [String: ContinuousClock.Instant] = [:]
    func record(_ name: String, _ at: ContinuousClock.Instant) { sent[name] = at }
    func time(_ name: String) -> ContinuousClock.Instant? { sent[name] }
}
let sendTimes = SendTimes()
let watchLatencies = try await withThrowingTaskGroup(of: [Duration].self) { group in
    let (ready, readySignal) = AsyncStream<Void>.makeStream()
    for _ in 0..<options.watchers {
        group.addTask {
            var request = HTTPClientRequest(url: baseURL + routes + "?watch=true&resourceVersion=\(listResourceVersion)")
            request.headers.add(name: "authorization", value: "Bearer \(token)")
            let response = try await client.execute(request, timeout: .seconds(600))
            readySignal.yield()
            var latencies: [Duration] = []
            var pending = ByteBuffer()
            for try await var chunk in response.body {
                pending.writeBuffer(&chunk)
                while let newline = pending.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                    let length = newline - pending.readerIndex
                    let line = pending.readString(length: length)!
                    pending.moveReaderIndex(forwardBy: 1)
                    let received = ContinuousClock.now
                    let event = try JSONValue(json: line)
                    let name = event[path: ["object", "metadata", "annotations", "bench/update"]]?.stringValue ?? ""
                    if let sent = await sendTimes.time(name) { latencies.append(received - sent) }
                    if latencies.count == options.updates { return latencies }
                }
            }
            return latencies
        }
    }
    var iterator = ready.makeAsyncIterator()
    for _ in 0..<options.watchers { await iterator.next() }
    try await Task.sleep(for: .milliseconds(200))
    for update in 0..<options.updates {
        let name = "update-\(update)"
        await sendTimes.record(name, ContinuousClock.now)
        let patch: JSONValue = ["metadata": ["annotations": ["bench/update": .string(name)]]]
        let (status, _) = try await call(.PATCH, routes + "/route-\(update % options.routes)", body: patch, contentType: "application/merge-patch+json")
        precondition(status == 200, "update failed: \(status)")
    }
    var all: [Duration] = []
    for try await latencies in group { all += latencies }
    return all
}

child.terminate()
try await client.shutdown()

// MARK: - Report

let create = percentiles(createLatencies)
let watch = percentiles(watchLatencies)
func seconds(_ duration: Duration) -> Double { Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18 }
print("""
    routes: \(options.routes), concurrency: \(options.concurrency), watchers: \(options.watchers), updates: \(options.updates)
    create:  \(String(format: "%.0f", Double(options.routes) / seconds(createElapsed))) routes/s, p50 \(String(format: "%.2f", create.p50)) ms, p99 \(String(format: "%.2f", create.p99)) ms, max \(String(format: "%.1f", create.max)) ms
    list:    paged (limit=500) \(String(format: "%.0f", seconds(pagedElapsed) * 1000)) ms, one page \(String(format: "%.0f", seconds(singleElapsed) * 1000)) ms (\(wholeList.readableBytes / 1024) KiB)
    watch:   \(watchLatencies.count) deliveries, p50 \(String(format: "%.2f", watch.p50)) ms, p99 \(String(format: "%.2f", watch.p99)) ms, max \(String(format: "%.1f", watch.max)) ms
    memory:  server RSS \(String(format: "%.0f", emptyMemory)) MiB empty, \(String(format: "%.0f", fullMemory)) MiB with \(options.routes) routes
    """)
