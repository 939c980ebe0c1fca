import AsyncHTTPClient
import CredentialFakes
import Foundation
import JWTKit
import NIOCore
import PKI
import Testing
@testable import UpstreamCredentials

/// The gateway's issuer, Google STS and IAM Credentials fakes on loopback, sharing a manual clock.
struct GoogleFixture {
    static let provider = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/providers/gateway-oidc"
    static let bareProvider = "projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/providers/gateway-oidc"
    static let poolPrincipal = "principal://iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/subject/"
    static let subject = "portcullis:payments:gcs"
    static let serviceAccount = "reader@proj.iam.gserviceaccount.com"

    let clock = ManualClock()
    let issuer: FakeOIDCIssuer
    let sts: FakeGoogleSTS
    let iam: FakeIAMCredentials

    init() async throws {
        issuer = try await FakeOIDCIssuer.start(keys: [TestKeys.es256, TestKeys.rs256], clock: clock)
        sts = try await FakeGoogleSTS.start(clock: clock)
        iam = try await FakeIAMCredentials.start(sts: sts, clock: clock)
        sts.setProvider(Self.provider, .init(issuerURI: issuer.issuer))
        iam.addServiceAccount(.init(email: Self.serviceAccount, uniqueID: "1122334455", tokenCreators: [Self.poolPrincipal + Self.subject]))
    }

    func stop() async {
        await iam.stop()
        await sts.stop()
        await issuer.stop()
    }

    var endpoints: GCPWorkloadIdentityConfiguration.Endpoints {
        .init(sts: sts.tokenURL, iamCredentials: iam.baseURL)
    }

    func configuration(
        provider: String = GoogleFixture.provider,
        serviceAccount: String? = nil,
        tokenType: GCPWorkloadIdentityConfiguration.TokenType = .accessToken,
        idTokenAudience: String? = nil,
        includeEmail: Bool = false,
        scopes: [String] = GCPWorkloadIdentityConfiguration.defaultScopes,
        lifetime: Duration = .seconds(3600),
        delegates: [String] = [],
        subjectToken: GCPWorkloadIdentityConfiguration.SubjectToken = .gatewayJWT(.init(subject: GoogleFixture.subject))
    ) throws -> GCPWorkloadIdentityConfiguration {
        try GCPWorkloadIdentityConfiguration(
            provider: provider,
            serviceAccount: serviceAccount,
            tokenType: tokenType,
            idTokenAudience: idTokenAudience,
            includeEmail: includeEmail,
            scopes: scopes,
            lifetime: lifetime,
            delegates: delegates,
            subjectToken: subjectToken,
            endpoints: endpoints
        )
    }

    func provider(_ configuration: GCPWorkloadIdentityConfiguration) -> GCPWorkloadIdentityProvider {
        GCPWorkloadIdentityProvider(configuration: configuration, signing: issuer.signingContext, httpClient: .shared, logger: testLogger)
    }

    /// Runs `body` and stops the fakes.
    static func with(_ body: (GoogleFixture) async throws -> Void) async throws {
        let fixture = try await GoogleFixture()
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }
}

