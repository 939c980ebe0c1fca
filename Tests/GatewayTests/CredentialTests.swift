import Foundation
@testable import Gateway
import NIOConcurrencyHelpers
import NIOCore
import Resilience
import Testing

/// A credential the test drives: a value that may be ready at once, after a delay, or fail; it counts
/// what the gateway asked of it.
final class ScriptedCredential: UpstreamCredential {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    struct State {
        var values: [String]
        var ready = true
        var failure: String?
        var delay: Duration = .zero
        var rejected: [String] = []
        var audiences: [String] = []
    }

    let name: String
    let headerName: String
    let state: NIOLockedValueBox<State>

    init(name: String = "default/token", headerName: String = "authorization", values: [String]) {
        self.name = name
        self.headerName = headerName
        self.state = NIOLockedValueBox(State(values: values))
    }

    func currentHeaderValue(audience: String) throws -> String? {
        try state.withLockedValue { state in
            state.audiences.append(audience)
            if let failure = state.failure { throw Failure(description: failure) }
            return state.ready ? state.values[0] : nil
        }
    }

    func headerValue(audience: String) async throws -> String {
        let delay = state.withLockedValue { $0.delay }
        try await Task.sleep(for: delay)
        return try state.withLockedValue { state in
            if let failure = state.failure { throw Failure(description: failure) }
            state.ready = true
            return state.values[0]
        }
    }

    func rejected(headerValue: String) -> Bool {
        state.withLockedValue { state in
            state.rejected.append(headerValue)
            guard state.values.count > 1, state.values[0] == headerValue else { return false }
            state.values.removeFirst()
            return true
        }
    }
}

