public import AsyncHTTPClient
public import Foundation
import Synchronization
public import UpstreamCredentials

/// Microsoft Entra ID's v2.0 token endpoint on loopback (upstream-protocols.md §2c, §2e):
/// `POST /{tenant}/oauth2/v2.0/token`, `GET /{tenant}/v2.0/.well-known/openid-configuration`,
/// `GET /{tenant}/discovery/v2.0/keys`.
///
/// Checks, in order, each answering Entra's error shape (`error`, `error_description` with `AADSTSnnn: …\r\nTrace
/// ID: …\r\nCorrelation ID: …\r\nTimestamp: …`, `error_codes`, `timestamp`, `trace_id`, `correlation_id`,
/// `error_uri`):
///
/// | check | AADSTS | error (HTTP) |
/// |---|---|---|
/// | tenant exists (GUID or domain) | 90002 | invalid_request (400) |
/// | `grant_type`, `client_id`, `scope` present | 900144 | invalid_request (400) |
/// | `grant_type` is `client_credentials` | 70003 [fake] | unsupported_grant_type (400) |
/// | app exists in the tenant | 700016 | unauthorized_client (400) |
/// | one scope, ending `/.default` | 70011 / 1002012 | invalid_scope (400) |
/// | the resource exists | 500011 | invalid_resource (400) |
/// | a secret or an assertion is present | 7000218 | invalid_client (400) |
/// | secret valid / not expired | 7000215 (401) / 7000222 | invalid_client |
/// | assertion is a JWT | 50027 | invalid_request (400) |
/// | propagation knob: the first N federated requests | 70021 | invalid_client (400) |
/// | FIC: issuer exact / subject exact, case-sensitive / audience | 70021, 700211, 700213, 7002138, 700212 | invalid_client |
/// | `alg` RS256 and `kid` present | 700027 [fake text] | invalid_client |
/// | issuer discovery + JWKS fetched over HTTP | 50166 [fake text] | invalid_client |
/// | signature (jwt-kit) | 700027 | invalid_client |
/// | `nbf`/`exp` within ±5 min skew | 700024 | invalid_client |
/// | `jti` not seen before | 700027 [fake text] | invalid_client |
///
/// Success: `{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":<v2 JWT>}` signed by the
/// fake's key (`iss` `<base>/<tid>/v2.0`, `aud` the resource, `azp`, `tid`, `roles`, `idtyp: app`).
public final class FakeEntraID: Sendable {
    public struct Secret: Sendable, Hashable {
        public var value: String
        public var expiresAt: Date?
        public init(value: String, expiresAt: Date? = nil) {
            self.value = value
            self.expiresAt = expiresAt
        }
    }

    /// A federated identity credential.
    public struct FederatedCredential: Sendable, Hashable {
        public var issuer: String
        public var subject: String
        public var audiences: [String]
        public init(issuer: String, subject: String, audiences: [String] = ["api://AzureADTokenExchange"]) {
            self.issuer = issuer
            self.subject = subject
            self.audiences = audiences
        }
    }

    /// An app registration (the client).
    public struct Application: Sendable, Hashable {
        public var clientID: String
        public var secrets: [Secret]
        public var federatedCredentials: [FederatedCredential]
        /// App roles granted to it on resources, copied into `roles`.
        public var roles: [String]
        public init(clientID: String, secrets: [Secret] = [], federatedCredentials: [FederatedCredential] = [], roles: [String] = []) {
            self.clientID = clientID
            self.secrets = secrets
            self.federatedCredentials = federatedCredentials
            self.roles = roles
        }
    }

    private struct Tenant {
        var id: String
        var domains: Set<String>
        var applications: [String: Application] = [:]
        /// App ID URIs (`api://…`, `https://graph.microsoft.com`) → the resource app's ID.
        var resources: [String: String] = [:]
    }

    private struct State {
        var tenants: [String: Tenant] = [:]
        var propagationRemaining = 0
        var expiresIn = 3599
        var seenJTIs: [String: Date] = [:]
    }

    public static let clockSkew: TimeInterval = 300

    public let core = FakeServiceCore()
    /// The key access tokens are signed with, served at `/{tenant}/discovery/v2.0/keys`.
    public let tokenKey: FakeRSAIssuerKey
    private let state = Mutex(State())
    private let clock: any CredentialClock
    private let keys: IssuerKeyFetcher
    private let serverBox = Mutex<FakeHTTPServer?>(nil)

