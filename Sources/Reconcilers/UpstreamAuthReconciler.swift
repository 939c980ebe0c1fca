import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import Logging
import PKI
import PortcullisAPI
import Synchronization
import UpstreamCredentials

/// UpstreamAuths on both sides of the leader line.
///
/// - Every replica: ``resolve(_:secrets:unreadableSecrets:)`` turns an UpstreamAuth into what the gateway applies (a
///   running credential or a client certificate), for the config rebuild.
/// - The leader: ``reconcile(_:secrets:unreadableSecrets:client:now:)`` issues and renews client certificates into
///   Secrets owned by the UpstreamAuth, and writes status — conditions, the credential's lifecycle,
///   the certificate — only when it changed, at most once a second per object.
final class UpstreamAuthReconciler: Sendable {
    /// How often a token credential's state is looked at for status.
    static let statusInterval = Duration.seconds(2)
    /// An annotation on an issued certificate's Secret: what it was issued for, so a spec change reissues it.
    static let requestAnnotation = "portcullis.io/certificate-request"

    let runtime: CredentialRuntime
    let pki: InstallationPKI
    let tenancy: TenancyPolicy
    private let events: EventRecorder
    private let logger: Logger
    private let lastWrite = Mutex<[ObjectKey: ContinuousClock.Instant]>([:])

    init(runtime: CredentialRuntime, pki: InstallationPKI, tenancy: TenancyPolicy, events: EventRecorder, logger: Logger) {
        self.runtime = runtime
        self.pki = pki
        self.tenancy = tenancy
        self.events = events
        self.logger = logger
    }

    /// What a Route can use of `auth` right now.
    ///
    /// - Parameters:
    ///   - secrets: The readable Secrets of its namespace, by name.
    ///   - unreadableSecrets: Why others it may name cannot be read (``SecretReferences``).
    /// - Returns: The resolution, and the signing algorithms the auth needs a key for.
    func resolve(
        _ auth: UpstreamAuth,
        secrets: [String: [String: Data]],
        unreadableSecrets: [String: String] = [:]
    ) -> (ResolvedUpstreamAuth, Set<SigningKey.Algorithm>) {
        let key = Self.key(auth)
        switch UpstreamAuthTranslator.translate(auth, secrets: secrets, unreadableSecrets: unreadableSecrets, policy: tenancy) {
        case .invalid(let errors):
            return (.unusable("is invalid: " + errors.map(\.description).joined(separator: "; ")), [])
        case .notAllowed(_, let errors):
            return (.unusable("is not allowed: " + errors.map(\.description).joined(separator: "; ")), [])
        case .unresolved(let problems):
            return (.unusable("cannot be used: " + problems.joined(separator: "; ")), [])
        case .plan(let plan):
            let algorithms = UpstreamAuthTranslator.signingAlgorithms(of: plan)
            switch plan {
            case .token(let configuration):
                if !algorithms.isEmpty, let problem = pki.signingProblem {
                    return (.unusable("cannot sign: \(problem)"), algorithms)
                }
                do {
                    return (.credential(try runtime.credential(for: key, configuration: configuration)), algorithms)
                } catch {
                    return (.unusable("is invalid: \(error)"), algorithms)
                }
            case .issuedCertificate(let secretName, _), .providedCertificate(let secretName):
                guard let data = secrets[secretName] else {
                    return (.unusable("has no client certificate yet: Secret \"\(secretName)\" not found"), [])
                }
                do {
                    let certificate = try Self.certificate(in: data)
                    let identity = ClientIdentity(
                        certificateChainPEM: certificate.certificatePEM,
                        privateKeyPEM: certificate.privateKeyPEM
                    )
                    return (.clientCertificate(identity), [])
                } catch let error as PKIError {
                    return (.unusable("cannot use Secret \"\(secretName)\": \(error.message)"), [])
                } catch {
                    return (.unusable("cannot use Secret \"\(secretName)\": \(error)"), [])
                }
            }
        }
    }

    /// Stops the credentials of UpstreamAuths that are gone or no longer token-based.
    func retain(_ auths: [UpstreamAuth]) {
        runtime.retain(Set(auths.filter { $0.spec.mutualTLS == nil }.map(Self.key)))
    }

