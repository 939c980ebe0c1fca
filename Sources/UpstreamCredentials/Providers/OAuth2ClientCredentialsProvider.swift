public import AsyncHTTPClient
public import Foundation
public import Logging
import PKI

/// Obtains access tokens from any OAuth 2.0 authorization server with the client credentials grant (RFC 6749 §4.4).
///
/// ```
/// POST <tokenURL>
/// Content-Type: application/x-www-form-urlencoded
/// [Authorization: Basic base64(urlencode(client_id) ":" urlencode(secret))]        client_secret_basic
///
/// grant_type=client_credentials&scope=a+b&audience=…&resource=…&<extraParams>
///   [&client_id=…&client_secret=…]                                                   client_secret_post
///   [&client_id=…&client_assertion_type=urn:…:jwt-bearer&client_assertion=<JWT>]      private_key_jwt
/// ```
///
/// The private_key_jwt assertion (RFC 7523 §2.2, §3): `iss` = `sub` = client ID, `aud` the token URL, `iat`, `nbf`,
/// `exp` (5 minutes), a fresh `jti`, signed with the namespace's key (the server knows the namespace's JWKS,
/// `<issuer>/namespaces/<namespace>/jwks.json`).
/// A response without `expires_in` is taken to last `assumedLifetime` (1 hour), or until the `exp` of a JWT
/// access token.
public struct OAuth2ClientCredentialsProvider: TokenProvider {
    /// Lifetime assumed when a response has no `expires_in` and the token is not a JWT: 1 hour.
    public static let assumedLifetime: Duration = .seconds(3600)

    public let configuration: OAuth2ClientCredentialsConfiguration
    private let signing: SharedSigningContext
    private let client: TokenEndpointClient

    /// - Parameters:
    ///   - configuration: The client and its credential.
    ///   - signing: The gateway's signing keys, for assertions.
    ///   - httpClient: The control plane's HTTP client.
    ///   - logger: Passed to AsyncHTTPClient; no token material is logged.
    ///   - requestTimeout: AsyncHTTPClient's deadline per request; keep it under the cache's fetch timeout.
    public init(
        configuration: OAuth2ClientCredentialsConfiguration,
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
        var parameters: [(String, String)] = [("grant_type", "client_credentials")]
        if !configuration.scopes.isEmpty { parameters.append(("scope", configuration.scopes.joined(separator: " "))) }
        if let audience = configuration.audience { parameters.append(("audience", audience)) }
        if let resource = configuration.resource { parameters.append(("resource", resource)) }
        for (name, value) in configuration.extraParams { parameters.append((name, value)) }

        var headers: [(String, String)] = []
        let secret: String
        switch configuration.clientAuthentication {
        case .clientSecretBasic(let clientSecret):
            secret = clientSecret.value
            headers.append(("Authorization", Self.basicAuthorization(clientID: configuration.clientID, secret: secret)))
        case .clientSecretPost(let clientSecret):
            secret = clientSecret.value
            parameters.append(("client_id", configuration.clientID))
            parameters.append(("client_secret", secret))
        case .privateKeyJWT(let settings):
            secret = try signing.require().mintClientAssertion(
                clientID: configuration.clientID,
                namespace: settings.namespace,
                audience: settings.audience ?? configuration.tokenURL,
                ttl: settings.ttl,
                now: now
            ).token
            parameters.append(("client_id", configuration.clientID))
            parameters.append(("client_assertion_type", EntraIDProvider.clientAssertionType))
            parameters.append(("client_assertion", secret))
        }
        let url = configuration.tokenURL
        let secrets = Redaction.variants(of: secret, clientID: configuration.clientID)
        let response = try await client.post(
            url: url,
            contentType: "application/x-www-form-urlencoded",
            headers: headers,
            body: FormEncoding.encode(parameters),
            redacting: secrets
        )
        return try Self.token(
            from: response,
            dialect: .oauth2,
            endpoint: url,
            now: now,
            assumedLifetime: Self.assumedLifetime,
            redacting: secrets
        )
    }

    /// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
    static func basicAuthorization(clientID: String, secret: String) -> String {
        let credentials = FormEncoding.escape(clientID) + ":" + FormEncoding.escape(secret)
        return "Basic " + Base64.encode(Array(credentials.utf8))
    }

    /// The token of an RFC 6749 §5.1 response, or the error of a §5.2 one.
    static func token(
        from response: TokenEndpointResponse,
        dialect: TokenServiceErrors.Dialect,
        endpoint: String,
        now: Date,
        assumedLifetime: Duration?,
        redacting secrets: [String]
    ) throws -> Token {
        guard response.status == 200 else {
            throw TokenServiceErrors.error(for: response, dialect: dialect, endpoint: endpoint, redacting: secrets)
        }
        guard let decoded = WireJSON.decode(OAuth2TokenResponse.self, from: response.body),
            !decoded.accessToken.isEmpty
        else {
            throw CredentialError(.malformedResponse, "\(endpoint) answered 200 without an access_token", httpStatus: 200)
        }
        if let type = decoded.tokenType, type.lowercased() != "bearer" {
            throw CredentialError(
                .malformedResponse,
                "\(endpoint) issued a token of type \(type); only Bearer tokens can be sent upstream",
                httpStatus: 200
            )
        }
        let expiresAt: Date
        if let expiresIn = decoded.expiresIn {
            expiresAt = now.addingTimeInterval(TimeInterval(expiresIn))
        } else if let exp = WireJSON.jwtExpiry(decoded.accessToken) {
            expiresAt = exp
        } else if let assumedLifetime {
            expiresAt = now.adding(assumedLifetime)
        } else {
            throw CredentialError(.malformedResponse, "\(endpoint) answered without expires_in", httpStatus: 200)
        }
        return Token(value: decoded.accessToken, expiresAt: expiresAt, issuedAt: now)
    }
}
