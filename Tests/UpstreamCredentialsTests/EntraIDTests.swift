import AsyncHTTPClient
import CredentialFakes
import Foundation
import JWTKit
import NIOCore
import PKI
import Testing
@testable import UpstreamCredentials

/// The gateway's issuer and an Entra ID fake with one tenant, one resource and one app.
struct EntraFixture {
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let clientID = "11111111-2222-3333-4444-555555555555"
    static let resource = "api://payments-api"
    static let scope = "api://payments-api/.default"
    static let subject = "portcullis:payments:entra"
    static let secret = "Zx8Q~client-secret-value-0123456789"

    let clock = ManualClock()
    let issuer: FakeOIDCIssuer
    let entra: FakeEntraID

    init() async throws {
        issuer = try await FakeOIDCIssuer.start(keys: [TestKeys.rs256, TestKeys.es256], clock: clock)
        entra = try await FakeEntraID.start(clock: clock)
        entra.addTenant(Self.tenant, domains: ["contoso.onmicrosoft.com"])
        entra.addResource(Self.resource, appID: "99999999-0000-0000-0000-000000000001", tenant: Self.tenant)
        entra.setApplication(
            .init(
                clientID: Self.clientID,
                secrets: [.init(value: Self.secret)],
                federatedCredentials: [.init(issuer: issuer.issuer, subject: Self.subject)],
                roles: ["Payments.Read"]
            ),
            tenant: Self.tenant
        )
    }

    func stop() async {
        await entra.stop()
        await issuer.stop()
    }

    func configuration(
        tenant: String = EntraFixture.tenant,
        clientID: String = EntraFixture.clientID,
        scope: String = EntraFixture.scope,
        credential: EntraIDConfiguration.Credential = .federated(.init(subject: EntraFixture.subject))
    ) throws -> EntraIDConfiguration {
        try EntraIDConfiguration(tenantID: tenant, clientID: clientID, scope: scope, authorityHost: entra.authorityHost, credential: credential)
    }

    func provider(_ configuration: EntraIDConfiguration) -> EntraIDProvider {
        EntraIDProvider(configuration: configuration, signing: issuer.signingContext, httpClient: .shared, logger: testLogger)
    }

    func fetch(_ configuration: EntraIDConfiguration, now: Date? = nil) async throws -> Token {
        try await provider(configuration).fetch(now: now ?? clock.now())
    }

