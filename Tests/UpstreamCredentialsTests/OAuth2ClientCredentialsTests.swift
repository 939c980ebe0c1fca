import AsyncHTTPClient
import CredentialFakes
import Foundation
import JWTKit
import PKI
import Testing
@testable import UpstreamCredentials

@Suite struct OAuth2ClientCredentialsTests {
    static let secret = "p@ss word/+=:secret"

    struct Fixture {
        let clock = ManualClock()
        let issuer: FakeOIDCIssuer
        let server: FakeOAuth2Server

        init() async throws {
            issuer = try await FakeOIDCIssuer.start(keys: [TestKeys.es256, TestKeys.rs256], clock: clock)
            server = try await FakeOAuth2Server.start(clock: clock)
            server.setClient(.init(clientID: "gateway client", secret: OAuth2ClientCredentialsTests.secret, methods: [.clientSecretBasic, .clientSecretPost]))
            // Registered with the JWKS of namespace team-a, as status.jwks.uri of an UpstreamAuth there says.
            server.setClient(.init(clientID: "gateway-jwt", methods: [.privateKeyJWT], jwksURI: issuer.namespaceJWKSURI("team-a"), allowedScopes: ["read", "write"]))
            // Another team's client, registered with team-b's JWKS.
            server.setClient(.init(clientID: "team-b-client", methods: [.privateKeyJWT], jwksURI: issuer.namespaceJWKSURI("team-b")))
            // A client registered with the installation's JWKS, which no namespace's assertion verifies against.
            server.setClient(.init(clientID: "installation-client", methods: [.privateKeyJWT], jwksURI: issuer.jwksURI))
        }

        func provider(_ configuration: OAuth2ClientCredentialsConfiguration) -> OAuth2ClientCredentialsProvider {
            OAuth2ClientCredentialsProvider(configuration: configuration, signing: issuer.signingContext, httpClient: .shared, logger: testLogger)
        }

        func stop() async {
            await server.stop()
            await issuer.stop()
        }

        static func with(_ body: (Fixture) async throws -> Void) async throws {
            let fixture = try await Fixture()
            do { try await body(fixture) } catch {
                await fixture.stop()
                throw error
            }
            await fixture.stop()
        }
    }

    @Test func clientSecretBasicEncodesIDAndSecretPerRFC6749() async throws {
        try await Fixture.with { fixture in
            let configuration = try OAuth2ClientCredentialsConfiguration(
                tokenURL: fixture.server.tokenURL,
                clientID: "gateway client",
                clientAuthentication: .clientSecretBasic(ClientSecret(Self.secret)),
                scopes: ["read", "write"],
                audience: "https://api.example.com",
                resource: "https://api.example.com/v1",
                extraParams: ["tenant": "acme"]
            )
            let now = fixture.clock.now()
            let token = try await fixture.provider(configuration).fetch(now: now)
            #expect(token.expiresAt == now.addingTimeInterval(3600))
            #expect(fixture.server.issuedTokens[token.value] == "gateway client")
            let request = try #require(fixture.server.core.requests.last)
            // urlencode each, then base64: "gateway+client:p%40ss+word%2F%2B%3D%3Asecret".
            let expected = "Basic " + Data("gateway+client:p%40ss+word%2F%2B%3D%3Asecret".utf8).base64EncodedString()
            #expect(request.header("Authorization") == expected)
            #expect(request.bodyText == "audience=https%3A%2F%2Fapi.example.com&grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.com%2Fv1&scope=read+write&tenant=acme")
            #expect(request.form["client_secret"] == nil)
        }
    }

