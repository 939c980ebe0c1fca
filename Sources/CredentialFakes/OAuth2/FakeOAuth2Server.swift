public import AsyncHTTPClient
public import Foundation
import Synchronization
public import UpstreamCredentials

/// A generic OAuth 2.0 authorization server's token endpoint on loopback, for the client credentials grant
/// (RFC 6749 §4.4, §2.3, §5; RFC 7523 §2.2, §3):
///
/// - `grant_type=client_credentials` (else `unsupported_grant_type`); exactly one client authentication method
///   (else `invalid_request`);
/// - client_secret_basic (`Authorization: Basic`, id and secret form-decoded), client_secret_post, or
///   private_key_jwt: `client_assertion_type` jwt-bearer, `iss` = `sub` = the client, `aud` the token URL or the
///   issuer, `exp` in the future, `iat` not in the future, `jti` present and single-use, `alg` in the allow-list,
///   `kid` present, the signature against the client's registered `jwks_uri` fetched over HTTP;
///   every failure `invalid_client` (401, with `WWW-Authenticate` for Basic);
/// - the method must be one the client is registered for; scopes within the client's allowed ones (else
///   `invalid_scope`);
/// - success `{"access_token":"oauth2.…","token_type":"Bearer","expires_in":3600,"scope":…}` (``setExpiresIn(_:)``
///   with `nil` omits `expires_in`).
public final class FakeOAuth2Server: Sendable {
    public enum AuthenticationMethod: String, Sendable, Hashable {
        case clientSecretBasic = "client_secret_basic"
        case clientSecretPost = "client_secret_post"
        case privateKeyJWT = "private_key_jwt"
    }

    public struct Client: Sendable, Hashable {
        public var clientID: String
        public var secret: String?
        public var methods: Set<AuthenticationMethod>
        /// For private_key_jwt: where the client's keys are (the gateway's JWKS).
        public var jwksURI: String?
        /// `nil`: any scope.
        public var allowedScopes: Set<String>?

        public init(
            clientID: String,
            secret: String? = nil,
            methods: Set<AuthenticationMethod>,
            jwksURI: String? = nil,
            allowedScopes: Set<String>? = nil
        ) {
            self.clientID = clientID
            self.secret = secret
            self.methods = methods
            self.jwksURI = jwksURI
            self.allowedScopes = allowedScopes
        }
    }

    private struct State {
        var clients: [String: Client] = [:]
        var expiresIn: Int? = 3600
        var allowedAlgorithms: Set<String> = ["RS256", "ES256", "PS256", "EdDSA"]
        var seenJTIs: Set<String> = []
        var issued: [String: String] = [:]
    }

    public static let tokenPath = "/oauth2/token"
    public static let leeway: TimeInterval = 30

    public let core = FakeServiceCore()
    private let state = Mutex(State())
    private let clock: any CredentialClock
    private let keys: IssuerKeyFetcher
    private let serverBox = Mutex<FakeHTTPServer?>(nil)

    private init(clock: any CredentialClock, httpClient: HTTPClient) {
        self.clock = clock
        self.keys = IssuerKeyFetcher(httpClient: httpClient)
    }

