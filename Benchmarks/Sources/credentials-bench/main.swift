// The credential hot paths in-process, on one core: what a request pays to read a warm credential,
// and what minting a gateway JWT costs per algorithm.
//   swift run -c release --package-path Benchmarks credentials-bench [--iterations N]

import Foundation
import Logging
import PKI
import Reconcilers
import UpstreamCredentials

var iterations = 200_000
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    if argument == "--iterations" { iterations = Int(arguments.next() ?? "") ?? iterations }
}

/// Runs `body` `count` times after a warm-up and returns the mean nanoseconds per call.
func measure(_ count: Int, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<min(count / 10, 1000) { try body() }
    let clock = ContinuousClock()
    let start = clock.now
    for _ in 0..<count { try body() }
    let elapsed = clock.now - start
    return Double(elapsed.components.seconds) * 1e9 / Double(count) + Double(elapsed.components.attoseconds) / 1e9 / Double(count)
}

struct InstantTokenProvider: TokenProvider {
    func fetch(now: Date) async throws -> Token {
        Token(value: "ya29.bench-" + String(repeating: "x", count: 180), expiresAt: now.addingTimeInterval(3600), issuedAt: now)
    }
}

let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
let cache = TokenCache<String>(logger: logger)
let entry = cache.register("bench/cloud", provider: InstantTokenProvider())
let loop = Task { await cache.run() }
let token = TokenCredential(name: "bench/cloud", entry: entry)
_ = try await token.headerValue(audience: "")

var results: [(String, Double)] = []
results.append(("token cache: warm header value", try measure(iterations) { _ = try token.currentHeaderValue(audience: "https://api.example.com") }))

let issuer = "https://gateway.bench.example"
for algorithm in [SigningKey.Algorithm.es256, .edDSA, .rs256] {
    let signing = SharedSigningContext(SigningContext(issuer: issuer, signingKeys: [try SigningKey.generate(algorithm)]))
    let cached = GatewayJWTCredential(
        name: "bench/jwt",
        cache: try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "portcullis:bench:jwt", algorithm: algorithm), signing: signing)
    )
    let perRequest = GatewayJWTCredential(
        name: "bench/jwt-per-request",
        cache: try GatewayJWTCache(configuration: GatewayJWTConfiguration(subject: "portcullis:bench:jwt", algorithm: algorithm, mintPerRequest: true), signing: signing)
    )
    results.append(("gateway JWT \(algorithm.rawValue): cached per audience", try measure(iterations) { _ = try cached.currentHeaderValue(audience: "https://api.example.com") }))
    let mints = algorithm == .rs256 ? iterations / 200 : iterations / 20
    results.append(("gateway JWT \(algorithm.rawValue): minted per request", try measure(mints) { _ = try perRequest.currentHeaderValue(audience: "https://api.example.com") }))
}
loop.cancel()

print("\(ProcessInfo.processInfo.activeProcessorCount) CPUs; one thread; mean per call")
print("\("path".padding(toLength: 44, withPad: " ", startingAt: 0))\("ns/call".padding(toLength: 12, withPad: " ", startingAt: 0))calls/s per core")
for (name, nanoseconds) in results {
    let rate = 1e9 / nanoseconds
    print("\(name.padding(toLength: 44, withPad: " ", startingAt: 0))\(String(format: "%-12.0f", nanoseconds))\(String(format: "%.0f", rate))")
}
