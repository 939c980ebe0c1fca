public import AsyncHTTPClient
public import Foundation
public import Logging
import PKI

/// Obtains Entra ID (Azure AD) access tokens with the v2.0 client credentials grant.
///
/// ```
/// POST {authorityHost}/{tenant}/oauth2/v2.0/token
/// Content-Type: application/x-www-form-urlencoded
///
/// client_assertion=<JWT>&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer
/// &client_id=<app id>&grant_type=client_credentials&scope=api%3A%2F%2F<app>%2F.default
/// ```
///
/// or `client_secret=<secret>` instead of the assertion. The federated assertion is minted for every request
/// (a fresh `jti`): `iss` the installation issuer, `sub` the federated credential's subject, `aud` its audience
/// (`api://AzureADTokenExchange`), RS256. Errors carry the AADSTS code as their reason (`AADSTS70021`, …), the first
/// line of `error_description` as their message, and `trace_id`/`correlation_id`.
public struct EntraIDProvider: TokenProvider {
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
    public static let clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

    public let configuration: EntraIDConfiguration
    private let signing: SharedSigningContext
    private let client: TokenEndpointClient

    /// - Parameters:
    ///   - configuration: The client and its credential.
    ///   - signing: The gateway's signing keys, for assertions.
    ///   - httpClient: The control plane's HTTP client.
    ///   - logger: Passed to AsyncHTTPClient; no token material is logged.
    ///   - requestTimeout: AsyncHTTPClient's deadline per request; keep it under the cache's fetch timeout.
    public init(
        configuration: EntraIDConfiguration,
        signing: SharedSigningContext,
        httpClient: HTTPClient,
        logger: Logger,
        requestTimeout: Duration = .seconds(8)
    ) {
        self.configuration = configuration
        self.signing = signing
        self.client = TokenEndpointClient(httpClient: httpClient, logger: logger, requestTimeout: requestTimeout)
    }

    public func fetch(now: Date) async throws -> Token {
        var parameters: [(String, String)] = [
            ("client_id", configuration.clientID),
            ("grant_type", "client_credentials"),
            ("scope", configuration.scope),
        ]
        let secret: String
        switch configuration.credential {
        case .federated(let assertion):
            secret = try signing.require().mint(
                subject: assertion.subject,
                audience: assertion.audience,
                ttl: assertion.ttl,
                algorithm: assertion.algorithm,
                now: now
            ).token
            parameters.append(("client_assertion_type", Self.clientAssertionType))
            parameters.append(("client_assertion", secret))
        case .clientSecret(let clientSecret):
            secret = clientSecret.value
            parameters.append(("client_secret", secret))
        }
        let url = configuration.tokenURL
        let secrets = Redaction.variants(of: secret, clientID: configuration.clientID)
        let response = try await client.post(
            url: url,
            contentType: "application/x-www-form-urlencoded",
            body: FormEncoding.encode(parameters),
            redacting: secrets
        )
        return try OAuth2ClientCredentialsProvider.token(
            from: response,
            dialect: .entra,
            endpoint: url,
            now: now,
            assumedLifetime: nil,
            redacting: secrets
        )
    }
}