@Suite struct GCPWorkloadIdentityTests {
    @Test(arguments: [GoogleFixture.provider, GoogleFixture.bareProvider])
    func federatedAccessTokenFromSTS(providerName: String) async throws {
        try await GoogleFixture.with { google in
            let configuration = try google.configuration(provider: providerName, scopes: ["https://www.googleapis.com/auth/devstorage.read_only"])
            #expect(configuration.provider == GoogleFixture.provider)
            let now = google.clock.now()
            let token = try await google.provider(configuration).fetch(now: now)
            #expect(token.value.hasPrefix("sts."))
            #expect(token.expiresAt == now.addingTimeInterval(3600))
            #expect(google.sts.issuedToken(token.value)?.principal == GoogleFixture.poolPrincipal + GoogleFixture.subject)

            let request = try #require(google.sts.core.requests.last)
            #expect(request.method == "POST")
            #expect(request.path == "/v1/token")
            #expect(request.header("Authorization") == nil)
            #expect(request.header("Content-Type") == "application/x-www-form-urlencoded")
            let form = request.form
            #expect(request.formPairs.map(\.0) == ["audience", "grant_type", "requested_token_type", "scope", "subject_token", "subject_token_type"])
            #expect(form["audience"] == GoogleFixture.provider)
            #expect(form["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange")
            #expect(form["requested_token_type"] == "urn:ietf:params:oauth:token-type:access_token")
            #expect(form["subject_token_type"] == "urn:ietf:params:oauth:token-type:jwt")
            #expect(form["scope"] == "https://www.googleapis.com/auth/devstorage.read_only")
            // The subject token: the gateway's JWT for the provider, verifiable with the issuer's JWKS.
            let subjectToken = try #require(form["subject_token"])
            let claims = try await verifiedClaims(subjectToken, jwksJSON: JSONWebKeySet(google.issuer.publishedKeys).json)
            #expect(claims.iss == google.issuer.issuer)
            #expect(claims.sub == GoogleFixture.subject)
            #expect(claims.aud.value == [GoogleFixture.provider])
            #expect(claims.iat == Int(now.timeIntervalSince1970))
            #expect(claims.exp - claims.iat == 300)
            #expect(try jwtHeader(subjectToken)["alg"] as? String == "ES256")
            #expect(try jwtHeader(subjectToken)["kid"] as? String == TestKeys.es256.kid)
        }
    }

    @Test func impersonatedAccessTokenWithLifetimeAndNormalisedDelegates() async throws {
        try await GoogleFixture.with { google in
            let hop = "hop@proj.iam.gserviceaccount.com"
            let hop2 = "hop2@proj.iam.gserviceaccount.com"
            google.iam.addServiceAccount(.init(email: hop, tokenCreators: [GoogleFixture.poolPrincipal + GoogleFixture.subject]))
            google.iam.addServiceAccount(.init(email: hop2, tokenCreators: ["serviceAccount:\(hop)"]))
            google.iam.addServiceAccount(.init(email: GoogleFixture.serviceAccount, tokenCreators: ["serviceAccount:\(hop2)"]))
            let configuration = try google.configuration(
                serviceAccount: GoogleFixture.serviceAccount,
                scopes: ["https://www.googleapis.com/auth/bigquery"],
                lifetime: .seconds(1800),
                delegates: [hop, "projects/-/serviceAccounts/\(hop2)"]
            )
            let now = google.clock.now()
            let token = try await google.provider(configuration).fetch(now: now)
            #expect(token.value.hasPrefix("ya29.fake-"))
            #expect(token.expiresAt == now.addingTimeInterval(1800))
            #expect(google.iam.issuedAccessTokens[token.value]?.scopes == ["https://www.googleapis.com/auth/bigquery"])

            // STS was asked for cloud-platform (what impersonation needs), not the final scopes.
            #expect(google.sts.core.requests.last?.form["scope"] == GCPWorkloadIdentityConfiguration.cloudPlatformScope)
            let stsToken = try #require(google.sts.issuedTokens.keys.first)
            let request = try #require(google.iam.core.requests.last)
            #expect(request.path == "/v1/projects/-/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken")
            #expect(request.header("Authorization") == "Bearer \(stsToken)")
            #expect(request.header("Content-Type") == "application/json")
            let body = try #require(request.jsonObject)
            #expect(body["lifetime"] as? String == "1800s")
            #expect(body["scope"] as? [String] == ["https://www.googleapis.com/auth/bigquery"])
            #expect(body["delegates"] as? [String] == ["projects/-/serviceAccounts/\(hop)", "projects/-/serviceAccounts/\(hop2)"])
        }
    }

