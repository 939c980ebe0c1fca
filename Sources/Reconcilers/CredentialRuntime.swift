public import AsyncHTTPClient
import Foundation
public import Gateway
public import Logging
public import ServiceLifecycle
import Synchronization
public import UpstreamCredentials

/// The live token credentials of this replica, one per UpstreamAuth: gateway JWT caches and token
/// cache entries, kept while an UpstreamAuth's configuration stays the same so a config rebuild
/// never throws a warm token away. Tokens live in memory only.
///
/// Run it as a service: it runs the token cache's refresh loop.
public final class CredentialRuntime: Service, Sendable {
    /// The installation's issuer and signing keys, updated by ``InstallationPKI``.
    public let signing: SharedSigningContext
    let tokens: TokenCache<String>
    private let httpClient: HTTPClient
    private let logger: Logger
    private let credentials = Mutex<[String: Registered]>([:])

    private struct Registered {
        var configuration: UpstreamCredentialConfiguration
        var credential: any UpstreamCredential
        var status: @Sendable () -> CredentialStatusSnapshot
    }

    /// - Parameters:
    ///   - httpClient: Calls the token endpoints; TLS is verified against the system roots.
    ///   - clock: The token cache's clock.
    public init(signing: SharedSigningContext = SharedSigningContext(), httpClient: HTTPClient, clock: any CredentialClock = SystemCredentialClock(), logger: Logger) {
        self.signing = signing
        self.httpClient = httpClient
        self.logger = logger
        self.tokens = TokenCache(clock: clock, logger: logger)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.tokens.run() }
    }

    /// The credential for the UpstreamAuth `key` (`namespace/name`) with `configuration`: the one
    /// already running when the configuration is unchanged, else a new one (whose first fetch starts now).
    ///
    /// - Throws: ``CredentialError`` when the configuration cannot make a credential.
    func credential(for key: String, configuration: UpstreamCredentialConfiguration) throws -> any UpstreamCredential {
        if let running = credentials.withLock({ $0[key] }), running.configuration == configuration {
            return running.credential
        }
        let registered: Registered
        if case .gatewayJWT(let jwt) = configuration.source {
            let cache = try GatewayJWTCache(configuration: jwt, header: configuration.header, signing: signing)
            registered = Registered(
                configuration: configuration,
                credential: GatewayJWTCredential(name: key, cache: cache),
                status: { cache.status(now: Date()) }
            )
        } else if let provider = configuration.makeTokenProvider(signing: signing, httpClient: httpClient, logger: logger) {
            let entry = tokens.register(key, provider: provider, refresh: configuration.refresh, header: configuration.header)
            registered = Registered(configuration: configuration, credential: TokenCredential(name: key, entry: entry), status: { entry.status() })
        } else {
            throw CredentialError(.invalidConfiguration, "no provider for \(key)")
        }
        credentials.withLock { $0[key] = registered }
        return registered.credential
    }

    /// The state of `key`'s credential, for UpstreamAuth status.
    func status(for key: String) -> CredentialStatusSnapshot? {
        credentials.withLock { $0[key] }?.status()
    }

    /// Stops the credentials of UpstreamAuths not in `keys` (deleted, or no longer token-based).
    func retain(_ keys: Set<String>) {
        let removed = credentials.withLock { credentials in
            let removed = credentials.keys.filter { !keys.contains($0) }
            for key in removed { credentials.removeValue(forKey: key) }
            return removed
        }
        for key in removed { tokens.remove(key) }
    }
}

/// A token from a token service, served from the ``TokenCache``.
public final class TokenCredential: UpstreamCredential {
    public let name: String
    public let headerName: String
    private let entry: TokenCacheEntry

    public init(name: String, entry: TokenCacheEntry) {
        self.name = name
        self.entry = entry
        self.headerName = entry.header.name.lowercased()
    }

    public func currentHeaderValue(audience: String) throws -> String? {
        entry.currentHeaderValue(now: Date())
    }

    public func headerValue(audience: String) async throws -> String {
        try await entry.headerValue()
    }

    public func rejected(headerValue: String) -> Bool {
        let prefix = entry.header.prefix
        guard headerValue.hasPrefix(prefix) else { return false }
        entry.invalidate(token: String(headerValue.dropFirst(prefix.count)))
        return true
    }
}

/// A JWT the gateway signs itself, minted on the request path (cached per audience).
public final class GatewayJWTCredential: UpstreamCredential {
    public let name: String
    public let headerName: String
    private let cache: GatewayJWTCache

    public init(name: String, cache: GatewayJWTCache) {
        self.name = name
        self.cache = cache
        self.headerName = cache.header.name.lowercased()
    }

    public func currentHeaderValue(audience: String) throws -> String? {
        try cache.headerValue(audience: audience, now: Date())
    }

    public func headerValue(audience: String) async throws -> String {
        try cache.headerValue(audience: audience, now: Date())
    }

    /// A new JWT from the same key would be rejected the same way: sending it again does not help.
    public func rejected(headerValue: String) -> Bool { false }
}
