public import Foundation
import Synchronization
public import UpstreamCredentials

/// Google's IAM Credentials API on loopback (upstream-protocols.md §2b, §2e):
/// `POST /v1/projects/-/serviceAccounts/{EMAIL}:generateAccessToken|generateIdToken`.
///
/// - `Authorization: Bearer` must be a live token from the fake STS (or one added with ``allowBearer(_:principal:)``),
///   else 401 `UNAUTHENTICATED`;
/// - the `-` project wildcard is required; unknown JSON fields are rejected (400 `INVALID_ARGUMENT`);
/// - the caller's principal needs a binding on the service account (and each delegate on the next one in the
///   chain), else 403 `PERMISSION_DENIED` with the exact message and `ErrorInfo` detail;
/// - `scope` non-empty and Google scopes, `lifetime` matching `^\d+(\.\d+)?s$` and at most ``maximumLifetime``,
///   delegates in `projects/-/serviceAccounts/…` form, else 400 `INVALID_ARGUMENT` "Request contains an invalid
///   argument.";
/// - `generateAccessToken` → `{"accessToken":"ya29.…","expireTime":"<RFC 3339>"}`;
///   `generateIdToken` → `{"token":<RS256 JWT>}` signed by a "Google" key served at ``certsURL``, with
///   `iss https://accounts.google.com`, `aud`, `azp` = `sub` = the account's unique ID, `email`/`email_verified` iff
///   `includeEmail`, `exp = iat + 3600`.
public final class FakeIAMCredentials: Sendable {
    /// A service account and who may mint its tokens.
    public struct ServiceAccount: Sendable, Hashable {
        public var email: String
        /// The numeric unique ID, `sub` and `azp` of its ID tokens.
        public var uniqueID: String
        /// Members with `roles/iam.workloadIdentityUser` or `roles/iam.serviceAccountTokenCreator` on it:
        /// `principal://…/subject/S` for federated identities, `serviceAccount:EMAIL` for delegation.
        public var tokenCreators: Set<String>

        public init(email: String, uniqueID: String = String(UInt64.random(in: 100_000_000_000_000_000...999_999_999_999_999_999)), tokenCreators: Set<String> = []) {
            self.email = email
            self.uniqueID = uniqueID
            self.tokenCreators = tokenCreators
        }
    }

    /// An access token the fake issued.
    public struct IssuedAccessToken: Sendable, Hashable {
        public var serviceAccount: String
        public var scopes: [String]
        public var expiresAt: Date
    }

    private struct State {
        var accounts: [String: ServiceAccount] = [:]
        var staticBearers: [String: String] = [:]
        var maximumLifetime: Duration = .seconds(3600)
        var issued: [String: IssuedAccessToken] = [:]
    }

    public static let googleIssuer = "https://accounts.google.com"

    public let core = FakeServiceCore()
    /// The key "Google" signs ID tokens with; its JWKS is at ``certsURL``.
    public let googleKey: FakeRSAIssuerKey
    private let state = Mutex(State())
    private let clock: any CredentialClock
    private let sts: FakeGoogleSTS?
    private let serverBox = Mutex<FakeHTTPServer?>(nil)

    private init(clock: any CredentialClock, sts: FakeGoogleSTS?) throws {
        self.clock = clock
        self.sts = sts
        self.googleKey = FakeRSAIssuerKey.shared
    }

    /// Starts the fake.
    ///
    /// - Parameters:
    ///   - sts: Whose federated tokens are accepted as bearers.
    ///   - clock: For token expiry.
    public static func start(sts: FakeGoogleSTS?, clock: any CredentialClock = SystemCredentialClock()) async throws -> FakeIAMCredentials {
        let iam = try FakeIAMCredentials(clock: clock, sts: sts)
        let server = try await FakeHTTPServer.start(now: { clock.now() }) { [iam] request in
            await iam.core.handle(request, failureBody: { Self.envelope($0, "Internal error encountered.", "INTERNAL") }) { request in
                iam.answer(request)
            }
        }
        iam.serverBox.withLock { $0 = server }
        return iam
    }

    /// `http://127.0.0.1:<port>`: the `endpoints.iamCredentials` base URL.
    public var baseURL: String { serverBox.withLock { $0?.baseURL } ?? "" }
    /// Where the ID tokens' JWKS is served (Google's is `https://www.googleapis.com/oauth2/v3/certs`).
    public var certsURL: String { baseURL + "/oauth2/v3/certs" }

    public func addServiceAccount(_ account: ServiceAccount) { state.withLock { $0.accounts[account.email] = account } }

    /// Accepts `token` as a bearer for `principal` (a static test token instead of one from STS).
    public func allowBearer(_ token: String, principal: String) { state.withLock { $0.staticBearers[token] = principal } }

    /// The longest `lifetime` accepted: 1 hour, or 12 hours with the lifetime-extension organization policy.
    public func setMaximumLifetime(_ lifetime: Duration) { state.withLock { $0.maximumLifetime = lifetime } }

    /// The access tokens issued so far.
    public var issuedAccessTokens: [String: IssuedAccessToken] { state.withLock { $0.issued } }

    public func stop() async { await serverBox.withLock { $0 }?.stop() }

    // MARK: The service

    static func envelope(_ code: Int, _ message: String, _ status: String, details: [[String: Any]]? = nil) -> FakeHTTPResponse {
        var error: [String: Any] = ["code": code, "message": message, "status": status]
        if let details { error["details"] = details }
        return .json(code, object: ["error": error])
    }

    static let unauthenticated = envelope(
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        "UNAUTHENTICATED"
    )

