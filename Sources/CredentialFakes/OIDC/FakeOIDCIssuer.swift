import Foundation
public import PKI
import Synchronization
public import UpstreamCredentials

/// The gateway's own OIDC issuer on loopback: PKI's discovery document at
/// `<issuer>/.well-known/openid-configuration`, PKI's JWKS at `<issuer>/.well-known/jwks.json`, and each namespace's
/// JWKS (the keys its published ES256 keys derive for it) at `<issuer>/namespaces/<namespace>/jwks.json`, for the
/// fakes of Google STS, Entra ID and OAuth2 servers to fetch, as the real services fetch the gateway's.
///
/// Knobs: the published keys (rotation), `Cache-Control`, and faults (latency, 500s, a body that is not JSON).
public final class FakeOIDCIssuer: Sendable {
    private struct State {
        var published: [SigningKey]
        var cacheControl: String? = "public, max-age=3600"
    }

    /// Recording and fault injection.
    public let core = FakeServiceCore()
    /// The signing context for the gateway's providers; updated by ``publish(_:signingWith:)``.
    public let signingContext = SharedSigningContext()
    private let path: String
    private let state: Mutex<State>
    private let serverBox = Mutex<FakeHTTPServer?>(nil)

    private init(keys: [SigningKey], path: String) {
        self.path = path
        self.state = Mutex(State(published: keys))
    }

    /// Starts an issuer publishing `keys`, all of which sign.
    ///
    /// - Parameters:
    ///   - keys: The key ring's keys; a new ES256 and RS256 key by default.
    ///   - path: A path below the host, e.g. `/tenant-a`, to test issuers with paths.
    ///   - clock: Records request times.
    public static func start(
        keys: [SigningKey]? = nil,
        path: String = "",
        clock: any CredentialClock = SystemCredentialClock()
    ) async throws -> FakeOIDCIssuer {
        let keys = try keys ?? [SigningKey.generate(.es256), SigningKey.generate(.rs256)]
        let fake = FakeOIDCIssuer(keys: keys, path: path)
        let server = try await FakeHTTPServer.start(now: { clock.now() }) { [fake] request in
            await fake.core.handle(request, failureBody: { .text($0, "upstream unavailable") }) { request in
                fake.answer(request)
            }
        }
        fake.serverBox.withLock { $0 = server }
        fake.signingContext.update(SigningContext(issuer: fake.issuer, signingKeys: keys))
        return fake
    }

    /// The issuer URL, `http://127.0.0.1:<port><path>`; what `iss` must be, byte for byte.
    public var issuer: String { (serverBox.withLock { $0?.baseURL } ?? "") + path }

    /// `<issuer>/.well-known/jwks.json`.
    public var jwksURI: String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + OIDCDiscoveryDocument.jwksPath
    }

    /// `<issuer>/namespaces/<namespace>/jwks.json`.
    public func namespaceJWKSURI(_ namespace: String) -> String {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        return base + OIDCDiscoveryDocument.namespaceJWKSPath(namespace)
    }

    private func answer(_ request: FakeHTTPRequest) -> FakeHTTPResponse {
        guard request.method == "GET" else { return .text(405, "method not allowed") }
        let (keys, cacheControl) = state.withLock { ($0.published, $0.cacheControl) }
        var headers: [(name: String, value: String)] = []
        if let cacheControl { headers.append(("Cache-Control", cacheControl)) }
        let base = path.hasSuffix("/") ? String(path.dropLast()) : path
        let namespaces = base + OIDCDiscoveryDocument.namespacesPath
        switch request.path {
        case base + OIDCDiscoveryDocument.path:
            guard let document = try? OIDCDiscoveryDocument(issuer: issuer, algorithms: keys.map(\.algorithm)) else {
                return .text(500, "bad issuer")
            }
            return FakeHTTPResponse(status: 200, headers: [("Content-Type", "application/json")] + headers, body: Array(document.json.utf8))
        case base + OIDCDiscoveryDocument.jwksPath:
            return FakeHTTPResponse(
                status: 200,
                headers: [("Content-Type", JSONWebKeySet.mediaType)] + headers,
                body: Array(JSONWebKeySet(keys).json.utf8)
            )
        case let path where path.hasPrefix(namespaces) && path.hasSuffix("/jwks.json"):
            let namespace = path.dropFirst(namespaces.count).dropLast("/jwks.json".count)
            let installationKeys = keys.filter { $0.algorithm == .es256 }
            guard let derived = try? installationKeys.map({ try $0.namespaceKey(for: String(namespace)) }) else {
                return .text(404, "not found")
            }
            return FakeHTTPResponse(
                status: 200,
                headers: [("Content-Type", JSONWebKeySet.mediaType)] + headers,
                body: Array(JSONWebKeySet(derived).json.utf8)
            )
        default:
            return .text(404, "not found")
        }
    }

    /// Publishes `keys` in the JWKS and makes `signing` (default: all of them) the signing context's keys.
    public func publish(_ keys: [SigningKey], signingWith signing: [SigningKey]? = nil) {
        state.withLock { $0.published = keys }
        signingContext.update(SigningContext(issuer: issuer, signingKeys: signing ?? keys))
    }

    /// The published keys.
    public var publishedKeys: [SigningKey] { state.withLock { $0.published } }

    /// The `Cache-Control` header of both documents; `nil` for none.
    public func setCacheControl(_ value: String?) { state.withLock { $0.cacheControl = value } }

    public func stop() async { await serverBox.withLock { $0 }?.stop() }
}
