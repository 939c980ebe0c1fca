public import AsyncHTTPClient
public import Foundation
public import Logging
import PKI

/// Obtains Google tokens through workload identity federation.
///
/// 1. The subject token: a JWT minted now with the gateway's key (`iss` the installation issuer, `aud` the provider's
///    full resource name), or the projected service account token read from its file now.
/// 2. Google STS, RFC 8693, form-encoded, **no** `Authorization` header:
///    ```
///    POST /v1/token
///    audience=//iam.googleapis.com/projects/…/providers/P&grant_type=urn:ietf:params:oauth:grant-type:token-exchange
///    &requested_token_type=urn:ietf:params:oauth:token-type:access_token&scope=…
///    &subject_token=…&subject_token_type=urn:ietf:params:oauth:token-type:jwt
///    ```
///    → `{"access_token","issued_token_type","token_type":"Bearer","expires_in":3600}`. Without a service account,
///    this federated token is the result (scope: the configured scopes).
/// 3. With a service account (STS scope: cloud-platform), IAM Credentials with `Authorization: Bearer <STS token>`:
///    `POST /v1/projects/-/serviceAccounts/EMAIL:generateAccessToken`
///    `{"delegates":[…],"lifetime":"3600s","scope":[…]}` → `{"accessToken","expireTime"}`, or
///    `POST …:generateIdToken` `{"audience","delegates":[…],"includeEmail":…}` → `{"token"}` (expiry from its `exp`).
public struct GCPWorkloadIdentityProvider: TokenProvider {
    /// `urn:ietf:params:oauth:grant-type:token-exchange`.
    public static let tokenExchangeGrantType = "urn:ietf:params:oauth:grant-type:token-exchange"
    /// `urn:ietf:params:oauth:token-type:access_token`.
    public static let accessTokenType = "urn:ietf:params:oauth:token-type:access_token"

    public let configuration: GCPWorkloadIdentityConfiguration
    private let signing: SharedSigningContext
    private let client: TokenEndpointClient

    /// - Parameters:
    ///   - configuration: The provider, service account and token settings.
    ///   - signing: The gateway's signing keys, for a gateway-minted subject token.
    ///   - httpClient: The control plane's HTTP client.
    ///   - logger: For request logs of AsyncHTTPClient (no token material is logged).
    ///   - requestTimeout: AsyncHTTPClient's deadline per request; keep it under the cache's fetch timeout.
    public init(
        configuration: GCPWorkloadIdentityConfiguration,
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
        let subjectToken = try self.subjectToken(now: now)
        let federated = try await exchange(subjectToken: subjectToken, now: now)
        guard let serviceAccount = configuration.serviceAccount else { return federated }
        switch configuration.tokenType {
        case .accessToken:
            return try await generateAccessToken(serviceAccount: serviceAccount, bearer: federated.value, now: now)
        case .idToken:
            return try await generateIdToken(serviceAccount: serviceAccount, bearer: federated.value, now: now)
        }
    }

    /// The subject token for an exchange at `now`.
    func subjectToken(now: Date) throws -> String {
        switch configuration.subjectToken {
        case .gatewayJWT(let subject):
            return try signing.require().mint(
                subject: subject.subject,
                audience: subject.audience ?? configuration.provider,
                ttl: subject.ttl,
                algorithm: subject.algorithm,
                now: now
            ).token
        case .serviceAccountTokenFile(let path):
            let contents: String
            do {
                contents = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw CredentialError(
                    .subjectTokenUnavailable,
                    "cannot read the projected service account token at \(path): \((error as NSError).localizedFailureReason ?? "\(type(of: error))")"
                )
            }
            let token = contents.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else {
                throw CredentialError(.subjectTokenUnavailable, "the projected service account token at \(path) is empty")
            }
            return token
        }
    }

    /// The STS exchange.
    func exchange(subjectToken: String, now: Date) async throws -> Token {
        let scopes =
            configuration.serviceAccount == nil
            ? configuration.scopes : [GCPWorkloadIdentityConfiguration.cloudPlatformScope]
        let body = FormEncoding.encode([
            ("audience", configuration.provider),
            ("grant_type", Self.tokenExchangeGrantType),
            ("requested_token_type", Self.accessTokenType),
            ("scope", scopes.joined(separator: " ")),
            ("subject_token", subjectToken),
            ("subject_token_type", configuration.subjectTokenType),
        ])
        let url = configuration.endpoints.sts
        let secrets = Redaction.variants(of: subjectToken)
        let response = try await client.post(
            url: url,
            contentType: "application/x-www-form-urlencoded",
            body: body,
            redacting: secrets
        )
        guard response.status == 200 else {
            throw TokenServiceErrors.error(for: response, dialect: .oauth2, endpoint: url, redacting: secrets)
        }
        guard let token = WireJSON.decode(OAuth2TokenResponse.self, from: response.body), !token.accessToken.isEmpty
        else {
            throw CredentialError(.malformedResponse, "\(url) answered 200 without an access_token", httpStatus: 200)
        }
        guard let expiresIn = token.expiresIn else {
            throw CredentialError(.malformedResponse, "\(url) answered without expires_in", httpStatus: 200)
        }
        return Token(value: token.accessToken, expiresAt: now.addingTimeInterval(TimeInterval(expiresIn)), issuedAt: now)
    }