    @Test(arguments: [true, false])
    func idTokenForCloudRun(includeEmail: Bool) async throws {
        try await GoogleFixture.with { google in
            let audience = "https://billing-abc123-ew.a.run.app"
            let configuration = try google.configuration(
                serviceAccount: GoogleFixture.serviceAccount,
                tokenType: .idToken,
                idTokenAudience: audience,
                includeEmail: includeEmail
            )
            let now = google.clock.now()
            let token = try await google.provider(configuration).fetch(now: now)
            let request = try #require(google.iam.core.requests.last)
            #expect(request.path.hasSuffix(":generateIdToken"))
            let body = try #require(request.jsonObject)
            #expect(body["audience"] as? String == audience)
            #expect(body["includeEmail"] as? Bool == includeEmail)
            #expect(body["delegates"] == nil)
            // A Google-signed ID token, verified against the fake's certs URL.
            let certs = try await HTTPClient.shared.execute(HTTPClientRequest(url: google.iam.certsURL), timeout: .seconds(5))
            let jwks = String(buffer: try await certs.body.collect(upTo: 1 << 16))
            let claims = try await verifiedClaims(token.value, jwksJSON: jwks)
            #expect(claims.iss == "https://accounts.google.com")
            #expect(claims.aud.value == [audience])
            #expect(claims.sub == "1122334455")
            #expect(claims.azp == "1122334455")
            #expect(claims.email == (includeEmail ? GoogleFixture.serviceAccount : nil))
            #expect(claims.email_verified == (includeEmail ? true : nil))
            #expect(token.expiresAt == Date(timeIntervalSince1970: TimeInterval(claims.exp)))
            #expect(claims.exp - claims.iat == 3600)
        }
    }

    @Test func projectedServiceAccountTokenIsReadAgainForEveryExchange() async throws {
        try await GoogleFixture.with { google in
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("sa-token-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: file) }
            // Tokens as the kubelet would project them: signed by the cluster's issuer (here the fake issuer).
            let signer = PKI.JWTSigner(key: TestKeys.rs256)
            func projected(_ subject: String) throws -> String {
                try signer.mint(
                    JWTClaims(issuer: google.issuer.issuer, subject: subject, audience: GoogleFixture.provider, ttl: .seconds(3600)),
                    now: google.clock.now()
                ).token
            }
            let first = try projected("system:serviceaccount:payments:gateway")
            try (first + "\n").write(to: file, atomically: true, encoding: .utf8)
            google.iam.addServiceAccount(.init(email: GoogleFixture.serviceAccount, tokenCreators: [
                GoogleFixture.poolPrincipal + "system:serviceaccount:payments:gateway",
            ]))
            let provider = google.provider(try google.configuration(subjectToken: .serviceAccountTokenFile(path: file.path)))
            _ = try await provider.fetch(now: google.clock.now())
            #expect(google.sts.core.requests.last?.form["subject_token"] == first)

            // The kubelet rotates the file in place.
            google.clock.advance(by: .seconds(60))
            let second = try projected("system:serviceaccount:payments:gateway")
            #expect(second != first)
            try second.write(to: file, atomically: true, encoding: .utf8)
            let token = try await provider.fetch(now: google.clock.now())
            #expect(google.sts.core.requests.last?.form["subject_token"] == second)
            #expect(google.sts.issuedToken(token.value)?.principal == GoogleFixture.poolPrincipal + "system:serviceaccount:payments:gateway")

            // Gone: a typed error that names the path but not the contents.
            try FileManager.default.removeItem(at: file)
            let error = await #expect(throws: CredentialError(.subjectTokenUnavailable)) {
                try await provider.fetch(now: google.clock.now())
            }
            #expect(error?.message.contains(file.path) == true)
            #expect(google.sts.core.requests.count == 2)
        }
    }

