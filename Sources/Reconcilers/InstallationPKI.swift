import Foundation
public import Gateway
import Kubernetes
import KubernetesClient
public import Logging
public import PKI
import Synchronization
public import UpstreamCredentials

/// Where the installation keeps its CA and JWT signing keys, and what it publishes.
public struct PKISettings: Sendable, Hashable {
    /// The controller's namespace: the CA, the key ring and the published ConfigMaps live here.
    public var namespace: String
    /// The installation's JWT issuer URL (`iss` of gateway JWTs and assertions). The gateway serves
    /// its discovery document and JWKS under it; `nil` leaves JWT-based credentials unusable.
    public var issuer: String?
    /// A `kubernetes.io/tls` Secret with the CA (`tls.crt`, `tls.key`); created when missing, or
    /// supplied by the user (for example from cert-manager).
    public var caSecretName: String
    /// The ConfigMap with the CA's trust bundle (`ca.crt`) for backends to trust.
    public var trustBundleConfigMapName: String
    /// The Secret with the JWT signing key ring.
    public var signingKeysSecretName: String
    /// The ConfigMap with the JWKS and discovery document, for providers that cannot reach the gateway.
    public var jwksConfigMapName: String
    /// The `kubernetes.io/tls` Secret with the peer CA: a CA of its own that issues the peer certificate and
    /// nothing else, so no certificate a tenant can obtain (from the installation CA) is a peer's. Created
    /// when missing.
    public var peerCASecretName: String
    /// The `kubernetes.io/tls` Secret with the certificate gateway replicas present to each other when they
    /// share circuit-breaker transitions (``PeerTLS``); issued from the peer CA and renewed by the leader.
    public var peerSecretName: String
    /// The lifetime of the peer certificate; it is renewed when a third of it is left.
    public var peerCertificateDuration: Duration
    /// Rotation schedule of the signing keys.
    public var keyRing: KeyRing.Configuration

    public init(
        namespace: String,
        issuer: String?,
        caSecretName: String = "portcullis-ca",
        trustBundleConfigMapName: String = "portcullis-ca-bundle",
        signingKeysSecretName: String = "portcullis-signing-keys",
        jwksConfigMapName: String = "portcullis-jwks",
        peerCASecretName: String = "portcullis-peer-ca",
        peerSecretName: String = "portcullis-peer-tls",
        peerCertificateDuration: Duration = .seconds(7 * 86_400),
        keyRing: KeyRing.Configuration = KeyRing.Configuration()
    ) {
        self.namespace = namespace
        self.issuer = issuer
        self.caSecretName = caSecretName
        self.trustBundleConfigMapName = trustBundleConfigMapName
        self.signingKeysSecretName = signingKeysSecretName
        self.jwksConfigMapName = jwksConfigMapName
        self.peerCASecretName = peerCASecretName
        self.peerSecretName = peerSecretName
        self.peerCertificateDuration = peerCertificateDuration
        self.keyRing = keyRing
    }
}

/// The installation's CA and JWT signing keys, kept in Secrets: the leader creates and rotates them
/// and publishes the trust bundle and the JWKS in ConfigMaps; every replica loads them, hands the
/// signing keys to its credentials and serves the issuer's documents from its gateway.
///
/// Likewise the peer certificate replicas share breaker transitions with: the leader issues it from the
/// peer CA (a CA of its own, which issues nothing else) into one Secret and renews it; every replica loads
/// it into its ``PeerTLS``, which trusts only the peer CA. (Only the leader issues: replicas could sign their
/// own with the CA key they hold, but then no one would see or revoke them.)
public final class InstallationPKI: Sendable {
    /// The Secret key holding the key ring as JSON.
    public static let keyRingKey = "keyring.json"
    /// The ConfigMap keys of the published documents.
    public static let jwksKey = "jwks.json"
    public static let discoveryKey = "openid-configuration"

    public let settings: PKISettings
    let signing: SharedSigningContext
    /// Where the peer certificate goes; `nil` when this replica shares no breaker state.
    let peerTLS: PeerTLS?
    private let logger: Logger
    private let state = Mutex(State())

    /// A CA as loaded from its Secret, and the certificate PEM it was loaded from.
    private struct LoadedAuthority {
        var authority: CertificateAuthority
        var certificatePEM: String
    }