    public static func start(
        clock: any CredentialClock = SystemCredentialClock(),
        httpClient: HTTPClient = .shared
    ) async throws -> FakeOAuth2Server {
        let server = FakeOAuth2Server(clock: clock, httpClient: httpClient)
        let http = try await FakeHTTPServer.start(now: { clock.now() }) { [server] request in
            await server.core.handle(
                request,
                failureBody: { .json($0, #"{"error":"server_error","error_description":"injected failure"}"#) },
                logic: { request in await server.answer(request) }
            )
        }
        server.serverBox.withLock { $0 = http }
        return server
    }

    /// `http://127.0.0.1:<port>`, also accepted as a private_key_jwt audience.
    public var issuer: String { serverBox.withLock { $0?.baseURL } ?? "" }
    /// `http://127.0.0.1:<port>/oauth2/token`.
    public var tokenURL: String { issuer + Self.tokenPath }

    public func setClient(_ client: Client) { state.withLock { $0.clients[client.clientID] = client } }
    /// `expires_in` of issued tokens; `nil` leaves it out.
    public func setExpiresIn(_ seconds: Int?) { state.withLock { $0.expiresIn = seconds } }
    public func setAllowedAlgorithms(_ algorithms: Set<String>) { state.withLock { $0.allowedAlgorithms = algorithms } }
    /// The client each issued token belongs to.
    public var issuedTokens: [String: String] { state.withLock { $0.issued } }

    public func stop() async { await serverBox.withLock { $0 }?.stop() }

    // MARK: The service

    private static func error(_ status: Int, _ code: String, _ description: String, basic: Bool = false) -> FakeHTTPResponse {
        .json(
            status,
            object: ["error": code, "error_description": description],
            headers: basic ? [("WWW-Authenticate", #"Basic realm="fake-oauth2""#)] : []
        )
    }

    private static func invalidClient(_ description: String, basic: Bool = false) -> FakeHTTPResponse {
        error(401, "invalid_client", description, basic: basic)
    }

    func answer(_ request: FakeHTTPRequest) async -> FakeHTTPResponse {
        guard request.path == Self.tokenPath else { return .text(404, "not found") }
        guard request.method == "POST" else { return Self.error(405, "invalid_request", "use POST") }
        guard request.header("Content-Type")?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return Self.error(400, "invalid_request", "the body must be application/x-www-form-urlencoded")
        }
        let form = request.form
        guard let grantType = form["grant_type"] else { return Self.error(400, "invalid_request", "grant_type is required") }
        guard grantType == "client_credentials" else {
            return Self.error(400, "unsupported_grant_type", "grant_type \(grantType) is not supported")
        }

        // Which authentication method, exactly one.
        var methods: [AuthenticationMethod] = []
        var basicCredentials: (String, String)?
        if let authorization = request.header("Authorization") {
            guard authorization.hasPrefix("Basic "),
                let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
                let colon = decoded.firstIndex(of: ":")
            else { return Self.invalidClient("malformed Authorization header", basic: true) }
            basicCredentials = (
                FakeHTTPRequest.formDecode(decoded[..<colon]), FakeHTTPRequest.formDecode(decoded[decoded.index(after: colon)...])
            )
            methods.append(.clientSecretBasic)
        }
        if form["client_secret"] != nil { methods.append(.clientSecretPost) }
        if form["client_assertion"] != nil || form["client_assertion_type"] != nil { methods.append(.privateKeyJWT) }
        guard methods.count == 1, let method = methods.first else {
            return methods.isEmpty
                ? Self.invalidClient("client authentication is required")
                : Self.error(400, "invalid_request", "the client must use exactly one authentication method")
        }

        let clientID: String
        switch method {
        case .clientSecretBasic:
            clientID = basicCredentials!.0
            if let bodyID = form["client_id"], bodyID != clientID {
                return Self.error(400, "invalid_request", "client_id does not match the Authorization header")
            }
        case .clientSecretPost, .privateKeyJWT:
            guard let id = form["client_id"] else { return Self.invalidClient("client_id is required") }
            clientID = id
        }
        guard let client = state.withLock({ $0.clients[clientID] }) else {
            return Self.invalidClient("unknown client", basic: method == .clientSecretBasic)
        }
        guard client.methods.contains(method) else {
            return Self.invalidClient("the client is not registered for \(method.rawValue)", basic: method == .clientSecretBasic)
        }
        switch method {
        case .clientSecretBasic:
            guard let secret = client.secret, basicCredentials!.1 == secret else {
                return Self.invalidClient("client authentication failed", basic: true)
            }
        case .clientSecretPost:
            guard let secret = client.secret, form["client_secret"] == secret else {
                return Self.invalidClient("client authentication failed")
            }
        case .privateKeyJWT:
            if let failure = await verifyAssertion(form, client: client) { return failure }
        }

        let scopes = (form["scope"] ?? "").split(separator: " ").map(String.init)
        if let allowed = client.allowedScopes, let bad = scopes.first(where: { !allowed.contains($0) }) {
            return Self.error(400, "invalid_scope", "scope \(bad) is not allowed for this client")
        }
        let token = FakeRandom.token(prefix: "oauth2.")
        let expiresIn = state.withLock { state -> Int? in
            state.issued[token] = clientID
            return state.expiresIn
        }
        var body: [String: Any] = ["access_token": token, "token_type": "Bearer"]
        if let expiresIn { body["expires_in"] = expiresIn }
        if !scopes.isEmpty { body["scope"] = scopes.joined(separator: " ") }
        return .json(200, object: body, headers: [("Cache-Control", "no-store")])
    }

    private func verifyAssertion(_ form: [String: String], client: Client) async -> FakeHTTPResponse? {
        guard form["client_assertion_type"] == EntraIDProvider.clientAssertionType else {
            return Self.invalidClient("client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        }
        guard let assertion = form["client_assertion"], let jwt = UnverifiedJWT(assertion) else {
            return Self.invalidClient("client_assertion is not a JWT")
        }
        let allowed = state.withLock { $0.allowedAlgorithms }
        guard let alg = jwt.alg, allowed.contains(alg) else {
            return Self.invalidClient("client_assertion alg \(jwt.alg ?? "none") is not allowed")
        }
        guard jwt.kid != nil else { return Self.invalidClient("client_assertion has no kid") }
        guard jwt.iss == client.clientID, jwt.sub == client.clientID else {
            return Self.invalidClient("client_assertion iss and sub must be the client_id")
        }
        guard jwt.aud.contains(tokenURL) || jwt.aud.contains(issuer) else {
            return Self.invalidClient("client_assertion aud must be the token endpoint URL")
        }
        let now = clock.now()
        guard let exp = jwt.exp, now.timeIntervalSince(exp) < Self.leeway else {
            return Self.invalidClient("client_assertion has expired")
        }
        if let iat = jwt.iat, iat.timeIntervalSince(now) > Self.leeway {
            return Self.invalidClient("client_assertion iat is in the future")
        }
        if let nbf = jwt.nbf, nbf.timeIntervalSince(now) > Self.leeway {
            return Self.invalidClient("client_assertion is not yet valid")
        }
        guard let jti = jwt.jti else { return Self.invalidClient("client_assertion has no jti") }
        guard let jwksURI = client.jwksURI else { return Self.invalidClient("the client has no registered jwks_uri") }
        let jwks: String
        do {
            jwks = try await keys.jwksJSON(at: jwksURI)
        } catch {
            return Self.invalidClient("cannot fetch the client's JWKS")
        }
        do {
            try await IssuerKeyFetcher.verifySignature(assertion, jwksJSON: jwks)
        } catch {
            return Self.invalidClient("client_assertion signature is invalid")
        }
        let replayed = state.withLock { !$0.seenJTIs.insert(jti).inserted }
        if replayed { return Self.invalidClient("client_assertion jti was already used") }
        return nil
    }
}