    /// As leader: issues or renews the client certificate, and writes status when it changed.
    ///
    /// - Parameters:
    ///   - secrets: The readable Secrets (labelled ``SecretLabel/key``).
    ///   - unreadableSecrets: Why others of the namespace it may name cannot be read (``SecretReferences``).
    /// - Returns: When to look again: the renewal time, or soon for a token credential's status.
    func reconcile(
        _ auth: UpstreamAuth,
        secrets: Store<CoreV1.Secret>,
        unreadableSecrets: [String: String] = [:],
        client: KubernetesClient,
        now: Date = Date()
    ) async throws -> ReconcileResult {
        let namespace = auth.metadata.namespace ?? "default"
        let objectKey = ObjectKey(namespace: namespace, name: auth.metadata.name ?? "")
        let secretData = Dictionary(secrets.list(namespace: namespace).map { ($0.metadata.name ?? "", $0.data ?? [:]) }, uniquingKeysWith: { first, _ in first })
        let generation = auth.metadata.generation ?? 1
        var status = auth.status ?? UpstreamAuthStatus()
        var conditions = status.conditions ?? []
        func set(_ type: String, _ value: Condition.Status, _ reason: String, _ message: String) {
            conditions = ConditionList.setting(type, to: value, reason: reason, message: message, observedGeneration: generation, in: conditions, now: now)
        }
        status.type = auth.spec.credentialType
        var next: Duration?

        switch UpstreamAuthTranslator.translate(auth, secrets: secretData, unreadableSecrets: unreadableSecrets, policy: tenancy) {
        case .invalid(let errors):
            set("Ready", .false, "Invalid", errors.map(\.description).joined(separator: "; "))
            set("CredentialReady", .unknown, "Invalid", "no credential is obtained for an invalid spec")
        case .notAllowed(let reason, let errors):
            set("Ready", .false, reason, errors.map(\.description).joined(separator: "; "))
            set("CredentialReady", .unknown, reason, "no credential is obtained for what the cluster admin does not allow")
        case .unresolved(let problems):
            set("Ready", .false, "RefNotResolved", problems.joined(separator: "; "))
            set("CredentialReady", .unknown, "RefNotResolved", "no credential is obtained until the references resolve")
        case .plan(let plan):
            switch plan {
            case .token(let configuration):
                status.secretless = configuration.isSecretless
                status.certificate = nil
                let algorithms = UpstreamAuthTranslator.signingAlgorithms(of: plan)
                if !algorithms.isEmpty, let problem = pki.signingProblem {
                    set("Ready", .false, "SigningKeyUnavailable", problem)
                    set("CredentialReady", .false, "SigningKeyUnavailable", problem)
                } else {
                    set("Ready", .true, "Ready", configuration.isSecretless ? "the spec is valid" : "the spec is valid; it uses a long-lived client secret from a Secret")
                    let snapshot = runtime.status(for: Self.key(auth))
                    if case .gatewayJWT(let jwt) = configuration.source, snapshot?.lastError == nil, snapshot?.ready != true {
                        // Minted on the request path: ready as soon as a key signs.
                        set("CredentialReady", .true, "KeyReady", "tokens are signed with \(jwt.algorithm.rawValue) key \(pki.signingKeyID(for: jwt.algorithm) ?? "-") on the first request")
                    } else {
                        set("CredentialReady", snapshot?.ready == true ? .true : .false, snapshot?.reason ?? "Pending", Self.message(snapshot))
                    }
                    status.credential = snapshot.map(Self.credentialStatus)
                }
                switch configuration.source {
                case .gatewayJWT(let jwt):
                    status.jwks = JWKSStatus(keyID: pki.signingKeyID(for: jwt.algorithm), uri: pki.jwksURI())
                case .oauth2ClientCredentials(let oauth2):
                    // private_key_jwt: the namespace's own key, and the JWKS to register the client with.
                    guard case .privateKeyJWT(let assertion) = oauth2.clientAuthentication else {
                        status.jwks = nil
                        break
                    }
                    status.jwks = JWKSStatus(keyID: pki.namespaceKeyID(for: assertion.namespace), uri: pki.jwksURI(namespace: assertion.namespace))
                default:
                    status.jwks = nil
                }
                next = Self.statusInterval
            case .issuedCertificate(let secretName, let request):
                status.secretless = true
                status.credential = nil
                status.jwks = nil
                guard let authority = pki.authority else {
                    set("Ready", .true, "Ready", "the spec is valid")
                    set("CredentialReady", .false, "CAUnavailable", "the installation CA is not loaded yet")
                    next = .seconds(1)
                    break
                }
                set("Ready", .true, "Ready", "the spec is valid")
                do {
                    let issued = try await ensureCertificate(auth, secretName: secretName, request: request, authority: authority, secrets: secrets, client: client, now: now)
                    set("CredentialReady", .true, "CertificateIssued", "certificate \(issued.serialNumber) is valid until \(RFC3339.string(from: issued.notAfter))")
                    status.certificate = Self.certificateStatus(issued, secretName: secretName)
                    next = .seconds(max(1, issued.renewAt.timeIntervalSince(now)))
                } catch let conflict as SecretConflict {
                    set("CredentialReady", .false, "SecretConflict", conflict.message)
                    status.certificate = nil
                    // An unlabelled Secret's deletion reaches no cache: look again now and then.
                    next = .seconds(30)
                }
            case .providedCertificate(let secretName):
                status.secretless = true
                status.credential = nil
                status.jwks = nil
                set("Ready", .true, "Ready", "the spec is valid")
                do {
                    let certificate = try Self.certificate(in: secretData[secretName] ?? [:])
                    status.certificate = Self.certificateStatus(certificate, secretName: secretName)
                    if certificate.notAfter <= now {
                        set("CredentialReady", .false, "CertificateExpired", "the certificate in Secret \"\(secretName)\" expired at \(RFC3339.string(from: certificate.notAfter))")
                    } else {
                        set("CredentialReady", .true, "CertificateProvided", "certificate \(certificate.serialNumber) from Secret \"\(secretName)\" is valid until \(RFC3339.string(from: certificate.notAfter))")
                        next = .seconds(max(1, certificate.notAfter.timeIntervalSince(now)))
                    }
                } catch let error as PKIError {
                    status.certificate = nil
                    set("CredentialReady", .false, "InvalidCertificate", "Secret \"\(secretName)\": \(error.message)")
                }
            }
        }
        status.conditions = conditions
        status.observedGeneration = generation
        if status != auth.status {
            // Debounce: at most one status write per object per second.
            let clock = ContinuousClock()
            let wait = lastWrite.withLock { writes in writes[objectKey].map { Duration.seconds(1) - $0.duration(to: clock.now) } } ?? .zero
            if wait > .zero { return .requeueAfter(wait) }
            do {
                _ = try await client.resources(UpstreamAuth.self).patch(
                    objectKey.name,
                    namespace: namespace,
                    .merge(["status": try JSONValue(encoding: status)]),
                    subresource: "status"
                )
                lastWrite.withLock { $0[objectKey] = clock.now }
                GatewayController.recordTransitions(from: auth.status?.conditions ?? [], to: conditions, of: CoreV1.ObjectReference(auth), events: events)
            } catch let error as KubernetesError where error.code == .notFound {
                return .done
            }
        }
        return next.map { .requeueAfter($0) } ?? .done
    }