    private struct State {
        /// The installation CA: client certificates for tenants, the trust bundle.
        var installationCA: LoadedAuthority?
        /// The peer CA: the peer certificate only.
        var peerCA: LoadedAuthority?
        var keyRing: KeyRing?
        var algorithms: Set<SigningKey.Algorithm> = [.es256]
        var signingKids: [SigningKey.Algorithm: String] = [:]
        /// The active ES256 key, from which namespace keys are derived.
        var activeES256: SigningKey?
        /// The namespaces whose JWKS the gateway serves: those with a private_key_jwt UpstreamAuth.
        var keyNamespaces: Set<String> = []
        /// Namespace keys derived so far, by installation key and namespace (a derivation costs tens of µs).
        var namespaceKeys: [NamespaceKeyID: SigningKey] = [:]
        var issuerDocuments: IssuerDocuments?
        var problem: String?
    }

    /// Which namespace key: the installation key's `kid` and the namespace.
    private struct NamespaceKeyID: Hashable {
        var kid: String
        var namespace: String
    }

    /// - Parameters:
    ///   - signing: Receives the issuer and the active signing keys after every change.
    ///   - peerTLS: Receives the peer certificate after every change.
    public init(settings: PKISettings, signing: SharedSigningContext, peerTLS: PeerTLS? = nil, logger: Logger) {
        self.settings = settings
        self.signing = signing
        self.peerTLS = peerTLS
        self.logger = logger
    }

    /// The installation CA, once loaded.
    var authority: CertificateAuthority? { state.withLock { $0.installationCA?.authority } }

    /// The peer CA, once loaded.
    var peerAuthority: CertificateAuthority? { state.withLock { $0.peerCA?.authority } }

    /// The discovery document and JWKS the gateway serves, once the key ring is loaded and an issuer is set.
    var issuerDocuments: IssuerDocuments? { state.withLock { $0.issuerDocuments } }

    /// The `kid` signing each algorithm now.
    func signingKeyID(for algorithm: SigningKey.Algorithm) -> String? { state.withLock { $0.signingKids[algorithm] } }

    /// The `kid` signing `namespace`'s private_key_jwt assertions now.
    func namespaceKeyID(for namespace: String) -> String? {
        guard let active = state.withLock({ $0.activeES256 }) else { return nil }
        return try? namespaceKey(derivedFrom: active, for: namespace).kid
    }

    /// Where the gateway serves the installation's JWKS, or with `namespace` that namespace's; `nil` without an issuer.
    func jwksURI(namespace: String? = nil) -> String? {
        settings.issuer.map { issuer in
            (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer)
                + (namespace.map(OIDCDiscoveryDocument.namespaceJWKSPath) ?? OIDCDiscoveryDocument.jwksPath)
        }
    }

    /// Serves the JWKS of exactly these namespaces from now on (those with a private_key_jwt UpstreamAuth).
    ///
    /// - Returns: Whether the set changed, so the issuer's documents need a reconcile.
    func requireNamespaceKeys(_ namespaces: Set<String>) -> Bool {
        state.withLock { state in
            defer { state.keyNamespaces = namespaces }
            return state.keyNamespaces != namespaces
        }
    }

    /// The key `installationKey` derives for `namespace`, derived once.
    private func namespaceKey(derivedFrom installationKey: SigningKey, for namespace: String) throws -> SigningKey {
        let id = NamespaceKeyID(kid: installationKey.kid, namespace: namespace)
        if let cached = state.withLock({ $0.namespaceKeys[id] }) { return cached }
        let derived = try installationKey.namespaceKey(for: namespace)
        state.withLock { $0.namespaceKeys[id] = derived }
        return derived
    }