/// Route credentials on the request path, against a real upstream on loopback.
@Suite struct CredentialTests {
    static func route(port: Int, credentials: [RouteCredential], timeout: Duration = .seconds(15)) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: "secured"),
            upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: port),
            timeouts: TimeoutConfiguration(request: timeout),
            credentials: credentials
        )
    }

    static func start(_ route: (Int) -> RouteConfig, issuer: IssuerDocuments? = nil) async throws -> (TestUpstream, any Channel) {
        let upstream = try await TestUpstream()
        let state = GatewayState(GatewayConfig(generation: 1, routes: [route(upstream.port)], issuer: issuer))
        return (upstream, try await GatewayServer(host: "127.0.0.1", port: 0, state: state).start())
    }

    static func get(_ gateway: any Channel, _ path: String, headers: String = "") async throws -> String {
        try await RawHTTPClient.exchange(port: gateway.localAddress!.port!, "GET \(path) HTTP/1.1\r\nHost: gw\r\n\(headers)Connection: close\r\n\r\n")
    }

    @Test func credentialsReplaceTheClientsAndApplyInOrder() async throws {
        let token = ScriptedCredential(values: ["Bearer upstream-token"])
        let identity = ScriptedCredential(name: "default/jwt", headerName: "x-gateway-identity", values: ["signed.jwt.value"])
        let (upstream, gateway) = try await Self.start { port in
            Self.route(port: port, credentials: [RouteCredential(token, audience: "http://127.0.0.1:\(port)"), RouteCredential(identity, audience: "aud")])
        }
        let response = try await Self.get(gateway, "/", headers: "Authorization: Bearer client-secret\r\nX-Gateway-Identity: forged\r\n")
        let headers = ProxyTests.headers(try ProxyTests.echo(response))
        #expect(headers.filter { $0.0 == "authorization" }.map(\.1) == ["Bearer upstream-token"])
        #expect(headers.filter { $0.0 == "x-gateway-identity" }.map(\.1) == ["signed.jwt.value"])
        let names = headers.map(\.0)
        #expect(names.firstIndex(of: "authorization")! < names.firstIndex(of: "x-gateway-identity")!)
        #expect(token.state.withLockedValue { $0.audiences } == ["http://127.0.0.1:\(upstream.port)"])
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aColdCredentialIsAwaitedAndAFailedOneIsA503() async throws {
        let token = ScriptedCredential(values: ["Bearer late"])
        token.state.withLockedValue {
            $0.ready = false
            $0.delay = .milliseconds(200)
        }
        let (upstream, gateway) = try await Self.start { Self.route(port: $0, credentials: [RouteCredential(token, audience: "a")]) }
        let response = try await Self.get(gateway, "/")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
        #expect(ProxyTests.headers(try ProxyTests.echo(response)).first { $0.0 == "authorization" }?.1 == "Bearer late")

        token.state.withLockedValue { $0.failure = "PermissionDenied: the caller lacks iam.serviceAccounts.getAccessToken" }
        let connections = upstream.connectionCount
        let failed = try await Self.get(gateway, "/")
        #expect(failed.hasPrefix("HTTP/1.1 503 Service Unavailable"), "\(failed)")
        #expect(failed.httpHeader("content-type") == "application/problem+json")
        #expect(failed.contains("https://portcullis.io/problems/upstream-auth-failed"))
        #expect(failed.contains("credential default/token for http://127.0.0.1:\(upstream.port): PermissionDenied: the caller lacks iam.serviceAccounts.getAccessToken"))
        #expect(upstream.connectionCount == connections, "a request without its credential never reaches the upstream")
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func aCredentialThatNeverComesEndsAtTheRequestTimeout() async throws {
        let token = ScriptedCredential(values: ["Bearer never"])
        token.state.withLockedValue {
            $0.ready = false
            $0.delay = .seconds(30)
        }
        let (upstream, gateway) = try await Self.start { Self.route(port: $0, credentials: [RouteCredential(token, audience: "a")], timeout: .milliseconds(300)) }
        let response = try await Self.get(gateway, "/")
        #expect(response.hasPrefix("HTTP/1.1 504"), "\(response)")
        #expect(upstream.connectionCount == 0)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func anUpstream401DropsTheTokenAndRetriesOnce() async throws {
        let token = ScriptedCredential(values: ["Bearer stale", "Bearer fresh"])
        let (upstream, gateway) = try await Self.start { Self.route(port: $0, credentials: [RouteCredential(token, audience: "a")]) }
        let response = try await Self.get(gateway, "/require-auth/fresh")
        #expect(response.hasPrefix("HTTP/1.1 200 OK"), "\(response)")
        #expect(token.state.withLockedValue { $0.rejected } == ["Bearer stale"])

        // Rejected again with nothing new to offer: the 401 reaches the client, after one retry at most.
        let rejected = try await Self.get(gateway, "/require-auth/other")
        #expect(rejected.hasPrefix("HTTP/1.1 401 Unauthorized"), "\(rejected)")
        #expect(token.state.withLockedValue { $0.rejected } == ["Bearer stale", "Bearer fresh"])
        try await gateway.close()
        try await upstream.stop()
    }

    /// A body that fitted the replay buffer goes again with the new token. A larger one cannot: the 401
    /// reaches the client, and the rejected token is dropped all the same, for the next request.
    @Test func anUpstream401ReplaysABodyThatFittedTheReplayBuffer() async throws {
        let token = ScriptedCredential(values: ["Bearer stale", "Bearer fresh", "Bearer newer"])
        let (upstream, gateway) = try await Self.start { Self.route(port: $0, credentials: [RouteCredential(token, audience: "a")]) }
        let port = gateway.localAddress!.port!
        func put(_ path: String, size: Int) async throws -> String {
            try await RawHTTPClient.exchange(
                port: port, "PUT \(path) HTTP/1.1\r\nHost: gw\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n",
                extraBody: ByteBuffer(repeating: 0x62, count: size)
            )
        }
        let replayed = try await put("/require-auth/fresh", size: 10_000)
        #expect(replayed.hasPrefix("HTTP/1.1 200 OK"), "\(replayed)")
        #expect(try ProxyTests.echo(replayed)["bodyBytes"] as? Int == 10_000)
        #expect(upstream.requestCount("/require-auth/fresh") == 2)

        let tooLarge = try await put("/require-auth/newer", size: GatewayHandler.maximumReplayedBody + 1)
        #expect(tooLarge.hasPrefix("HTTP/1.1 401 Unauthorized"), "\(tooLarge)")
        #expect(upstream.requestCount("/require-auth/newer") == 1)
        #expect(token.state.withLockedValue { $0.rejected } == ["Bearer stale", "Bearer fresh"])
        let next = try await put("/require-auth/newer", size: 10)
        #expect(next.hasPrefix("HTTP/1.1 200 OK"), "the next request has the new token: \(next)")
        #expect(upstream.requestCount("/require-auth/newer") == 2)
        try await gateway.close()
        try await upstream.stop()
    }

    @Test func theIssuerDocumentsAreServedWithCacheControl() async throws {
        let issuer = IssuerDocuments(
            discoveryPath: "/tenant/.well-known/openid-configuration", discoveryJSON: #"{"issuer":"https://gw.example.com/tenant"}"#,
            jwksPath: "/tenant/.well-known/jwks.json", jwksJSON: #"{"keys":[]}"#
        )
        let (upstream, gateway) = try await Self.start({ Self.route(port: $0, credentials: []) }, issuer: issuer)
        let jwks = try await Self.get(gateway, "/tenant/.well-known/jwks.json")
        #expect(jwks.hasPrefix("HTTP/1.1 200 OK"))
        #expect(jwks.httpHeader("cache-control") == "public, max-age=300")
        #expect(jwks.httpBody == #"{"keys":[]}"#)
        let discovery = try await Self.get(gateway, "/tenant/.well-known/openid-configuration")
        #expect(discovery.httpBody == #"{"issuer":"https://gw.example.com/tenant"}"#)
        // Other paths still go to the routes.
        #expect(try ProxyTests.echo(try await Self.get(gateway, "/.well-known/jwks.json"))["uri"] as? String == "/.well-known/jwks.json")
        try await gateway.close()
        try await upstream.stop()
    }
}