    /// A Secret of the certificate's name exists and the UpstreamAuth does not own it: it is left alone.
    struct SecretConflict: Error {
        var message: String
    }

    /// The UpstreamAuth's certificate Secret, (re)issued when it is missing, due for renewal, unreadable,
    /// or was issued for another request or CA. It is labelled ``SecretLabel/owned`` and owned by the UpstreamAuth;
    /// one this UpstreamAuth owns without the label (written before the label existed) is taken over.
    ///
    /// - Throws: ``SecretConflict`` when a Secret of that name belongs to something else.
    private func ensureCertificate(
        _ auth: UpstreamAuth,
        secretName: String,
        request: CertificateRequest,
        authority: CertificateAuthority,
        secrets: Store<CoreV1.Secret>,
        client: KubernetesClient,
        now: Date
    ) async throws -> IssuedCertificate {
        let namespace = auth.metadata.namespace ?? "default"
        let fingerprint = Self.fingerprint(request, authority: authority)
        var existing = secrets.get(namespace: namespace, name: secretName)
        if let found = existing, !Self.isOwned(found, by: auth) { throw Self.conflict(namespace: namespace, name: secretName) }
        if let existing, existing.metadata.annotations?[Self.requestAnnotation] == fingerprint,
            let current = try? Self.certificate(in: existing.data ?? [:], renewBefore: request.renewBefore), current.renewAt > now
        {
            return current
        }
        let issued = try authority.issue(request, now: now)
        let owner = OwnerReference(
            apiVersion: PortcullisAPIGroup.apiVersion, kind: UpstreamAuth.kind, name: auth.metadata.name ?? "", uid: auth.metadata.uid ?? ""
        )
        var secret = existing ?? CoreV1.Secret(metadata: ObjectMeta(name: secretName, namespace: namespace))
        secret.type = "kubernetes.io/tls"
        secret.metadata.labels = (secret.metadata.labels ?? [:]).merging(["app.kubernetes.io/managed-by": "portcullis", SecretLabel.key: SecretLabel.owned]) { _, new in new }
        secret.metadata.annotations = (secret.metadata.annotations ?? [:]).merging([Self.requestAnnotation: fingerprint]) { _, new in new }
        secret.metadata.ownerReferences = [owner]
        secret.data = issued.secretData.mapValues { Data($0.utf8) }
        let secretClient = client.resources(CoreV1.Secret.self)
        if existing == nil {
            do {
                _ = try await secretClient.create(secret)
            } catch let error as KubernetesError where error.code == .alreadyExists {
                // Not in the cache, which holds labelled Secrets only: ours from before the label, or someone else's.
                existing = try await secretClient.get(secretName, namespace: namespace)
                guard let found = existing, Self.isOwned(found, by: auth) else { throw Self.conflict(namespace: namespace, name: secretName) }
                secret.metadata.resourceVersion = found.metadata.resourceVersion
                secret.metadata.labels = (found.metadata.labels ?? [:]).merging(secret.metadata.labels ?? [:]) { _, new in new }
                _ = try await secretClient.update(secret)
            }
        } else {
            _ = try await secretClient.update(secret)
        }
        logger.info("issued a client certificate", metadata: ["secret": "\(namespace)/\(secretName)", "serial": "\(issued.serialNumber)"])
        return issued
    }

