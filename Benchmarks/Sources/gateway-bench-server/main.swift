// The Portcullis gateway as a benchmark target: one route to a backend, no Kubernetes.
//   gateway-bench-server --port 18083 --upstream-port 18080 [--policies] [--credentials] [--tls-dir DIR]
//   gateway-bench-server --write-pki DIR
// --policies puts the resilience chain on the route (retries, a circuit breaker, a bulkhead).
// --credentials adds a cloud-style bearer token (a warm token cache entry) and a gateway-signed ES256 JWT.
// --tls-dir connects to an https backend presenting the client certificate in DIR (mTLS).
// --http2 speaks HTTP/2 to the backend (h2c, or h2 by ALPN with --tls-dir).
// --open-breaker routes to a port nothing listens on, behind a breaker that opens at the first failure
// and stays open: every request after the first is the breaker's fast 503.
// --extra-routes N adds N more routes beside the measured one, on the same host name (prefixes /api/0 to
// /api/N-1), so that the router picks the one among N+1.
// --write-pki writes a CA, a server certificate for 127.0.0.1 and a client certificate into DIR and exits.

import Foundation
import Gateway
import Logging
import NIOCore
import NIOPosix
import PKI
import Reconcilers
import Resilience
import UpstreamCredentials

var port = 18083
var upstreamPort = 18080
var policies = false
var credentials = false
var tlsDirectory: String?
var openBreaker = false
var http2 = false
var extraRoutes = 0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? port
    case "--upstream-port": upstreamPort = Int(arguments.next() ?? "") ?? upstreamPort
    case "--policies": policies = true
    case "--credentials": credentials = true
    case "--tls-dir": tlsDirectory = arguments.next()
    case "--open-breaker": openBreaker = true
    case "--http2": http2 = true
    case "--extra-routes": extraRoutes = Int(arguments.next() ?? "") ?? 0
    case "--write-pki":
        let directory = URL(fileURLWithPath: arguments.next() ?? ".")
        let authority = try CertificateAuthority.generate(now: Date())
        let server = try authority.issue(.loopbackServer(), now: Date())
        let client = try authority.issue(.client(commonName: "portcullis:bench:gateway"), now: Date())
        let files = [
            "ca.crt": try authority.trustAnchorPEM, "server.crt": server.certificatePEM, "server.key": server.privateKeyPEM,
            "client.crt": client.certificatePEM, "client.key": client.privateKeyPEM,
        ]
        for (name, content) in files { try content.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        exit(0)
    default: break
    }
}

/// A token service that answers at once with an hour-long token: the warm-cache path is what is measured.
struct InstantTokenProvider: TokenProvider {
    func fetch(now: Date) async throws -> Token {
        Token(value: "ya29.bench-" + String(repeating: "x", count: 180), expiresAt: now.addingTimeInterval(3600), issuedAt: now)
    }
}

var routeCredentials: [RouteCredential] = []
var tokenCache: TokenCache<String>?
var upstream = UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstreamPort)
if let tlsDirectory {
    func read(_ name: String) throws -> String { try String(contentsOfFile: tlsDirectory + "/" + name, encoding: .utf8) }
    upstream = UpstreamTarget(
        scheme: .https, host: "127.0.0.1", port: upstreamPort,
        tls: UpstreamTarget.TLS(
            trustedCAPEM: try read("ca.crt"),
            clientIdentity: ClientIdentity(certificateChainPEM: try read("client.crt"), privateKeyPEM: try read("client.key"))
        )
    )
}
if credentials {
    let logger = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
    let cache = TokenCache<String>(logger: logger)
    let entry = cache.register("bench/cloud", provider: InstantTokenProvider())
    tokenCache = cache
    let signing = SharedSigningContext(SigningContext(issuer: "https://gateway.bench.example", signingKeys: [try SigningKey.generate(.es256)]))
    let jwt = try GatewayJWTCache(
        configuration: GatewayJWTConfiguration(subject: "portcullis:bench:gateway"),
        header: CredentialHeader(name: "X-Gateway-Identity", prefix: ""),
        signing: signing
    )
    routeCredentials = [
        RouteCredential(TokenCredential(name: "bench/cloud", entry: entry), audience: upstream.origin),
        RouteCredential(GatewayJWTCredential(name: "bench/jwt", cache: jwt), audience: upstream.origin),
    ]
}
if let tokenCache { Task { await tokenCache.run() } }

if openBreaker { upstream = UpstreamTarget(scheme: .http, host: "127.0.0.1", port: 1) }
if http2 { upstream.httpProtocol = .http2 }
let route = RouteConfig(
    key: RouteKey(namespace: "bench", name: "backend"),
    upstream: upstream,
    retry: policies ? RetryConfiguration(attempts: 3) : RetryConfiguration(attempts: 1),
    circuitBreaker: openBreaker
        ? CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(3600), maxOpenDuration: .seconds(3600))
        : policies ? CircuitBreakerConfiguration(consecutiveFailures: 5) : nil,
    bulkhead: BulkheadConfiguration(maxRequests: 10_000, maxPending: 10_000),
    credentials: routeCredentials
)
var routes = [route]
if extraRoutes > 0 {
    routes[0].match = RouteMatchRule(hostnames: ["127.0.0.1"], path: .prefix("/hello"))
    for index in 0..<extraRoutes {
        routes.append(
            RouteConfig(
                key: RouteKey(namespace: "bench", name: "route-\(index)"),
                match: RouteMatchRule(hostnames: ["127.0.0.1"], path: .prefix("/api/\(index)")),
                upstream: upstream
            )
        )
    }
}
let state = GatewayState(GatewayConfig(generation: 1, routes: routes))
let channel = try await GatewayServer(host: "127.0.0.1", port: port, state: state, group: MultiThreadedEventLoopGroup.singleton).start()
print("gateway listening on 127.0.0.1:\(port)")
fflush(nil)
try await channel.closeFuture.get()