    /// Each namespace's JWKS by request path: the keys every published ES256 key (pending, active, retired) derives
    /// for it, so its assertions verify across rotations as the installation's tokens do. The derived keys of
    /// other installation keys and namespaces are forgotten.
    private func namespaceDocuments(published: [SigningKey], base: String) -> [String: String] {
        let installationKeys = published.filter { $0.algorithm == .es256 }
        let namespaces = state.withLock { $0.keyNamespaces }
        var documents: [String: String] = [:]
        for namespace in namespaces {
            do {
                let keys = try installationKeys.map { try namespaceKey(derivedFrom: $0, for: namespace) }
                documents[base + OIDCDiscoveryDocument.namespaceJWKSPath(namespace)] = JSONWebKeySet(keys).json
            } catch {
                logger.error("the namespace's signing keys cannot be derived", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
            }
        }
        let kids = Set(installationKeys.map(\.kid))
        state.withLock { state in
            state.namespaceKeys = state.namespaceKeys.filter { kids.contains($0.key.kid) && namespaces.contains($0.key.namespace) }
        }
        return documents
    }

    /// Why JWT credentials cannot be used, if they cannot.
    var signingProblem: String? {
        state.withLock { state in
            if settings.issuer == nil { return "no issuer URL is configured: start the controller with --issuer-url" }
            return state.problem ?? (state.keyRing == nil ? "the signing keys are not loaded yet" : nil)
        }
    }

    /// Keeps keys for `algorithms` from now on (ES256 always).
    ///
    /// - Returns: Whether an algorithm was added, so the key ring needs a reconcile.
    func require(_ algorithms: Set<SigningKey.Algorithm>) -> Bool {
        state.withLock { state in
            let before = state.algorithms.count
            state.algorithms.formUnion(algorithms)
            return state.algorithms.count != before
        }
    }

    /// Loads what the caches hold and, as leader, creates or rotates what is missing or due.
    ///
    /// - Returns: When to look again (the key ring's next change), and whether what the gateway serves changed.
    func reconcile(
        secrets: Store<CoreV1.Secret>,
        configMaps: Store<CoreV1.ConfigMap>,
        client: KubernetesClient,
        isLeader: Bool,
        now: Date = Date()
    ) async throws -> (next: Duration?, changed: Bool) {
        let namespace = settings.namespace
        let secretClient = client.resources(CoreV1.Secret.self)
        let configMapClient = client.resources(CoreV1.ConfigMap.self)
        let labels = ["app.kubernetes.io/managed-by": "portcullis"]
        // The installation's own Secrets: never in the cache references resolve against (SecretLabel).
        let secretLabels = labels.merging([SecretLabel.key: SecretLabel.installation]) { _, new in new }

        // The CAs.
        try await reconcileAuthority(
            settings.caSecretName, commonName: "Portcullis CA \(namespace)", into: \.installationCA,
            secrets: secrets, client: secretClient, isLeader: isLeader, labels: secretLabels, now: now
        )
        try await reconcileAuthority(
            settings.peerCASecretName, commonName: "Portcullis peer CA \(namespace)", into: \.peerCA,
            secrets: secrets, client: secretClient, isLeader: isLeader, labels: secretLabels, now: now
        )
        if isLeader, let authority = self.authority {
            try await ensureConfigMap(
                settings.trustBundleConfigMapName, data: [TrustBundle.configMapKey: try authority.trustAnchorPEM], labels: labels,
                cache: configMaps, client: configMapClient
            )
        }
        let peerRenewal = try await reconcilePeerCertificate(secrets: secrets, client: secretClient, isLeader: isLeader, labels: secretLabels, now: now)

        // The signing keys.
        let algorithms = state.withLock { $0.algorithms }
        let keySecret = secrets.get(namespace: namespace, name: settings.signingKeysSecretName)
        var ring: KeyRing?
        var problem: String?
        if let data = keySecret?.data?[Self.keyRingKey] {
            do {
                ring = try JSONDecoder().decode(KeyRing.self, from: data)
            } catch {
                problem = "the key ring in Secret \(namespace)/\(settings.signingKeysSecretName) cannot be read: \(error)"
            }
        } else if keySecret == nil {
            ring = isLeader ? KeyRing(configuration: settings.keyRing) : nil
        } else {
            problem = "Secret \(namespace)/\(settings.signingKeysSecretName) has no \(Self.keyRingKey)"
        }
        if isLeader, var updated = ring {
            updated.configuration = settings.keyRing
            for algorithm in updated.rotationsDue(at: now, algorithms: algorithms) {
                try updated.rotate(now: now, newKey: try SigningKey.generate(algorithm))
                logger.info("new signing key", metadata: ["algorithm": "\(algorithm.rawValue)"])
            }
            _ = updated.prune(now: now)
            if updated != ring || keySecret == nil {
                let encoded = try JSONEncoder().encode(updated)
                if var secret = keySecret {
                    secret.data = [Self.keyRingKey: encoded]
                    _ = try await secretClient.update(secret)
                } else {
                    _ = try await createIgnoringConflict(
                        CoreV1.Secret(
                            metadata: ObjectMeta(name: settings.signingKeysSecretName, namespace: namespace, labels: secretLabels),
                            data: [Self.keyRingKey: encoded],
                            type: "Opaque"
                        ),
                        client: secretClient
                    )
                }
            }
            ring = updated
        }

        var changed = false
        var next: Duration?
        if let ring {
            let snapshot = ring.snapshot(at: now, algorithms: algorithms)
            let kids = snapshot.signingKeys.mapValues(\.kid)
            var documents: IssuerDocuments?
            if let issuer = settings.issuer {
                do {
                    let discovery = try OIDCDiscoveryDocument(issuer: issuer, algorithms: snapshot.publishedKeys.map(\.algorithm))
                    let issuerPath = URLComponents(string: issuer)?.path ?? ""
                    let base = issuerPath.hasSuffix("/") ? String(issuerPath.dropLast()) : issuerPath
                    documents = IssuerDocuments(
                        discoveryPath: base + OIDCDiscoveryDocument.path,
                        discoveryJSON: discovery.json,
                        jwksPath: base + OIDCDiscoveryDocument.jwksPath,
                        jwksJSON: snapshot.jwks.json,
                        namespaceJWKSPrefix: base + OIDCDiscoveryDocument.namespacesPath,
                        namespaceJWKS: namespaceDocuments(published: snapshot.publishedKeys, base: base)
                    )
                    if isLeader {
                        try await ensureConfigMap(
                            settings.jwksConfigMapName, data: [Self.jwksKey: snapshot.jwks.json, Self.discoveryKey: discovery.json], labels: labels,
                            cache: configMaps, client: configMapClient
                        )
                    }
                } catch let error as PKIError {
                    problem = "--issuer-url: \(error.message)"
                }
                if problem == nil, kids != state.withLock({ $0.signingKids }) {
                    signing.update(SigningContext(issuer: issuer, snapshot: snapshot))
                }
            }
            changed = state.withLock { state in
                let changed = state.issuerDocuments != documents
                state.keyRing = ring
                state.signingKids = kids
                state.activeES256 = snapshot.signingKeys[.es256]
                state.issuerDocuments = documents
                return changed
            }
            next = snapshot.nextChange.map { .seconds(max(1, $0.timeIntervalSince(now))) }
        }
        if let peerRenewal {
            let untilRenewal = Duration.seconds(max(1, peerRenewal.timeIntervalSince(now)))
            next = next.map { min($0, untilRenewal) } ?? untilRenewal
        }
        state.withLock { $0.problem = problem }
        return (next, changed)
    }

    /// The CA kept in Secret `name`: created by the leader when missing (or supplied by the user), and loaded
    /// into `loaded` whenever its certificate changed.
    private func reconcileAuthority(
        _ name: String,
        commonName: String,
        into loaded: WritableKeyPath<State, LoadedAuthority?>,
        secrets: Store<CoreV1.Secret>,
        client: ResourceClient<CoreV1.Secret>,
        isLeader: Bool,
        labels: [String: String],
        now: Date
    ) async throws {
        let namespace = settings.namespace
        var secret = secrets.get(namespace: namespace, name: name)
        if secret == nil, isLeader {
            let authority = try CertificateAuthority.generate(commonName: String(commonName.prefix(64)), now: now)
            let new = CoreV1.Secret(
                metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
                data: [
                    IssuedCertificate.certificateKey: Data(try authority.certificatePEM.utf8),
                    IssuedCertificate.privateKeyKey: Data(try authority.privateKeyPEM.utf8),
                    IssuedCertificate.caKey: Data(try authority.trustAnchorPEM.utf8),
                ],
                type: "kubernetes.io/tls"
            )
            secret = try await createIgnoringConflict(new, client: client)
            logger.info("created a CA", metadata: ["secret": "\(namespace)/\(name)"])
        }
        guard let secret, let certificate = secret.data?[IssuedCertificate.certificateKey], let key = secret.data?[IssuedCertificate.privateKeyKey] else {
            return
        }
        let pem = String(decoding: certificate, as: UTF8.self)
        guard state.withLock({ $0[keyPath: loaded]?.certificatePEM }) != pem else { return }
        do {
            let authority = try CertificateAuthority(certificatePEM: pem, privateKeyPEM: String(decoding: key, as: UTF8.self))
            state.withLock { $0[keyPath: loaded] = LoadedAuthority(authority: authority, certificatePEM: pem) }
        } catch {
            logger.error("the CA Secret cannot be loaded", metadata: ["secret": "\(namespace)/\(name)", "error": "\(error)"])
        }
    }

    /// As leader, issues the peer certificate from the peer CA when it is missing, unreadable, due for renewal
    /// or from another CA (a certificate of an earlier version, issued by the installation CA, is replaced);
    /// on every replica, loads it into ``peerTLS``, trusting only the CA in its `ca.crt`.
    ///
    /// - Returns: When the leader renews it next; `nil` without a peer certificate to look after.
    private func reconcilePeerCertificate(
        secrets: Store<CoreV1.Secret>,
        client: ResourceClient<CoreV1.Secret>,
        isLeader: Bool,
        labels: [String: String],
        now: Date
    ) async throws -> Date? {
        guard let peerTLS else { return nil }
        let namespace = settings.namespace
        let reference = "\(namespace)/\(settings.peerSecretName)"
        var secret = secrets.get(namespace: namespace, name: settings.peerSecretName)
        var current = secret?.data.flatMap { data in try? IssuedCertificate(secretData: data.mapValues { String(decoding: $0, as: UTF8.self) }) }
        if isLeader, let authority = peerAuthority {
            let caPEM = try authority.trustAnchorPEM
            if current.map({ now >= $0.renewAt || $0.caPEM != caPEM }) ?? true {
                let issued = try authority.issue(
                    CertificateRequest(purpose: .peer, commonName: "portcullis gateway peer", dnsNames: [PeerTLS.peerName], duration: settings.peerCertificateDuration),
                    now: now
                )
                let data = issued.secretData.mapValues { Data($0.utf8) }
                if var existing = secret {
                    existing.data = data
                    existing.type = "kubernetes.io/tls"
                    secret = try await client.update(existing)
                } else {
                    let new = CoreV1.Secret(metadata: ObjectMeta(name: settings.peerSecretName, namespace: namespace, labels: labels), data: data, type: "kubernetes.io/tls")
                    secret = try await createIgnoringConflict(new, client: client) ?? secrets.get(namespace: namespace, name: settings.peerSecretName)
                }
                current = issued
                logger.info("issued the peer certificate", metadata: ["secret": "\(reference)", "serial": "\(issued.serialNumber)", "notAfter": "\(issued.notAfter)"])
            }
        }
        if let data = secret?.data, let certificate = data[IssuedCertificate.certificateKey], let key = data[IssuedCertificate.privateKeyKey],
            let ca = data[IssuedCertificate.caKey]
        {
            do {
                if try peerTLS.update(
                    certificateChainPEM: String(decoding: certificate, as: UTF8.self), privateKeyPEM: String(decoding: key, as: UTF8.self),
                    trustedCAPEM: String(decoding: ca, as: UTF8.self)
                ) {
                    logger.info("loaded the peer certificate", metadata: ["secret": "\(reference)"])
                }
            } catch {
                logger.error("the peer certificate Secret cannot be used; the current one stays", metadata: ["secret": "\(reference)", "error": "\(error)"])
            }
        } else if secret != nil {
            logger.error("the peer certificate Secret needs tls.crt, tls.key and ca.crt", metadata: ["secret": "\(reference)"])
        }
        return isLeader ? current?.renewAt : nil
    }

    /// Creates `secret`; another replica creating it first is fine (the cache will bring it).
    private func createIgnoringConflict(_ secret: CoreV1.Secret, client: ResourceClient<CoreV1.Secret>) async throws -> CoreV1.Secret? {
        do {
            return try await client.create(secret)
        } catch let error as KubernetesError where error.code == .alreadyExists {
            return nil
        }
    }

    /// Creates or updates a ConfigMap of ours so it holds exactly `data`.
    private func ensureConfigMap(
        _ name: String,
        data: [String: String],
        labels: [String: String],
        cache: Store<CoreV1.ConfigMap>,
        client: ResourceClient<CoreV1.ConfigMap>
    ) async throws {
        if var existing = cache.get(namespace: settings.namespace, name: name) {
            guard existing.data != data else { return }
            existing.data = data
            _ = try await client.update(existing)
        } else {
            do {
                _ = try await client.create(CoreV1.ConfigMap(metadata: ObjectMeta(name: name, namespace: settings.namespace, labels: labels), data: data))
            } catch let error as KubernetesError where error.code == .alreadyExists {
                return
            }
        }
    }
}