    private init(clock: any CredentialClock, httpClient: HTTPClient) throws {
        self.clock = clock
        self.keys = IssuerKeyFetcher(httpClient: httpClient)
        self.tokenKey = FakeRSAIssuerKey.shared
    }

    public static func start(
        clock: any CredentialClock = SystemCredentialClock(),
        httpClient: HTTPClient = .shared
    ) async throws -> FakeEntraID {
        let entra = try FakeEntraID(clock: clock, httpClient: httpClient)
        let server = try await FakeHTTPServer.start(now: { clock.now() }) { [entra] request in
            await entra.core.handle(
                request,
                failureBody: { status in
                    entra.error(status, "temporarily_unavailable", 50000, "There was an error issuing a token or an issue with our sign-in service.")
                },
                logic: { request in await entra.answer(request) }
            )
        }
        entra.serverBox.withLock { $0 = server }
        return entra
    }

    /// `http://127.0.0.1:<port>`: the `authorityHost`.
    public var authorityHost: String { serverBox.withLock { $0?.baseURL } ?? "" }

    /// Adds a tenant by ID (a GUID) with optional verified domains.
    public func addTenant(_ id: String, domains: [String] = []) {
        state.withLock { $0.tenants[id] = Tenant(id: id, domains: Set(domains.map { $0.lowercased() })) }
    }

    /// Adds or replaces an app registration.
    public func setApplication(_ application: Application, tenant: String) {
        state.withLock { $0.tenants[tenant]?.applications[application.clientID] = application }
    }

    /// Registers a resource by App ID URI.
    public func addResource(_ appIDURI: String, appID: String? = nil, tenant: String) {
        let appID = appID ?? FakeRandom.uuid()
        state.withLock { $0.tenants[tenant]?.resources[appIDURI] = appID }
    }

    /// The next `count` requests with a federated assertion fail with AADSTS70021, as while a new federated
    /// credential propagates.
    public func setPropagationDelay(requests count: Int) { state.withLock { $0.propagationRemaining = count } }

    /// `expires_in` of issued tokens (3599 by default).
    public func setExpiresIn(_ seconds: Int) { state.withLock { $0.expiresIn = seconds } }

    public func stop() async { await serverBox.withLock { $0 }?.stop() }

    // MARK: The service

    private static let timestampFormatter: @Sendable (Date) -> String = { date in
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return formatter.string(from: date)
    }

    /// An Entra error response.
    func error(_ status: Int, _ error: String, _ code: Int, _ text: String) -> FakeHTTPResponse {
        let trace = FakeRandom.uuid()
        let correlation = FakeRandom.uuid()
        let timestamp = Self.timestampFormatter(clock.now())
        let description =
            "AADSTS\(code): \(text)\r\nTrace ID: \(trace)\r\nCorrelation ID: \(correlation)\r\nTimestamp: \(timestamp)"
        return .json(
            status,
            object: [
                "error": error, "error_description": description, "error_codes": [code], "timestamp": timestamp,
                "trace_id": trace, "correlation_id": correlation,
                "error_uri": "\(authorityHost)/error?code=\(code)",
            ]
        )
    }

    func answer(_ request: FakeHTTPRequest) async -> FakeHTTPResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        guard let tenantName = segments.first else { return .text(404, "not found") }
        guard let tenant = lookUpTenant(tenantName) else {
            return error(
                400,
                "invalid_request",
                90002,
                "Tenant '\(tenantName)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            )
        }
        let rest = segments.dropFirst().joined(separator: "/")
        let issuer = "\(authorityHost)/\(tenant.id)/v2.0"
        switch (request.method, rest) {
        case ("GET", "v2.0/.well-known/openid-configuration"):
            return .json(
                200,
                object: [
                    "issuer": issuer, "token_endpoint": "\(authorityHost)/\(tenant.id)/oauth2/v2.0/token",
                    "jwks_uri": "\(authorityHost)/\(tenant.id)/discovery/v2.0/keys",
                    "id_token_signing_alg_values_supported": ["RS256"], "response_types_supported": ["code", "id_token"],
                    "subject_types_supported": ["pairwise"], "tenant_region_scope": "EU",
                ]
            )
        case ("GET", "discovery/v2.0/keys"):
            return .json(200, tokenKey.jwksJSON)
        case ("POST", "oauth2/v2.0/token"):
            return await token(request, tenant: tenant, issuer: issuer)
        default:
            return .text(404, "not found")
        }
    }

