// The Portcullis gateway as a benchmark target: one route to a backend, no Kubernetes.
//   gateway-bench-server --port 18083 --upstream-port 18080 [--policies]
// With --policies the route carries the full resilience chain (retries, a circuit breaker, a bulkhead).

import Foundation
import Gateway
import NIOCore
import NIOPosix
import Resilience

var port = 18083
var upstreamPort = 18080
var policies = false
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? port
    case "--upstream-port": upstreamPort = Int(arguments.next() ?? "") ?? upstreamPort
    case "--policies": policies = true
    default: break
    }
}

let route = RouteConfig(
    key: RouteKey(namespace: "bench", name: "backend"),
    upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: upstreamPort),
    retry: policies ? RetryConfiguration(attempts: 3) : RetryConfiguration(attempts: 1),
    circuitBreaker: policies ? CircuitBreakerConfiguration(consecutiveFailures: 5) : nil,
    bulkhead: BulkheadConfiguration(maxRequests: 10_000, maxPending: 10_000)
)
let state = GatewayState(GatewayConfig(generation: 1, routes: [route]))
let channel = try await GatewayServer(host: "127.0.0.1", port: port, state: state, group: MultiThreadedEventLoopGroup.singleton).start()
print("gateway listening on 127.0.0.1:\(port)")
fflush(nil)
try await channel.closeFuture.get()
