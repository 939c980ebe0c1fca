public import AsyncHTTPClient
public import Foundation
import Synchronization
public import UpstreamCredentials

/// Google's Security Token Service (`POST /v1/token`, RFC 8693) on loopback, verifying what the real one verifies
/// (upstream-protocols.md §2a, §2e):
///
/// - form (snake_case) or JSON (camelCase) bodies; an `Authorization` header is rejected (knob);
/// - `grant_type`, `requested_token_type`, `subject_token_type` exact; `audience` the full provider resource name
///   (else the exact `invalid_request` text), a known enabled provider (else the exact `invalid_target` text);
/// - the subject JWT: `kid` present, `alg` RS256 or ES256, `iss` the provider's issuer, discovery and JWKS fetched
///   over HTTP from the issuer (else `invalid_grant` "Error connecting to the given credential's issuer."), the
///   signature (jwt-kit), `iat` in the past, `exp` in the future and under 48 h after `iat`, `aud` in the allowed
///   audiences or the provider name with or without `https:`, `sub` present, the mapped `google.subject` ≤ 127
///   bytes, and the attribute condition (a predicate instead of CEL);
/// - success: `{"access_token":"sts.…","issued_token_type":"…:access_token","token_type":"Bearer","expires_in":3600}`.
///
/// Error texts not quoted in the reference are marked `[fake]` in the message so they are not mistaken for Google's.
public final class FakeGoogleSTS: Sendable {
    /// A workload identity pool provider.
    public struct Provider: Sendable {
        /// `oidc.issuerUri`; must equal the subject token's `iss` byte for byte.
        public var issuerURI: String
        /// `oidc.allowedAudiences`; empty: the provider's own name, with or without `https:`.
        public var allowedAudiences: [String]
        public var disabled: Bool
        /// The claim `google.subject` maps from (`assertion.sub`).
        public var subjectClaim: String
        /// The attribute condition over the token's string claims; `nil` accepts all.
        public var condition: (@Sendable ([String: String]) -> Bool)?

        public init(
            issuerURI: String,
            allowedAudiences: [String] = [],
            disabled: Bool = false,
            subjectClaim: String = "sub",
            condition: (@Sendable ([String: String]) -> Bool)? = nil
        ) {
            self.issuerURI = issuerURI
            self.allowedAudiences = allowedAudiences
            self.disabled = disabled
            self.subjectClaim = subjectClaim
            self.condition = condition
        }
    }

    /// Who a federated token was issued to.
    public struct IssuedToken: Sendable, Hashable {
        /// `principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/subject/S`.
        public var principal: String
        public var expiresAt: Date
        public var scopes: [String]
    }

    private struct State {
        var providers: [String: Provider] = [:]
        var issued: [String: IssuedToken] = [:]
        var expiresIn = 3600
        var rejectAuthorizationHeader = true
    }

    public static let invalidAudienceMessage =
        #"Invalid value for "audience". This value should be the full resource name of the Identity Provider. See https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token for the list of possible formats."#
    public static let invalidTargetMessage =
        #"The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist."#
    public static let issuerUnreachableMessage = "Error connecting to the given credential's issuer."
    public static let conditionRejectedMessage = "The given credential is rejected by the attribute condition."

    public let core = FakeServiceCore()
    private let state = Mutex(State())
    private let clock: any CredentialClock
    private let keys: IssuerKeyFetcher
    private let serverBox = Mutex<FakeHTTPServer?>(nil)

    private init(clock: any CredentialClock, httpClient: HTTPClient) {
        self.clock = clock
        self.keys = IssuerKeyFetcher(httpClient: httpClient)
    }

    /// Starts the fake.
    ///
    /// - Parameters:
    ///   - clock: Its notion of now for `iat`/`exp` and token expiry.
    ///   - httpClient: For fetching issuers' discovery documents and JWKS.
    public static func start(
        clock: any CredentialClock = SystemCredentialClock(),
        httpClient: HTTPClient = .shared
    ) async throws -> FakeGoogleSTS {
        let sts = FakeGoogleSTS(clock: clock, httpClient: httpClient)
        let server = try await FakeHTTPServer.start(now: { clock.now() }) { [sts] request in
            await sts.core.handle(request, failureBody: Self.internalError) { request in await sts.answer(request) }
        }
        sts.serverBox.withLock { $0 = server }
        return sts
    }

