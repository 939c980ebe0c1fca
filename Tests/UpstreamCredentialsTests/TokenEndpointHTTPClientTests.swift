import AsyncHTTPClient
import CredentialFakes
import Foundation
import NIOSSL
import PKI
import PortcullisTestSupport
import Synchronization
import Testing
@testable import UpstreamCredentials

/// The HTTP client `portcullis controller` and `dev` hand the token providers (`HTTPClient.forTokenEndpoints()`):
/// it never follows a redirect, and speaks TLS 1.2 or later.
@Suite struct TokenEndpointHTTPClientTests {
    static let secret = "s3cret-that-must-stay-home"

    /// What reached a server.
    final class Requests: Sendable {
        let received = Mutex<[FakeHTTPRequest]>([])
    }

    /// A token endpoint that redirects to another host's, which records what reaches it.
    final class RedirectingEndpoint: Sendable {
        let target: FakeHTTPServer
        let redirecting: FakeHTTPServer
        let targetRequests = Requests()

        init() async throws {
            let requests = targetRequests
            target = try await FakeHTTPServer.start { request in
                requests.received.withLock { $0.append(request) }
                return .json(200, #"{"access_token":"a-token","token_type":"Bearer","expires_in":3600}"#)
            }
            let location = "http://localhost:\(target.port)/token"
            redirecting = try await FakeHTTPServer.start { _ in FakeHTTPResponse(status: 307, headers: [("Location", location)]) }
        }

        func provider(_ httpClient: HTTPClient) throws -> OAuth2ClientCredentialsProvider {
            let configuration = try OAuth2ClientCredentialsConfiguration(
                tokenURL: redirecting.baseURL + "/token",
                clientID: "gateway",
                clientAuthentication: .clientSecretPost(ClientSecret(TokenEndpointHTTPClientTests.secret))
            )
            return OAuth2ClientCredentialsProvider(configuration: configuration, signing: SharedSigningContext(), httpClient: httpClient, logger: testLogger)
        }

        func stop() async {
            await target.stop()
            await redirecting.stop()
        }
    }

    @Test func aTokenRequestIsNotRedirectedAndTheCredentialSaysWhy() async throws {
        let endpoint = try await RedirectingEndpoint()
        // What AsyncHTTPClient does by default, and the commands did before: the 307 resends the secret to the other host.
        let following = HTTPClient(eventLoopGroupProvider: .singleton)
        _ = try await endpoint.provider(following).fetch(now: Date())
        #expect(endpoint.targetRequests.received.withLock { $0.first?.form["client_secret"] } == Self.secret)
        try await following.shutdown()
        endpoint.targetRequests.received.withLock { $0 = [] }

        let client = HTTPClient.forTokenEndpoints()
        let error = await #expect(throws: CredentialError.self) { try await endpoint.provider(client).fetch(now: Date()) }
        #expect(error?.reason == .redirected)
        #expect(error?.httpStatus == 307)
        #expect(
            error?.message == "\(endpoint.redirecting.baseURL)/token answered HTTP 307, a redirect to http://localhost:\(endpoint.target.port)/token; token requests do not follow redirects (one would send the credential to another host): configure the endpoint's final URL"
        )
        #expect(endpoint.targetRequests.received.withLock { $0.isEmpty }, "the redirect's target received nothing")
        try await client.shutdown()
        await endpoint.stop()
    }

    @Test func tokenEndpointsThatSpeakOnlyTLS11AreRefused() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let client = HTTPClient.forTokenEndpoints()
        func fetch(from server: HTTPSTestServer) async -> CredentialError? {
            do {
                let configuration = try OAuth2ClientCredentialsConfiguration(
                    tokenURL: "https://127.0.0.1:\(server.port)/token",
                    clientID: "gateway",
                    clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))
                )
                let provider = OAuth2ClientCredentialsProvider(configuration: configuration, signing: SharedSigningContext(), httpClient: client, logger: testLogger)
                _ = try await provider.fetch(now: Date())
                return nil
            } catch {
                return error as? CredentialError
            }
        }
        let old = try await HTTPSTestServer(authority: authority, maximumVersion: .tlsv11)
        let refused = await fetch(from: old)
        #expect(refused?.reason == .unreachable)
        #expect(refused?.message.contains("PROTOCOL_VERSION") == true, "refused for its version: \(refused?.message ?? "no error")")
        // The same server speaking TLS 1.2 gets as far as its certificate, which the system's roots do not trust.
        let current = try await HTTPSTestServer(authority: authority, maximumVersion: .tlsv12)
        let untrusted = await fetch(from: current)
        #expect(untrusted?.message.contains("PROTOCOL_VERSION") == false, "\(untrusted?.message ?? "no error")")
        #expect(untrusted?.message.contains("CERTIFICATE_VERIFY_FAILED") == true, "\(untrusted?.message ?? "no error")")
        try await old.stop()
        try await current.stop()
        try await client.shutdown()
    }
}