    static func isOwned(_ secret: CoreV1.Secret, by auth: UpstreamAuth) -> Bool {
        secret.metadata.ownerReferences?.contains { $0.uid == auth.metadata.uid } ?? false
    }

    static func conflict(namespace: String, name: String) -> SecretConflict {
        SecretConflict(
            message: "Secret \(namespace)/\(name) exists and this UpstreamAuth does not own it, so no certificate is issued into it; delete it or rename the UpstreamAuth"
        )
    }

    /// `namespace/name`, the key of an UpstreamAuth's credential.
    static func key(_ auth: UpstreamAuth) -> String { "\(auth.metadata.namespace ?? "default")/\(auth.metadata.name ?? "")" }

    /// The certificate in a `kubernetes.io/tls` Secret's data.
    static func certificate(in data: [String: Data], renewBefore: Duration? = nil) throws -> IssuedCertificate {
        try IssuedCertificate(secretData: data.mapValues { String(decoding: $0, as: UTF8.self) }, renewBefore: renewBefore)
    }

    /// What a certificate was issued for and by, in a short stable form.
    static func fingerprint(_ request: CertificateRequest, authority: CertificateAuthority) -> String {
        var hasher = StableHash()
        hasher.add(request.commonName ?? "")
        for name in request.dnsNames { hasher.add("dns:" + name) }
        for uri in request.uris { hasher.add("uri:" + uri) }
        hasher.add("duration:\(request.duration.components.seconds)")
        hasher.add("renew:\(request.renewBefore?.components.seconds ?? -1)")
        hasher.add((try? authority.trustAnchorPEM) ?? "")
        return hasher.value
    }

    static func credentialStatus(_ snapshot: CredentialStatusSnapshot) -> CredentialStatus {
        CredentialStatus(
            expiresAt: snapshot.expiresAt.map(RFC3339.string(from:)),
            lastRefreshTime: snapshot.lastRefreshTime.map(RFC3339.string(from:)),
            nextRefreshTime: snapshot.nextRefreshTime.map(RFC3339.string(from:)),
            consecutiveFailures: snapshot.consecutiveFailures,
            lastError: snapshot.lastError?.description
        )
    }

    static func certificateStatus(_ certificate: IssuedCertificate, secretName: String) -> CertificateStatus {
        CertificateStatus(
            secretName: secretName,
            notAfter: RFC3339.string(from: certificate.notAfter),
            renewalTime: RFC3339.string(from: certificate.renewAt),
            serialNumber: certificate.serialNumber
        )
    }

    static func message(_ snapshot: CredentialStatusSnapshot?) -> String {
        guard let snapshot else { return "the first token is being obtained" }
        if snapshot.ready {
            return snapshot.expiresAt.map { "a token is in hand until \(RFC3339.string(from: $0))" } ?? "a token is in hand"
        }
        if let error = snapshot.lastError { return error.description }
        return "the first token is being obtained"
    }
}

/// FNV-1a over strings: a short digest that is the same in every process (Swift's `Hasher` is seeded per process).
struct StableHash {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func add(_ text: String) {
        for byte in text.utf8 {
            state ^= UInt64(byte)
            state &*= 0x100_0000_01b3
        }
        state ^= 0xff
        state &*= 0x100_0000_01b3
    }

    var value: String { String(state, radix: 16) }
}