    /// `projects/-/serviceAccounts/EMAIL:generateAccessToken`.
    func generateAccessToken(serviceAccount: String, bearer: String, now: Date) async throws -> Token {
        struct Request: Encodable {
            var delegates: [String]?
            var lifetime: String
            var scope: [String]
        }
        let url = iamURL(serviceAccount: serviceAccount, method: "generateAccessToken")
        let request = Request(
            delegates: configuration.delegates.isEmpty ? nil : configuration.normalizedDelegates,
            lifetime: Self.durationString(configuration.lifetime),
            scope: configuration.scopes
        )
        let response = try await postIAM(url: url, body: request, bearer: bearer)
        guard let decoded = WireJSON.decode(GenerateAccessTokenResponse.self, from: response.body),
            !decoded.accessToken.isEmpty
        else {
            throw CredentialError(.malformedResponse, "\(url) answered 200 without accessToken and expireTime", httpStatus: 200)
        }
        guard let expiresAt = WireJSON.date(rfc3339: decoded.expireTime) else {
            throw CredentialError(.malformedResponse, "\(url) answered an expireTime that is not RFC 3339", httpStatus: 200)
        }
        return Token(value: decoded.accessToken, expiresAt: expiresAt, issuedAt: now)
    }

    /// `projects/-/serviceAccounts/EMAIL:generateIdToken`.
    func generateIdToken(serviceAccount: String, bearer: String, now: Date) async throws -> Token {
        struct Request: Encodable {
            var audience: String
            var delegates: [String]?
            var includeEmail: Bool
        }
        let url = iamURL(serviceAccount: serviceAccount, method: "generateIdToken")
        let request = Request(
            audience: configuration.idTokenAudience ?? "",
            delegates: configuration.delegates.isEmpty ? nil : configuration.normalizedDelegates,
            includeEmail: configuration.includeEmail
        )
        let response = try await postIAM(url: url, body: request, bearer: bearer)
        guard let decoded = WireJSON.decode(GenerateIdTokenResponse.self, from: response.body), !decoded.token.isEmpty
        else {
            throw CredentialError(.malformedResponse, "\(url) answered 200 without a token", httpStatus: 200)
        }
        // Google ID tokens last one hour; read the exact expiry from the token.
        let expiresAt = WireJSON.jwtExpiry(decoded.token) ?? now.addingTimeInterval(3600)
        return Token(value: decoded.token, expiresAt: expiresAt, issuedAt: now)
    }

    private func postIAM(url: String, body: some Encodable, bearer: String) async throws -> TokenEndpointResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: try encoder.encode(body), as: UTF8.self)
        let secrets = [bearer]
        let response = try await client.post(
            url: url,
            contentType: "application/json",
            headers: [("Authorization", "Bearer \(bearer)")],
            body: json,
            redacting: secrets
        )
        guard response.status == 200 else {
            throw TokenServiceErrors.error(for: response, dialect: .google, endpoint: url, redacting: secrets)
        }
        return response
    }

    /// `{iamCredentials}/v1/projects/-/serviceAccounts/EMAIL:method`.
    func iamURL(serviceAccount: String, method: String) -> String {
        var base = configuration.endpoints.iamCredentials
        while base.hasSuffix("/") { base.removeLast() }
        let name = GCPWorkloadIdentityConfiguration.serviceAccountResourceName(serviceAccount)
        return "\(base)/v1/\(name):\(method)"
    }

    /// A protobuf `Duration` in JSON: whole seconds as `"3600s"`, with up to nine fractional digits otherwise.
    static func durationString(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        guard attoseconds != 0 else { return "\(seconds)s" }
        var nanos = String(attoseconds / 1_000_000_000)
        while nanos.count < 9 { nanos = "0" + nanos }
        while nanos.hasSuffix("0") { nanos.removeLast() }
        return "\(seconds).\(nanos)s"
    }
}