    @Test func unknownOrDisabledProviderIsInvalidTarget() async throws {
        try await GoogleFixture.with { google in
            let unknown = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/portcullis-pool/providers/other-provider"
            let error = await #expect(throws: CredentialError(.invalidTarget)) {
                try await google.provider(try google.configuration(provider: unknown)).fetch(now: google.clock.now())
            }
            #expect(error?.message.contains(FakeGoogleSTS.invalidTargetMessage) == true)
            #expect(error?.httpStatus == 400)
            #expect(error?.isTransient == false)

            google.sts.setProvider(GoogleFixture.provider, .init(issuerURI: google.issuer.issuer, disabled: true))
            await #expect(throws: CredentialError(.invalidTarget)) {
                try await google.provider(try google.configuration()).fetch(now: google.clock.now())
            }
        }
    }

    @Test func subjectTokenRejectionsAreInvalidGrant() async throws {
        try await GoogleFixture.with { google in
            let now = google.clock.now()
            // The issuer's discovery document cannot be fetched.
            google.issuer.core.updateFaults { $0.failNext = 1 }
            let unreachable = await #expect(throws: CredentialError(.invalidGrant)) {
                try await google.provider(try google.configuration()).fetch(now: now)
            }
            #expect(unreachable?.message == "invalid_grant: \(FakeGoogleSTS.issuerUnreachableMessage)")

            // Expired: minted an hour before the token service's now.
            let expired = await #expect(throws: CredentialError(.invalidGrant)) {
                try await google.provider(try google.configuration()).fetch(now: now.addingTimeInterval(-3600))
            }
            #expect(expired?.message.contains("expired") == true)

            // exp − iat must be under 48 h.
            let long = try google.configuration(subjectToken: .gatewayJWT(.init(subject: GoogleFixture.subject, ttl: .seconds(49 * 3600))))
            let tooLong = await #expect(throws: CredentialError(.invalidGrant)) { try await google.provider(long).fetch(now: now) }
            #expect(tooLong?.message.contains("48 hours") == true)

            // An audience the provider does not accept.
            let wrongAudience = try google.configuration(subjectToken: .gatewayJWT(.init(subject: GoogleFixture.subject, audience: "https://example.com")))
            await #expect(throws: CredentialError(.invalidGrant)) { try await google.provider(wrongAudience).fetch(now: now) }
            // The https: form of the provider name is accepted.
            let httpsAudience = try google.configuration(
                subjectToken: .gatewayJWT(.init(subject: GoogleFixture.subject, audience: "https:" + GoogleFixture.provider))
            )
            _ = try await google.provider(httpsAudience).fetch(now: now)

            // Another issuer than the provider's.
            google.sts.setProvider(GoogleFixture.provider, .init(issuerURI: google.issuer.issuer + "/"))
            await #expect(throws: CredentialError(.invalidGrant)) { try await google.provider(try google.configuration()).fetch(now: now) }

            // A key that is not in the issuer's JWKS.
            google.sts.setProvider(GoogleFixture.provider, .init(issuerURI: google.issuer.issuer))
            google.issuer.publish([TestKeys.rs256], signingWith: [TestKeys.otherRS256])
            let rs256 = try google.configuration(subjectToken: .gatewayJWT(.init(subject: GoogleFixture.subject, algorithm: .rs256)))
            await #expect(throws: CredentialError(.invalidGrant)) { try await google.provider(rs256).fetch(now: now) }
        }
    }

    @Test func attributeConditionRejectionIsUnauthorizedClient() async throws {
        try await GoogleFixture.with { google in
            google.sts.setProvider(
                GoogleFixture.provider,
                .init(issuerURI: google.issuer.issuer, condition: { $0["sub"]?.hasPrefix("portcullis:prod:") == true })
            )
            let error = await #expect(throws: CredentialError(.unauthorizedClient)) {
                try await google.provider(try google.configuration()).fetch(now: google.clock.now())
            }
            #expect(error?.message.contains(FakeGoogleSTS.conditionRejectedMessage) == true)
        }
    }

    @Test func iamFailuresUseTheGoogleEnvelope() async throws {
        try await GoogleFixture.with { google in
            let now = google.clock.now()
            // The federated principal has no binding on this service account.
            google.iam.addServiceAccount(.init(email: "other@proj.iam.gserviceaccount.com"))
            let denied = await #expect(throws: CredentialError(.permissionDenied)) {
                try await google.provider(try google.configuration(serviceAccount: "other@proj.iam.gserviceaccount.com")).fetch(now: now)
            }
            #expect(denied?.message == "PERMISSION_DENIED: Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).")
            #expect(denied?.httpStatus == 403)
            let deniedID = await #expect(throws: CredentialError(.permissionDenied)) {
                try await google.provider(
                    try google.configuration(serviceAccount: "other@proj.iam.gserviceaccount.com", tokenType: .idToken, idTokenAudience: "https://x.a.run.app")
                ).fetch(now: now)
            }
            #expect(deniedID?.message.contains("iam.serviceAccounts.getOpenIdToken") == true)

            // Lifetime beyond the organisation's maximum.
            let tooLong = await #expect(throws: CredentialError(.invalidArgument)) {
                try await google.provider(try google.configuration(serviceAccount: GoogleFixture.serviceAccount, lifetime: .seconds(7200))).fetch(now: now)
            }
            #expect(tooLong?.message == "INVALID_ARGUMENT: Request contains an invalid argument.")
            google.iam.setMaximumLifetime(.seconds(43200))
            _ = try await google.provider(try google.configuration(serviceAccount: GoogleFixture.serviceAccount, lifetime: .seconds(7200))).fetch(now: now)

            // A 500 is transient.
            google.iam.core.updateFaults { $0.failNext = 1 }
            let serverFailure = await #expect(throws: CredentialError(.serverError)) {
                try await google.provider(try google.configuration(serviceAccount: GoogleFixture.serviceAccount)).fetch(now: now)
            }
            #expect(serverFailure?.isTransient == true)

            // A bad bearer.
            let unauthenticated = try await rawPost(
                google.iam.baseURL + "/v1/projects/-/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken",
                contentType: "application/json",
                headers: [("Authorization", "Bearer nope")],
                body: #"{"scope":["https://www.googleapis.com/auth/cloud-platform"]}"#
            )
            #expect(unauthenticated.status == 401)
            #expect((unauthenticated.json["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED")
        }
    }

    @Test func unreachableSTSIsTransient() async throws {
        let google = try await GoogleFixture()
        let configuration = try google.configuration()
        let provider = GCPWorkloadIdentityProvider(
            configuration: configuration,
            signing: google.issuer.signingContext,
            httpClient: .shared,
            logger: testLogger,
            requestTimeout: .seconds(1)
        )
        await google.stop()
        let error = await #expect(throws: CredentialError(.unreachable)) { try await provider.fetch(now: google.clock.now()) }
        #expect(error?.isTransient == true)
    }

    @Test func configurationRejectsWhatCannotWork() throws {
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try GCPWorkloadIdentityConfiguration(
                provider: "projects/123/locations/global/workloadIdentityPools/pool-name",
                subjectToken: .gatewayJWT(.init(subject: "s"))
            )
        }
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try GCPWorkloadIdentityConfiguration(provider: GoogleFixture.provider, tokenType: .idToken, subjectToken: .gatewayJWT(.init(subject: "s")))
        }
        #expect(throws: CredentialError(.invalidConfiguration)) {
            try GCPWorkloadIdentityConfiguration(
                provider: GoogleFixture.provider,
                subjectToken: .gatewayJWT(.init(subject: "s", algorithm: .edDSA))
            )
        }
        #expect(GCPWorkloadIdentityConfiguration.serviceAccountResourceName("a@b.iam.gserviceaccount.com") == "projects/-/serviceAccounts/a@b.iam.gserviceaccount.com")
        #expect(GCPWorkloadIdentityConfiguration.serviceAccountResourceName("projects/my-proj/serviceAccounts/a@b.iam.gserviceaccount.com") == "projects/-/serviceAccounts/a@b.iam.gserviceaccount.com")
        #expect(GCPWorkloadIdentityProvider.durationString(.seconds(3600)) == "3600s")
        #expect(GCPWorkloadIdentityProvider.durationString(.milliseconds(1500)) == "1.5s")
    }
}