    @Test func clientSecretPostSendsTheSecretInTheBody() async throws {
        try await Fixture.with { fixture in
            let configuration = try OAuth2ClientCredentialsConfiguration(
                tokenURL: fixture.server.tokenURL,
                clientID: "gateway client",
                clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))
            )
            _ = try await fixture.provider(configuration).fetch(now: fixture.clock.now())
            let request = try #require(fixture.server.core.requests.last)
            #expect(request.header("Authorization") == nil)
            #expect(request.form["client_id"] == "gateway client")
            #expect(request.form["client_secret"] == Self.secret)
            #expect(request.form["scope"] == nil)
        }
    }

    @Test func privateKeyJWTIsSignedWithTheNamespacesKeyAndVerifiedAgainstItsJWKS() async throws {
        try await Fixture.with { fixture in
            let configuration = try OAuth2ClientCredentialsConfiguration(
                tokenURL: fixture.server.tokenURL,
                clientID: "gateway-jwt",
                clientAuthentication: .privateKeyJWT(.init(namespace: "team-a")),
                scopes: ["read"]
            )
            #expect(configuration.isSecretless)
            let now = fixture.clock.now()
            _ = try await fixture.provider(configuration).fetch(now: now)
            // The request that carried an assertion: with tests running in parallel, a stray request from a
            // test whose fake was stopped can reach this fake when it reuses that fake's port.
            let form = try #require(fixture.server.core.requests.last { $0.form["client_assertion"] != nil }?.form)
            #expect(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            #expect(form["client_id"] == "gateway-jwt")
            let assertion = try #require(form["client_assertion"])
            let teamA = try JSONWebKeySet(fixture.issuer.publishedKeys.filter { $0.algorithm == .es256 }.map { try $0.namespaceKey(for: "team-a") })
            let claims = try await verifiedClaims(assertion, jwksJSON: teamA.json)
            #expect(claims.iss == "gateway-jwt")
            #expect(claims.sub == "gateway-jwt")
            #expect(claims.aud.value == [fixture.server.tokenURL])
            #expect(claims.exp - claims.iat == 300)
            #expect(try jwtHeader(assertion)["alg"] as? String == "ES256")
            #expect(try jwtHeader(assertion)["kid"] as? String == teamA.keys.first?.kid)
            // Neither the installation's JWKS nor another namespace's verifies it (jwt-kit, independently).
            let teamB = try JSONWebKeySet(fixture.issuer.publishedKeys.filter { $0.algorithm == .es256 }.map { try $0.namespaceKey(for: "team-b") })
            for (name, jwks) in [("the installation", JSONWebKeySet(fixture.issuer.publishedKeys)), ("team-b", teamB)] {
                await #expect(throws: (any Error).self, "\(name)'s JWKS must not verify team-a's assertion") {
                    _ = try await verifiedClaims(assertion, jwksJSON: jwks.json)
                }
            }
            // A second fetch mints a new assertion (the server enforces single use of jti).
            _ = try await fixture.provider(configuration).fetch(now: now)
        }
    }

    @Test func aNamespaceCannotAuthenticateAsAnotherNamespacesClientNorAsTheInstallations() async throws {
        try await Fixture.with { fixture in
            // team-a names team-b's client ID, and a client that trusts the installation's JWKS: both refused.
            for clientID in ["team-b-client", "installation-client"] {
                let configuration = try OAuth2ClientCredentialsConfiguration(
                    tokenURL: fixture.server.tokenURL, clientID: clientID, clientAuthentication: .privateKeyJWT(.init(namespace: "team-a"))
                )
                await #expect(throws: CredentialError(.invalidClient), "\(clientID)") {
                    try await fixture.provider(configuration).fetch(now: fixture.clock.now())
                }
            }
            #expect(fixture.server.issuedTokens.isEmpty)
            // team-b's own UpstreamAuth gets team-b's client's token.
            let own = try OAuth2ClientCredentialsConfiguration(
                tokenURL: fixture.server.tokenURL, clientID: "team-b-client", clientAuthentication: .privateKeyJWT(.init(namespace: "team-b"))
            )
            let token = try await fixture.provider(own).fetch(now: fixture.clock.now())
            #expect(fixture.server.issuedTokens[token.value] == "team-b-client")
        }
    }

    @Test func failuresMapToRFC6749Reasons() async throws {
        try await Fixture.with { fixture in
            let url = fixture.server.tokenURL
            func fetch(_ configuration: OAuth2ClientCredentialsConfiguration, now: Date? = nil) async throws -> Token {
                try await fixture.provider(configuration).fetch(now: now ?? fixture.clock.now())
            }
            let wrongSecret = await #expect(throws: CredentialError(.invalidClient)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway client", clientAuthentication: .clientSecretBasic(ClientSecret("not-the-secret"))))
            }
            #expect(wrongSecret?.httpStatus == 401)
            #expect(wrongSecret.map { allDescriptions(of: $0).contains("not-the-secret") } == false)
            // The client is not registered for this method.
            await #expect(throws: CredentialError(.invalidClient)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .clientSecretPost(ClientSecret("x-secret"))))
            }
            // Scope outside the allowed ones.
            await #expect(throws: CredentialError(.invalidScope)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a")), scopes: ["admin"]))
            }
            // An expired assertion (minted an hour before the server's now).
            let expired = await #expect(throws: CredentialError(.invalidClient)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a"))), now: fixture.clock.now().addingTimeInterval(-3600))
            }
            #expect(expired?.message.contains("expired") == true)
            // Audience other than the token URL.
            await #expect(throws: CredentialError(.invalidClient)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a", audience: "https://elsewhere"))))
            }
            // The issuer's audience form is accepted.
            _ = try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a", audience: fixture.server.issuer))))
            // A key the JWKS does not have: the namespace key of an ES256 key that is not published.
            fixture.issuer.publish([TestKeys.es256], signingWith: [TestKeys.otherES256])
            await #expect(throws: CredentialError(.invalidClient)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a"))))
            }
            // No ES256 key to derive from at all: the gateway cannot even mint.
            fixture.issuer.publish([TestKeys.rs256])
            await #expect(throws: CredentialError(.signingKeyUnavailable)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway-jwt", clientAuthentication: .privateKeyJWT(.init(namespace: "team-a"))))
            }
            // Server trouble is transient; a 200 that is not JSON is malformed.
            fixture.server.core.updateFaults { $0.failNext = 1 }
            let serverError = await #expect(throws: CredentialError(.serverError)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway client", clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))))
            }
            #expect(serverError?.isTransient == true)
            fixture.server.core.updateFaults { $0.malformedNext = 1 }
            await #expect(throws: CredentialError(.malformedResponse)) {
                try await fetch(try .init(tokenURL: url, clientID: "gateway client", clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))))
            }
        }
    }

    @Test func missingExpiresInAssumesAnHour() async throws {
        try await Fixture.with { fixture in
            fixture.server.setExpiresIn(nil)
            let now = fixture.clock.now()
            let token = try await fixture.provider(
                try .init(tokenURL: fixture.server.tokenURL, clientID: "gateway client", clientAuthentication: .clientSecretPost(ClientSecret(Self.secret)))
            ).fetch(now: now)
            #expect(token.expiresAt == now.addingTimeInterval(3600))
        }
    }

    @Test func unreachableAndInvalidConfiguration() async throws {
        let closed = try await FakeOAuth2Server.start()
        let url = closed.tokenURL
        await closed.stop()
        let provider = OAuth2ClientCredentialsProvider(
            configuration: try .init(tokenURL: url, clientID: "c", clientAuthentication: .clientSecretPost(ClientSecret("secret-1"))),
            signing: SharedSigningContext(),
            httpClient: .shared,
            logger: testLogger,
            requestTimeout: .seconds(1)
        )
        await #expect(throws: CredentialError(.unreachable)) { try await provider.fetch(now: Date()) }
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try OAuth2ClientCredentialsConfiguration(
                tokenURL: url,
                clientID: "c",
                clientAuthentication: .clientSecretPost(ClientSecret("s")),
                extraParams: ["client_secret": "override"]
            )
        }
    }
}