    static let invalidArgument = envelope(400, "Request contains an invalid argument.", "INVALID_ARGUMENT")

    static func permissionDenied(_ permission: String) -> FakeHTTPResponse {
        envelope(
            403,
            "Permission '\(permission)' denied on resource (or it may not exist).",
            "PERMISSION_DENIED",
            details: [[
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "IAM_PERMISSION_DENIED",
                "domain": "iam.googleapis.com", "metadata": ["permission": permission],
            ]]
        )
    }

    func answer(_ request: FakeHTTPRequest) -> FakeHTTPResponse {
        if request.method == "GET" && request.path == "/oauth2/v3/certs" {
            return .json(200, googleKey.jwksJSON)
        }
        let prefix = "/v1/projects/-/serviceAccounts/"
        guard request.path.hasPrefix(prefix), let colon = request.path.lastIndex(of: ":") else {
            if request.path.hasPrefix("/v1/projects/") {
                // A project ID instead of the `-` wildcard.
                return Self.invalidArgument
            }
            return Self.envelope(404, "Requested entity was not found.", "NOT_FOUND")
        }
        let email = String(request.path[request.path.index(request.path.startIndex, offsetBy: prefix.count)..<colon])
            .removingPercentEncoding ?? ""
        let method = String(request.path[request.path.index(after: colon)...])
        guard request.method == "POST", ["generateAccessToken", "generateIdToken"].contains(method), !email.contains("/") else {
            return Self.envelope(404, "Requested entity was not found.", "NOT_FOUND")
        }
        // Authentication.
        guard let authorization = request.header("Authorization"), authorization.hasPrefix("Bearer ") else {
            return Self.unauthenticated
        }
        let bearer = String(authorization.dropFirst("Bearer ".count))
        let principal: String
        if let issued = sts?.issuedToken(bearer) {
            principal = issued.principal
        } else if let staticPrincipal = state.withLock({ $0.staticBearers[bearer] }) {
            principal = staticPrincipal
        } else {
            return Self.unauthenticated
        }
        guard let body = request.jsonObject else { return Self.invalidArgument }
        let allowedFields: Set<String> =
            method == "generateAccessToken" ? ["scope", "lifetime", "delegates"] : ["audience", "includeEmail", "delegates"]
        if let unknown = body.keys.sorted().first(where: { !allowedFields.contains($0) }) {
            return Self.envelope(
                400,
                "Invalid JSON payload received. Unknown name \"\(unknown)\": Cannot find field.",
                "INVALID_ARGUMENT"
            )
        }
        // Delegates: projects/-/serviceAccounts/EMAIL each.
        var chain: [String] = []
        if let delegates = body["delegates"] {
            guard let list = delegates as? [String] else { return Self.invalidArgument }
            let delegatePrefix = "projects/-/serviceAccounts/"
            for delegate in list {
                let email = delegate.dropFirst(delegatePrefix.count)
                guard delegate.hasPrefix(delegatePrefix), !email.isEmpty, !email.contains("/") else {
                    return Self.invalidArgument
                }
                chain.append(String(email))
            }
        }
        chain.append(email)
        // Authorization along the chain.
        let permission =
            method == "generateAccessToken" ? "iam.serviceAccounts.getAccessToken" : "iam.serviceAccounts.getOpenIdToken"
        let (accounts, maximumLifetime) = state.withLock { ($0.accounts, $0.maximumLifetime) }
        var caller = principal
        for link in chain {
            guard let account = accounts[link], account.tokenCreators.contains(caller) else {
                return Self.permissionDenied(permission)
            }
            caller = "serviceAccount:\(link)"
        }
        let account = accounts[email]!
        let now = clock.now()
        if method == "generateAccessToken" {
            guard let scopes = body["scope"] as? [String], !scopes.isEmpty,
                scopes.allSatisfy({ $0.hasPrefix("https://www.googleapis.com/auth/") || ["openid", "email", "profile"].contains($0) })
            else { return Self.invalidArgument }
            var lifetime: TimeInterval = 3600
            if let text = body["lifetime"] {
                guard let text = text as? String, let seconds = Self.parseDuration(text), seconds > 0,
                    seconds <= maximumLifetime.seconds
                else { return Self.invalidArgument }
                lifetime = seconds
            }
            let token = FakeRandom.token(prefix: "ya29.fake-")
            let expiresAt = now.addingTimeInterval(lifetime)
            state.withLock { $0.issued[token] = IssuedAccessToken(serviceAccount: email, scopes: scopes, expiresAt: expiresAt) }
            return .json(200, object: ["accessToken": token, "expireTime": Self.rfc3339(expiresAt)])
        } else {
            guard let audience = body["audience"] as? String, !audience.isEmpty else { return Self.invalidArgument }
            let includeEmail = (body["includeEmail"] as? Bool) ?? false
            let iat = Int(now.timeIntervalSince1970)
            var claims: [String: Any] = [
                "iss": Self.googleIssuer, "aud": audience, "azp": account.uniqueID, "sub": account.uniqueID,
                "iat": iat, "exp": iat + 3600,
            ]
            if includeEmail {
                claims["email"] = account.email
                claims["email_verified"] = true
            }
            return .json(200, object: ["token": googleKey.sign(claims)])
        }
    }

    /// Parses `^\d+(\.\d+)?s$`.
    static func parseDuration(_ text: String) -> TimeInterval? {
        guard text.hasSuffix("s") else { return nil }
        let number = text.dropLast()
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return nil }
        return TimeInterval(number)
    }

    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}

extension Duration {
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