    private func lookUpTenant(_ name: String) -> Tenant? {
        state.withLock { state in
            state.tenants[name] ?? state.tenants.values.first { $0.domains.contains(name.lowercased()) }
        }
    }

    private func missing(_ name: String) -> FakeHTTPResponse {
        error(400, "invalid_request", 900144, "The request body must contain the following parameter: '\(name)'.")
    }

    private func token(_ request: FakeHTTPRequest, tenant: Tenant, issuer: String) async -> FakeHTTPResponse {
        var form = request.form
        // client_secret_basic is accepted too.
        if let authorization = request.header("Authorization"), authorization.hasPrefix("Basic "),
            let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
            let colon = decoded.firstIndex(of: ":")
        {
            form["client_id"] = form["client_id"] ?? FakeHTTPRequest.formDecode(decoded[..<colon])
            form["client_secret"] = FakeHTTPRequest.formDecode(decoded[decoded.index(after: colon)...])
        }
        guard let grantType = form["grant_type"] else { return missing("grant_type") }
        guard grantType == "client_credentials" else {
            return error(400, "unsupported_grant_type", 70003, "[fake] The app requested an unsupported grant type '\(grantType)'.")
        }
        guard let clientID = form["client_id"] else { return missing("client_id") }
        guard let application = tenant.applications[clientID] else {
            return error(
                400,
                "unauthorized_client",
                700016,
                "Application with identifier '\(clientID)' was not found in the directory '\(tenant.id)'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            )
        }
        guard let scope = form["scope"] else { return missing("scope") }
        let scopes = scope.split(separator: " ")
        guard scopes.count == 1 else {
            return error(400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope \(scope) is not valid.")
        }
        guard scope.hasSuffix("/.default") else {
            return error(
                400,
                "invalid_scope",
                1_002_012,
                "The provided value for scope \(scope) is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            )
        }
        let resourceURI = String(scope.dropLast("/.default".count))
        guard let resourceAppID = tenant.resources[resourceURI] else {
            return error(
                400,
                "invalid_resource",
                500011,
                "The resource principal named \(resourceURI) was not found in the tenant named \(tenant.id). This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            )
        }
        let now = clock.now()
        let authenticationMethod: String
        if let secret = form["client_secret"] {
            guard let match = application.secrets.first(where: { $0.value == secret }) else {
                return error(
                    401,
                    "invalid_client",
                    7_000_215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(clientID)'."
                )
            }
            if let expiresAt = match.expiresAt, expiresAt <= now {
                return error(
                    400,
                    "invalid_client",
                    7_000_222,
                    "The provided client secret keys for app '\(clientID)' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
                )
            }
            authenticationMethod = "1"
        } else if let assertion = form["client_assertion"] {
            guard form["client_assertion_type"] == EntraIDProvider.clientAssertionType else {
                return missing("client_assertion_type")
            }
            if let failure = await verifyFederatedAssertion(assertion, application: application, now: now) { return failure }
            authenticationMethod = "2"
        } else {
            return error(400, "invalid_client", 7_000_218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        }

        let expiresIn = state.withLock { $0.expiresIn }
        let iat = Int(now.timeIntervalSince1970)
        let objectID = Self.stableUUID(clientID + tenant.id)
        let claims: [String: Any] = [
            "aud": resourceAppID, "iss": issuer, "iat": iat, "nbf": iat, "exp": iat + expiresIn, "azp": clientID,
            "azpacr": authenticationMethod, "idtyp": "app", "oid": objectID, "sub": objectID, "tid": tenant.id,
            "roles": application.roles, "ver": "2.0", "uti": FakeRandom.token(prefix: "", bytes: 22),
        ]
        return .json(
            200,
            object: [
                "token_type": "Bearer", "expires_in": expiresIn, "ext_expires_in": expiresIn,
                "access_token": tokenKey.sign(claims),
            ]
        )
    }

    /// Entra's checks of a federated client assertion; `nil` when it passes.
    private func verifyFederatedAssertion(_ assertion: String, application: Application, now: Date) async -> FakeHTTPResponse? {
        guard let jwt = UnverifiedJWT(assertion), let iss = jwt.iss else {
            return error(400, "invalid_request", 50027, "JWT token is invalid or malformed.")
        }
        let propagating = state.withLock { state -> Bool in
            guard state.propagationRemaining > 0 else { return false }
            state.propagationRemaining -= 1
            return true
        }
        let sub = jwt.sub ?? ""
        let audience = jwt.aud.first ?? ""
        let noMatch = error(
            400,
            "invalid_client",
            70021,
            "No matching federated identity record found for presented assertion. Assertion Issuer: '\(iss)'. Assertion Subject: '\(sub)'. Assertion Audience: '\(audience)'. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
        )
        if propagating { return noMatch }
        let credentials = application.federatedCredentials
        let sameIssuer = credentials.filter { $0.issuer == iss }
        guard !sameIssuer.isEmpty else {
            if credentials.contains(where: { $0.subject == sub }) {
                return error(
                    400,
                    "invalid_client",
                    700211,
                    "No matching federated identity record found for presented assertion issuer '\(iss)'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
                )
            }
            return noMatch
        }
        guard let credential = sameIssuer.first(where: { $0.subject == sub }) else {
            if sameIssuer.contains(where: { $0.subject.lowercased() == sub.lowercased() }) {
                return error(
                    400,
                    "invalid_client",
                    7_002_138,
                    "[fake] The presented assertion subject '\(sub)' matches a federated identity credential subject only case-insensitively; subjects are case-sensitive."
                )
            }
            return error(
                400,
                "invalid_client",
                700213,
                "No matching federated identity record found for presented assertion subject '\(sub)'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            )
        }
        guard jwt.aud.contains(where: credential.audiences.contains) else {
            return error(
                400,
                "invalid_client",
                700212,
                "No matching federated identity record found for presented assertion audience '\(audience)'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation"
            )
        }
        guard jwt.alg == "RS256", jwt.kid != nil else {
            return error(
                401,
                "invalid_client",
                700027,
                "[fake] Client assertion failed signature validation: federated assertions must be RS256 with a kid header, not \(jwt.alg ?? "none")."
            )
        }
        let jwks: String
        do {
            jwks = try await keys.jwksJSON(issuer: iss)
        } catch {
            return self.error(401, "invalid_client", 50166, "[fake] Request to External OIDC endpoint failed.")
        }
        do {
            try await IssuerKeyFetcher.verifySignature(assertion, jwksJSON: jwks)
        } catch {
            return self.error(401, "invalid_client", 700027, "Client assertion failed signature validation.")
        }
        let notBefore = jwt.nbf ?? jwt.iat
        guard let exp = jwt.exp, let notBefore,
            notBefore.timeIntervalSince(now) <= Self.clockSkew, now.timeIntervalSince(exp) < Self.clockSkew
        else {
            let formatter = Self.timestampFormatter
            return error(
                401,
                "invalid_client",
                700024,
                "Client assertion is not within its valid time range. Current time: \(formatter(now)), assertion valid from \(notBefore.map(formatter) ?? "-"), expiry time of assertion \(jwt.exp.map(formatter) ?? "-"). Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."
            )
        }
        guard let jti = jwt.jti else {
            return error(401, "invalid_client", 700027, "[fake] The client assertion has no jti claim.")
        }
        let replayed = state.withLock { state -> Bool in
            state.seenJTIs = state.seenJTIs.filter { $0.value.timeIntervalSince(now) > -Self.clockSkew }
            if state.seenJTIs[jti] != nil { return true }
            state.seenJTIs[jti] = exp
            return false
        }
        if replayed {
            return error(401, "invalid_client", 700027, "[fake] The client assertion's jti was already used; assertions are single-use.")
        }
        return nil
    }

    static func stableUUID(_ seed: String) -> String {
        var hash: UInt64 = 1_469_598_103_934_665_603
        for byte in seed.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        let hex = String(hash, radix: 16).padding(toLength: 16, withPad: "0", startingAt: 0)
        let a = hex.prefix(8), b = hex.dropFirst(8).prefix(4), c = hex.dropFirst(12).prefix(4)
        return "\(a)-\(b)-\(c)-8000-\(hex.prefix(12))"
    }
}