    static func internalError(_ status: Int) -> FakeHTTPResponse {
        .json(status, #"{"error":"server_error","error_description":"Internal error encountered."}"#)
    }

    /// `http://127.0.0.1:<port>/v1/token`.
    public var tokenURL: String { (serverBox.withLock { $0?.baseURL } ?? "") + "/v1/token" }

    /// Adds or replaces a provider by its full resource name (`//iam.googleapis.com/projects/…/providers/P`).
    public func setProvider(_ name: String, _ provider: Provider) { state.withLock { $0.providers[name] = provider } }

    /// The `expires_in` of issued tokens (3600 by default).
    public func setExpiresIn(_ seconds: Int) { state.withLock { $0.expiresIn = seconds } }

    /// Whether a request with an `Authorization` header fails (true by default, as the documentation warns).
    public func setRejectAuthorizationHeader(_ reject: Bool) { state.withLock { $0.rejectAuthorizationHeader = reject } }

    /// Who `token` was issued to, if it is one of ours and has not expired by the fake's clock.
    public func issuedToken(_ token: String) -> IssuedToken? {
        let now = clock.now()
        return state.withLock { state in
            guard let issued = state.issued[token], now < issued.expiresAt else { return nil }
            return issued
        }
    }

    /// Every token issued so far.
    public var issuedTokens: [String: IssuedToken] { state.withLock { $0.issued } }

    public func stop() async { await serverBox.withLock { $0 }?.stop() }

    // MARK: The service

    private static func error(_ code: String, _ description: String) -> FakeHTTPResponse {
        .json(400, object: ["error": code, "error_description": description])
    }

    /// The request's parameters, from a form (snake_case) or JSON (camelCase) body.
    static func parameters(of request: FakeHTTPRequest) -> [String: String]? {
        let contentType = request.header("Content-Type")?.lowercased() ?? ""
        if contentType.hasPrefix("application/json") {
            guard let object = request.jsonObject else { return nil }
            let names = [
                "grantType": "grant_type", "requestedTokenType": "requested_token_type", "subjectToken": "subject_token",
                "subjectTokenType": "subject_token_type", "audience": "audience", "scope": "scope", "options": "options",
            ]
            var result: [String: String] = [:]
            for (key, value) in object {
                guard let value = value as? String else { continue }
                result[names[key] ?? key] = value
            }
            return result
        }
        if contentType.hasPrefix("application/x-www-form-urlencoded") { return request.form }
        return nil
    }

    func answer(_ request: FakeHTTPRequest) async -> FakeHTTPResponse {
        guard request.method == "POST", request.path == "/v1/token" else { return .text(404, "Not Found") }
        let (rejectAuthorization, expiresIn) = state.withLock { ($0.rejectAuthorizationHeader, $0.expiresIn) }
        if rejectAuthorization, request.header("Authorization") != nil {
            return .json(
                401,
                #"{"error":"invalid_client","error_description":"[fake] STS token requests must not carry an Authorization header."}"#
            )
        }
        guard let parameters = Self.parameters(of: request) else {
            return Self.error("invalid_request", "[fake] The request body must be application/x-www-form-urlencoded or application/json.")
        }
        guard parameters["grant_type"] == GCPWorkloadIdentityProvider.tokenExchangeGrantType else {
            return Self.error("invalid_request", #"Invalid value for "grant_type"."#)
        }
        guard parameters["requested_token_type"] == GCPWorkloadIdentityProvider.accessTokenType else {
            return Self.error("invalid_request", #"Invalid value for "requested_token_type"."#)
        }
        let subjectTokenType = parameters["subject_token_type"] ?? ""
        guard ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token"].contains(subjectTokenType) else {
            return Self.error("invalid_request", #"Invalid value for "subject_token_type"."#)
        }
        guard let subjectToken = parameters["subject_token"], !subjectToken.isEmpty else {
            return Self.error("invalid_request", #"Invalid value for "subject_token"."#)
        }
        let audience = parameters["audience"] ?? ""
        guard let poolPath = Self.poolPath(ofProviderName: audience) else {
            return Self.error("invalid_request", Self.invalidAudienceMessage)
        }
        guard let provider = state.withLock({ $0.providers[audience] }), !provider.disabled else {
            return Self.error("invalid_target", Self.invalidTargetMessage)
        }
        let scopes = (parameters["scope"] ?? "").split(separator: " ").map(String.init)
        guard !scopes.isEmpty else {
            return Self.error("invalid_request", #"Invalid value for "scope"."#)
        }

        // The subject token.
        guard let jwt = UnverifiedJWT(subjectToken) else {
            return Self.error("invalid_grant", "[fake] Unable to parse the ID Token.")
        }
        guard let alg = jwt.alg, ["RS256", "ES256"].contains(alg) else {
            return Self.error("invalid_grant", "[fake] The ID Token is signed with an unsupported algorithm \(jwt.alg ?? "none"); only RS256 and ES256 are accepted.")
        }
        guard jwt.kid != nil else {
            return Self.error("invalid_grant", "[fake] The ID Token header has no kid.")
        }
        guard let iss = jwt.iss, iss == provider.issuerURI else {
            return Self.error("invalid_grant", "[fake] The issuer in ID Token \(jwt.iss ?? "(none)") does not match the expected ones: \(provider.issuerURI).")
        }
        let jwks: String
        do {
            jwks = try await keys.jwksJSON(issuer: iss)
        } catch {
            return Self.error("invalid_grant", Self.issuerUnreachableMessage)
        }
        do {
            try await IssuerKeyFetcher.verifySignature(subjectToken, jwksJSON: jwks)
        } catch {
            return Self.error("invalid_grant", "[fake] Invalid ID Token signature.")
        }
        let now = clock.now()
        guard let iat = jwt.iat, let exp = jwt.exp else {
            return Self.error("invalid_grant", "[fake] The ID Token must have iat and exp claims.")
        }
        guard iat <= now else { return Self.error("invalid_grant", "[fake] The ID Token's iat is in the future.") }
        guard now < exp else { return Self.error("invalid_grant", "[fake] The ID Token has expired.") }
        guard exp.timeIntervalSince(iat) < 48 * 3600 else {
            return Self.error("invalid_grant", "[fake] The ID Token's lifetime (exp - iat) must be less than 48 hours.")
        }
        let acceptable =
            provider.allowedAudiences.isEmpty
            ? [audience, "https:" + audience] : provider.allowedAudiences
        guard jwt.aud.contains(where: acceptable.contains) else {
            return Self.error("invalid_grant", "[fake] The audience in ID Token \(jwt.aud) does not match the expected audience.")
        }
        guard jwt.sub?.isEmpty == false else { return Self.error("invalid_grant", "[fake] The ID Token has no sub claim.") }
        guard let subject = jwt.stringClaims[provider.subjectClaim], !subject.isEmpty else {
            return Self.error("invalid_grant", "[fake] The mapped google.subject is empty.")
        }
        guard subject.utf8.count <= 127 else {
            return Self.error("invalid_grant", "[fake] The mapped google.subject is longer than 127 bytes.")
        }
        if let condition = provider.condition, !condition(jwt.stringClaims) {
            return Self.error("unauthorized_client", Self.conditionRejectedMessage)
        }

        let token = FakeRandom.token(prefix: "sts.")
        let issued = IssuedToken(
            principal: "principal://iam.googleapis.com/\(poolPath)/subject/\(subject)",
            expiresAt: now.addingTimeInterval(TimeInterval(expiresIn)),
            scopes: scopes
        )
        state.withLock { $0.issued[token] = issued }
        return .json(
            200,
            object: [
                "access_token": token, "issued_token_type": GCPWorkloadIdentityProvider.accessTokenType,
                "token_type": "Bearer", "expires_in": expiresIn,
            ]
        )
    }

    /// `projects/N/locations/global/workloadIdentityPools/P` of a full provider name, or `nil` if `name` is not one.
    static func poolPath(ofProviderName name: String) -> String? {
        guard let normalized = GCPWorkloadIdentityConfiguration.normalizedProvider(name), normalized == name else {
            return nil
        }
        let parts = name.dropFirst("//iam.googleapis.com/".count).split(separator: "/")
        return parts[0..<6].joined(separator: "/")
    }
}
