import CredentialFakes
import Foundation
import PKI
import Testing
@testable import UpstreamCredentials

/// The fakes reject what the real services reject, with the documented bodies (upstream-protocols.md §2e).
@Suite struct FakeFidelityTests {
    func subjectToken(_ google: GoogleFixture, key: SigningKey = TestKeys.es256, audience: String = GoogleFixture.provider) throws -> String {
        try PKI.JWTSigner(key: key).mint(
            JWTClaims(issuer: google.issuer.issuer, subject: GoogleFixture.subject, audience: audience, ttl: .seconds(300)),
            now: google.clock.now()
        ).token
    }

    func stsForm(_ google: GoogleFixture, audience: String = GoogleFixture.provider, subjectToken: String) -> String {
        FormEncoding.encode([
            ("audience", audience), ("grant_type", GCPWorkloadIdentityProvider.tokenExchangeGrantType),
            ("requested_token_type", GCPWorkloadIdentityProvider.accessTokenType),
            ("scope", GCPWorkloadIdentityConfiguration.cloudPlatformScope), ("subject_token", subjectToken),
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
        ])
    }

    @Test func stsAcceptsCamelCaseJSONAndRejectsAPoolAsAudienceWithGooglesText() async throws {
        try await GoogleFixture.with { google in
            let token = try subjectToken(google)
            let json = """
                {"grantType":"\(GCPWorkloadIdentityProvider.tokenExchangeGrantType)","audience":"\(GoogleFixture.provider)",
                 "requestedTokenType":"\(GCPWorkloadIdentityProvider.accessTokenType)","scope":"\(GCPWorkloadIdentityConfiguration.cloudPlatformScope)",
                 "subjectToken":"\(token)","subjectTokenType":"urn:ietf:params:oauth:token-type:jwt"}
                """
            let accepted = try await rawPost(google.sts.tokenURL, contentType: "application/json", body: json)
            #expect(accepted.status == 200)
            #expect(accepted.json["token_type"] as? String == "Bearer")
            #expect(accepted.json["issued_token_type"] as? String == "urn:ietf:params:oauth:token-type:access_token")
            #expect(accepted.json["expires_in"] as? Int == 3600)

            let pool = "//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/portcullis-pool"
            let rejected = try await rawPost(google.sts.tokenURL, body: stsForm(google, audience: pool, subjectToken: token))
            #expect(rejected.status == 400)
            #expect(rejected.json["error"] as? String == "invalid_request")
            #expect(
                rejected.json["error_description"] as? String
                    == #"Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats."#
            )
        }
    }

    @Test func stsRejectsAnAuthorizationHeaderAndEdDSA() async throws {
        try await GoogleFixture.with { google in
            let withHeader = try await rawPost(
                google.sts.tokenURL,
                headers: [("Authorization", "Bearer x")],
                body: stsForm(google, subjectToken: try subjectToken(google))
            )
            #expect(withHeader.status == 401)
            google.issuer.publish([TestKeys.es256, TestKeys.edDSA])
            let eddsa = try await rawPost(google.sts.tokenURL, body: stsForm(google, subjectToken: try subjectToken(google, key: TestKeys.edDSA)))
            #expect(eddsa.status == 400)
            #expect(eddsa.json["error"] as? String == "invalid_grant")
            #expect(google.sts.issuedTokens.isEmpty)
        }
    }

    @Test func iamRequiresTheProjectWildcardAndRejectsUnknownFields() async throws {
        try await GoogleFixture.with { google in
            let federated = try await rawPost(google.sts.tokenURL, body: stsForm(google, subjectToken: try subjectToken(google)))
            let bearer = try #require(federated.json["access_token"] as? String)
            let withProject = try await rawPost(
                google.iam.baseURL + "/v1/projects/my-project/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken",
                contentType: "application/json",
                headers: [("Authorization", "Bearer \(bearer)")],
                body: #"{"scope":["https://www.googleapis.com/auth/cloud-platform"]}"#
            )
            #expect(withProject.status == 400)
            let unknown = try await rawPost(
                google.iam.baseURL + "/v1/projects/-/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken",
                contentType: "application/json",
                headers: [("Authorization", "Bearer \(bearer)")],
                body: #"{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetme":"60s"}"#
            )
            #expect(unknown.status == 400)
            #expect((unknown.json["error"] as? [String: Any])?["status"] as? String == "INVALID_ARGUMENT")
            let badLifetime = try await rawPost(
                google.iam.baseURL + "/v1/projects/-/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken",
                contentType: "application/json",
                headers: [("Authorization", "Bearer \(bearer)")],
                body: #"{"scope":["https://www.googleapis.com/auth/cloud-platform"],"lifetime":"1h"}"#
            )
            #expect(badLifetime.status == 400)
            // After the STS token expires by the fakes' clock, IAM no longer accepts it.
            google.clock.advance(by: .seconds(3601))
            let expired = try await rawPost(
                google.iam.baseURL + "/v1/projects/-/serviceAccounts/\(GoogleFixture.serviceAccount):generateAccessToken",
                contentType: "application/json",
                headers: [("Authorization", "Bearer \(bearer)")],
                body: #"{"scope":["https://www.googleapis.com/auth/cloud-platform"]}"#
            )
            #expect(expired.status == 401)
        }
    }

    @Test func oidcIssuerServesPKIsDocumentsWithCacheControl() async throws {
        let issuer = try await FakeOIDCIssuer.start(keys: [TestKeys.es256], path: "/tenant-a")
        defer { Task { await issuer.stop() } }
        #expect(issuer.issuer.hasSuffix("/tenant-a"))
        let jwks = try await IssuerKeyFetcher().jwksJSON(issuer: issuer.issuer)
        #expect(jwks == JSONWebKeySet([TestKeys.es256]).json)
        #expect(issuer.core.requests.map(\.path) == ["/tenant-a/.well-known/openid-configuration", "/tenant-a/.well-known/jwks.json"])
        // A trailing-slash mismatch is an issuer mismatch.
        await #expect(throws: IssuerKeyFetcher.Failure.self) { try await IssuerKeyFetcher().jwksJSON(issuer: issuer.issuer + "/") }
        issuer.core.updateFaults { $0.malformedNext = 1 }
        await #expect(throws: IssuerKeyFetcher.Failure.self) { try await IssuerKeyFetcher().jwksJSON(issuer: issuer.issuer) }
    }
}
