import AsyncHTTPClient
import CredentialFakes
import Foundation
import PKI
import Testing
@testable import UpstreamCredentials

/// No token material or secret in any error, status or description, even when a token service echoes them.
@Suite struct SecretHygieneTests {
    static let secret = "hunter2-very-secret-client-value"

    /// A token endpoint that puts the whole request (form body and Authorization header) into its error text.
    static func echoingServer(dialect: String) async throws -> FakeHTTPServer {
        try await FakeHTTPServer.start { request in
            let echoed = "\(request.bodyText) auth=\(request.header("Authorization") ?? "")"
            switch dialect {
            case "google":
                return .json(403, object: ["error": ["code": 403, "message": "denied for \(echoed)", "status": "PERMISSION_DENIED"]])
            case "entra":
                return .json(401, object: [
                    "error": "invalid_client", "error_description": "AADSTS7000215: bad \(echoed)\r\nTrace ID: x", "error_codes": [7_000_215],
                ])
            default:
                return .json(401, object: ["error": "invalid_client", "error_description": "rejected \(echoed)"])
            }
        }
    }

    func expectClean(_ error: (any Error)?, of secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("expected an error", sourceLocation: sourceLocation)
            return
        }
        let text = allDescriptions(of: error)
        for secret in secrets where !secret.isEmpty {
            #expect(!text.contains(secret), "leaked \(secret.prefix(12))… in \(text)", sourceLocation: sourceLocation)
        }
        #expect(!text.contains("eyJ"), "a JWT leaked: \(text)", sourceLocation: sourceLocation)
    }

    @Test func oauth2SecretsAndAssertionsAreRedactedFromEchoedErrors() async throws {
        let server = try await Self.echoingServer(dialect: "oauth2")
        defer { Task { await server.stop() } }
        let signing = SharedSigningContext(SigningContext(issuer: "https://gw.example.com", signingKeys: [TestKeys.es256]))
        for authentication in [
            OAuth2ClientCredentialsConfiguration.ClientAuthentication.clientSecretBasic(ClientSecret(Self.secret)),
            .clientSecretPost(ClientSecret(Self.secret)), .privateKeyJWT(.init(namespace: "default")),
        ] {
            let provider = OAuth2ClientCredentialsProvider(
                configuration: try .init(tokenURL: server.baseURL + "/token", clientID: "gw", clientAuthentication: authentication),
                signing: signing,
                httpClient: .shared,
                logger: testLogger
            )
            let error = await #expect(throws: CredentialError(.invalidClient)) { try await provider.fetch(now: Date()) }
            // The echoed secret, its form encoding and the Basic credentials all vanish.
            let basic = OAuth2ClientCredentialsProvider.basicAuthorization(clientID: "gw", secret: Self.secret)
            expectClean(error, of: [Self.secret, FormEncoding.escape(Self.secret), String(basic.dropFirst(6))])
        }
    }

    @Test func entraSecretIsRedactedAndAssertionNeverShown() async throws {
        let server = try await Self.echoingServer(dialect: "entra")
        defer { Task { await server.stop() } }
        let signing = SharedSigningContext(SigningContext(issuer: "https://gw.example.com", signingKeys: [TestKeys.rs256]))
        for credential in [
            EntraIDConfiguration.Credential.clientSecret(ClientSecret(Self.secret)), .federated(.init(subject: "portcullis:a:b")),
        ] {
            let provider = EntraIDProvider(
                configuration: try .init(tenantID: "contoso.onmicrosoft.com", clientID: "app", scope: "api://x/.default", authorityHost: server.baseURL, credential: credential),
                signing: signing,
                httpClient: .shared,
                logger: testLogger
            )
            let error = await #expect(throws: CredentialError(.aadsts(7_000_215))) { try await provider.fetch(now: Date()) }
            expectClean(error, of: [Self.secret, FormEncoding.escape(Self.secret)])
        }
    }

    @Test func googleSubjectAndFederatedTokensAreRedacted() async throws {
        let google = try await GoogleFixture()
        let echo = try await Self.echoingServer(dialect: "google")
        defer { Task { await echo.stop() } }
        // STS works, IAM echoes the bearer (the STS token) back.
        let configuration = try GCPWorkloadIdentityConfiguration(
            provider: GoogleFixture.provider,
            serviceAccount: GoogleFixture.serviceAccount,
            subjectToken: .gatewayJWT(.init(subject: GoogleFixture.subject)),
            endpoints: .init(sts: google.sts.tokenURL, iamCredentials: echo.baseURL)
        )
        let provider = GCPWorkloadIdentityProvider(configuration: configuration, signing: google.issuer.signingContext, httpClient: .shared, logger: testLogger)
        let error = await #expect(throws: CredentialError(.permissionDenied)) { try await provider.fetch(now: google.clock.now()) }
        let stsTokens = Array(google.sts.issuedTokens.keys)
        #expect(stsTokens.count == 1)
        expectClean(error, of: stsTokens)
        #expect(error?.message.contains("[redacted]") == true)
        await google.stop()
    }

    @Test func tokensSecretsAndConfigurationsDescribeThemselvesWithoutValues() throws {
        let token = Token(value: "ya29.super-secret-access-token", expiresAt: referenceTime, issuedAt: referenceTime)
        var dumped = ""
        dump(token, to: &dumped)
        for text in ["\(token)", String(reflecting: token), dumped] {
            #expect(!text.contains("super-secret"))
        }
        let configuration = try OAuth2ClientCredentialsConfiguration(
            tokenURL: "https://idp.example.com/token",
            clientID: "c",
            clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))
        )
        var dumpedConfiguration = ""
        dump(configuration, to: &dumpedConfiguration)
        for text in ["\(configuration)", String(reflecting: configuration), dumpedConfiguration] {
            #expect(!text.contains(Self.secret))
        }
        #expect("\(ClientSecret(Self.secret))" == "ClientSecret(redacted)")
    }

    @Test func statusLastErrorCarriesNoTokenMaterial() async throws {
        let server = try await Self.echoingServer(dialect: "oauth2")
        defer { Task { await server.stop() } }
        let provider = OAuth2ClientCredentialsProvider(
            configuration: try .init(tokenURL: server.baseURL + "/token", clientID: "gw", clientAuthentication: .clientSecretPost(ClientSecret(Self.secret))),
            signing: SharedSigningContext(),
            httpClient: .shared,
            logger: testLogger
        )
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            await #expect(throws: CredentialError(.invalidClient)) { try await entry.token() }
            let status = entry.status()
            #expect(status.reason == "InvalidClient")
            let lastError = try #require(status.lastError)
            #expect(!lastError.description.contains(Self.secret))
            #expect(lastError.description.hasPrefix("InvalidClient: invalid_client: rejected"))
        }
    }

    @Test func redactionRemovesJWTShapedWordsAndCapsLength() {
        let jwt = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
        #expect(Redaction.redact("bad token \(jwt), try again", removing: []) == "bad token [redacted JWT], try again")
        #expect(Redaction.redact("value abcd", removing: ["abcd"]) == "value [redacted]")
        #expect(Redaction.redact(String(repeating: "x", count: 5000), removing: []).count == Redaction.maximumLength + 1)
    }
}