    static func with(_ body: (EntraFixture) async throws -> Void) async throws {
        let fixture = try await EntraFixture()
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
}

@Suite struct EntraIDTests {
    @Test func federatedAssertionVerifiedThroughTheGatewayIssuersJWKS() async throws {
        try await EntraFixture.with { fixture in
            let now = fixture.clock.now()
            let token = try await fixture.fetch(try fixture.configuration())
            #expect(token.expiresAt == now.addingTimeInterval(3599))

            let request = try #require(fixture.entra.core.requests.last)
            #expect(request.path == "/\(EntraFixture.tenant)/oauth2/v2.0/token")
            #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
            #expect(request.header("Authorization") == nil)
            #expect(request.formPairs.map(\.0) == ["client_assertion", "client_assertion_type", "client_id", "grant_type", "scope"])
            let form = request.form
            #expect(form["grant_type"] == "client_credentials")
            #expect(form["client_id"] == EntraFixture.clientID)
            #expect(form["scope"] == EntraFixture.scope)
            #expect(form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            #expect(form["client_secret"] == nil)
            let assertion = try #require(form["client_assertion"])
            let claims = try await verifiedClaims(assertion, jwksJSON: JSONWebKeySet(fixture.issuer.publishedKeys).json)
            #expect(claims.iss == fixture.issuer.issuer)
            #expect(claims.sub == EntraFixture.subject)
            #expect(claims.aud.value == ["api://AzureADTokenExchange"])
            #expect(claims.jti != nil)
            #expect(try jwtHeader(assertion)["alg"] as? String == "RS256")

            // The access token: a v2 token of the fake's key for the resource.
            let keys = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "\(fixture.entra.authorityHost)/\(EntraFixture.tenant)/discovery/v2.0/keys"),
                timeout: .seconds(5)
            )
            let accessClaims = try await verifiedClaims(token.value, jwksJSON: String(buffer: try await keys.body.collect(upTo: 1 << 16)))
            #expect(accessClaims.aud.value == ["99999999-0000-0000-0000-000000000001"])
            #expect(accessClaims.azp == EntraFixture.clientID)
            #expect(accessClaims.iss == "\(fixture.entra.authorityHost)/\(EntraFixture.tenant)/v2.0")
        }
    }

    @Test func tenantByVerifiedDomainAndClientSecretInTheBody() async throws {
        try await EntraFixture.with { fixture in
            let configuration = try fixture.configuration(tenant: "contoso.onmicrosoft.com", credential: .clientSecret(ClientSecret(EntraFixture.secret)))
            #expect(!configuration.isSecretless)
            _ = try await fixture.fetch(configuration)
            let form = try #require(fixture.entra.core.requests.last?.form)
            #expect(form["client_secret"] == EntraFixture.secret)
            #expect(form["client_assertion"] == nil)
        }
    }

    /// Every documented failure reaches its AADSTS reason, with trace and correlation IDs and no secret.
    @Test func failuresCarryTheirAADSTSCode() async throws {
        try await EntraFixture.with { fixture in
            func expectReason(
                _ code: Int,
                status: Int = 400,
                _ configuration: EntraIDConfiguration,
                now: Date? = nil,
                sourceLocation: SourceLocation = #_sourceLocation
            ) async throws {
                let error = await #expect(throws: CredentialError(.aadsts(code)), sourceLocation: sourceLocation) {
                    try await fixture.fetch(configuration, now: now)
                }
                guard let error else { return }
                #expect(error.reason.rawValue == "AADSTS\(code)", sourceLocation: sourceLocation)
                #expect(error.reason.aadstsCode == code, sourceLocation: sourceLocation)
                #expect(error.httpStatus == status, sourceLocation: sourceLocation)
                #expect(error.traceID?.count == 36, sourceLocation: sourceLocation)
                #expect(error.correlationID?.count == 36, sourceLocation: sourceLocation)
                #expect(!error.message.contains("Trace ID"), sourceLocation: sourceLocation)
                #expect(!error.message.hasPrefix("AADSTS"), sourceLocation: sourceLocation)
                #expect(!allDescriptions(of: error).contains(EntraFixture.secret), sourceLocation: sourceLocation)
                #expect(!allDescriptions(of: error).contains("eyJ"), sourceLocation: sourceLocation)
            }
            // Tenant and app.
            try await expectReason(90002, try fixture.configuration(tenant: "00000000-0000-0000-0000-000000000000"))
            try await expectReason(700016, try fixture.configuration(clientID: "00000000-1111-2222-3333-444444444444"))
            // Scope.
            try await expectReason(1_002_012, try fixture.configuration(scope: EntraFixture.resource))
            try await expectReason(500011, try fixture.configuration(scope: "api://unknown/.default"))
            // Secrets.
            try await expectReason(7_000_215, status: 401, try fixture.configuration(credential: .clientSecret(ClientSecret("wrong-secret-value"))))
            fixture.entra.setApplication(
                .init(clientID: EntraFixture.clientID, secrets: [.init(value: EntraFixture.secret, expiresAt: fixture.clock.now())]),
                tenant: EntraFixture.tenant
            )
            try await expectReason(7_000_222, try fixture.configuration(credential: .clientSecret(ClientSecret(EntraFixture.secret))))
            // Federated credentials: none, issuer, subject, case, audience.
            try await expectReason(70021, try fixture.configuration())
            fixture.entra.setApplication(
                .init(clientID: EntraFixture.clientID, federatedCredentials: [.init(issuer: "https://other.example.com", subject: EntraFixture.subject)]),
                tenant: EntraFixture.tenant
            )
            try await expectReason(700211, try fixture.configuration())
            fixture.entra.setApplication(
                .init(clientID: EntraFixture.clientID, federatedCredentials: [.init(issuer: fixture.issuer.issuer, subject: "portcullis:payments:other")]),
                tenant: EntraFixture.tenant
            )
            try await expectReason(700213, try fixture.configuration())
            fixture.entra.setApplication(
                .init(clientID: EntraFixture.clientID, federatedCredentials: [.init(issuer: fixture.issuer.issuer, subject: EntraFixture.subject.uppercased())]),
                tenant: EntraFixture.tenant
            )
            try await expectReason(7_002_138, try fixture.configuration())
            fixture.entra.setApplication(
                .init(clientID: EntraFixture.clientID, federatedCredentials: [.init(issuer: fixture.issuer.issuer, subject: EntraFixture.subject)]),
                tenant: EntraFixture.tenant
            )
            try await expectReason(700212, try fixture.configuration(credential: .federated(.init(subject: EntraFixture.subject, audience: "api://other"))))
            // Only RS256.
            try await expectReason(700027, status: 401, try fixture.configuration(credential: .federated(.init(subject: EntraFixture.subject, algorithm: .es256))))
            // Signed by a key the issuer does not publish.
            fixture.issuer.publish([TestKeys.rs256], signingWith: [TestKeys.otherRS256])
            try await expectReason(700027, status: 401, try fixture.configuration())
            fixture.issuer.publish([TestKeys.rs256, TestKeys.es256])
            // The issuer cannot be reached.
            fixture.issuer.core.updateFaults { $0.failNext = 1 }
            try await expectReason(50166, status: 401, try fixture.configuration())
            // Expired assertion: minted more than the 5 minute skew before Entra's now.
            try await expectReason(700024, status: 401, try fixture.configuration(), now: fixture.clock.now().addingTimeInterval(-1200))
            // And it works again.
            _ = try await fixture.fetch(try fixture.configuration())
        }
    }

    @Test func federatedCredentialPropagationDelayIsAADSTS70021ThenSucceeds() async throws {
        try await EntraFixture.with { fixture in
            fixture.entra.setPropagationDelay(requests: 2)
            let cache = TokenCache<String>(clock: fixture.clock, logger: testLogger)
            let entry = cache.register("entra", provider: fixture.provider(try fixture.configuration()))
            try await withRunningCache(cache) {
                await #expect(throws: CredentialError(.aadsts(70021))) { try await entry.token() }
                #expect(entry.status().reason == "AADSTS70021")
                // Not transient: one request per round; the next round comes after the failure backoff.
                #expect(fixture.entra.core.requests.count == 1)
                for round in 2...3 {
                    try await eventually("round \(round - 1) failed") { entry.status().consecutiveFailures == round - 1 }
                    fixture.clock.advance(to: try #require(entry.status().nextRefreshTime))
                    try await eventually("round \(round) ran") { fixture.entra.core.requests.count == round }
                }
                try await eventually("a token") { entry.currentToken(now: fixture.clock.now()) != nil }
                #expect(entry.status().consecutiveFailures == 0)
                #expect(entry.status().lastError == nil)
            }
        }
    }

    @Test func assertionsAreSingleUse() async throws {
        try await EntraFixture.with { fixture in
            _ = try await fixture.fetch(try fixture.configuration())
            let form = try #require(fixture.entra.core.requests.last?.form)
            let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
            let replay = try await rawPost("\(fixture.entra.authorityHost)/\(EntraFixture.tenant)/oauth2/v2.0/token", body: body)
            #expect(replay.status == 401)
            #expect(replay.json["error_codes"] as? [Int] == [700027])
            // Each fetch mints a new assertion, so a second fetch works.
            _ = try await fixture.fetch(try fixture.configuration())
        }
    }

    @Test func errorBodyHasEntrasShape() async throws {
        try await EntraFixture.with { fixture in
            let response = try await rawPost(
                "\(fixture.entra.authorityHost)/\(EntraFixture.tenant)/oauth2/v2.0/token",
                body: "client_id=\(EntraFixture.clientID)&scope=api%3A%2F%2Fpayments-api%2F.default"
            )
            #expect(response.status == 400)
            #expect(response.json["error"] as? String == "invalid_request")
            #expect(response.json["error_codes"] as? [Int] == [900144])
            let description = try #require(response.json["error_description"] as? String)
            #expect(description.hasPrefix("AADSTS900144: The request body must contain the following parameter: 'grant_type'.\r\nTrace ID: "))
            #expect(description.contains("\r\nCorrelation ID: "))
            #expect(description.contains("\r\nTimestamp: 2026-01-01 00:00:00Z"))
            #expect(response.json["timestamp"] as? String == "2026-01-01 00:00:00Z")
            #expect(response.json["trace_id"] is String)
            #expect(response.json["correlation_id"] is String)
            #expect((response.json["error_uri"] as? String)?.hasSuffix("/error?code=900144") == true)
        }
    }
}
