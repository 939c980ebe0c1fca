public import Foundation
public import Kubernetes
public import PKI
public import PortcullisAPI
public import UpstreamCredentials

/// How the gateway applies one UpstreamAuth.
public enum UpstreamAuthPlan: Sendable, Hashable {
    /// A token in a request header, from a provider or minted by the gateway.
    case token(UpstreamCredentialConfiguration)
    /// A client certificate the controller issues from the installation's CA into `secretName`.
    case issuedCertificate(secretName: String, request: CertificateRequest)
    /// A client certificate the user keeps in the `kubernetes.io/tls` Secret `secretName`.
    case providedCertificate(secretName: String)
}

/// Turns an UpstreamAuth spec into the plain credential configuration of ``UpstreamCredentials``:
/// validation first, then the Secrets it names, then every field onto its documented default.
public enum UpstreamAuthTranslator {
    /// The outcome for one UpstreamAuth.
    public enum Outcome: Sendable, Hashable {
        case plan(UpstreamAuthPlan)
        /// The spec is invalid: `Ready=False`, with every problem.
        case invalid([FieldError])
        /// A Secret or key it names is missing: `Ready=False`, with every problem.
        case unresolved([String])
        /// The spec asks for something the cluster admin does not allow this namespace: `Ready=False` with
        /// `reason`, naming each field.
        case notAllowed(reason: String, [FieldError])
    }

    /// The reason of an UpstreamAuth naming a token endpoint off the admin's allowlist.
    public static let endpointNotAllowed = "EndpointNotAllowed"
    /// The reason of an UpstreamAuth presenting the installation's projected token without the admin's leave.
    public static let subjectTokenNotAllowed = "SubjectTokenNotAllowed"

    /// The reason of an UpstreamAuth whose client certificate would name what is not its namespace's.
    public static let identityNotAllowed = "IdentityNotAllowed"

    /// The `sub` of gateway JWTs and federated assertions, and the CN of client certificates:
    /// `portcullis:<namespace>:<part>`, where `part` is the spec's subject (never with `:`) or the UpstreamAuth's
    /// name. Namespaces have no `:`, so what stands between the first two is always the UpstreamAuth's namespace.
    public static func subject(namespace: String, part: String) -> String { "portcullis:\(namespace):\(part)" }

    /// The Secret an issued client certificate is kept in.
    public static func certificateSecretName(for name: String) -> String { "\(name)-client-tls" }

    /// - Parameters:
    ///   - secrets: The Secrets of the UpstreamAuth's namespace, by name: each key's value.
    ///   - unreadableSecrets: Why Secrets not in `secrets` cannot be read, by name, when they exist (e.g. not
    ///     labelled `portcullis.io/secret`); a name in neither is not found.
    ///   - policy: What the cluster admin allows: token endpoints, the projected token.
    public static func translate(
        _ auth: UpstreamAuth,
        secrets: [String: [String: Data]],
        unreadableSecrets: [String: String] = [:],
        policy: TenancyPolicy
    ) -> Outcome {
        let errors = auth.validate()
        if !errors.isEmpty { return .invalid(errors) }
        let namespace = auth.metadata.namespace ?? "default"
        let name = auth.metadata.name ?? ""
        let spec = auth.spec
        if let refused = refusal(of: spec, namespace: namespace, policy: policy) { return refused }
        let subject = Self.subject(namespace: namespace, part: name)
        var unresolved: [String] = []
        func secret(_ reference: SecretKeyReference, defaultKey: String, field: String) -> ClientSecret? {
            let key = reference.key ?? defaultKey
            guard let data = secrets[reference.name] else {
                unresolved.append("\(field).name: \(unreadableSecrets[reference.name] ?? "Secret \"\(reference.name)\" not found")")
                return nil
            }
            guard let value = data[key] else {
                unresolved.append("\(field).key: Secret \"\(reference.name)\" has no key \"\(key)\"")
                return nil
            }
            return ClientSecret(String(decoding: value, as: UTF8.self))
        }

        if let mtls = spec.mutualTLS {
            if let reference = mtls.secretRef {
                guard let data = secrets[reference.name] else {
                    return .unresolved(["spec.mutualTLS.secretRef.name: \(unreadableSecrets[reference.name] ?? "Secret \"\(reference.name)\" not found")"])
                }
                let missing = [IssuedCertificate.certificateKey, IssuedCertificate.privateKeyKey].filter { data[$0] == nil }
                if !missing.isEmpty {
                    return .unresolved(["spec.mutualTLS.secretRef.name: Secret \"\(reference.name)\" has no \(missing.joined(separator: " or ")): it must be a kubernetes.io/tls Secret"])
                }
                return .plan(.providedCertificate(secretName: reference.name))
            }
            let request = CertificateRequest.client(
                commonName: subject,
                dnsNames: mtls.dnsNames ?? [],
                uris: mtls.uris ?? [],
                duration: (mtls.duration ?? MutualTLS.defaultDuration).duration,
                renewBefore: mtls.renewBefore?.duration
            )
            return .plan(.issuedCertificate(secretName: certificateSecretName(for: name), request: request))
        }

        let source: UpstreamCredentialConfiguration.Source
        do {
            if let jwt = spec.gatewayJWT {
                source = .gatewayJWT(
                    GatewayJWTConfiguration(
                        subject: Self.subject(namespace: namespace, part: jwt.subject ?? name),
                        audience: jwt.audience,
                        ttl: (jwt.ttl ?? GatewayJWT.defaultTTL).duration,
                        claims: jwt.claims ?? [:],
                        algorithm: algorithm(jwt.algorithm ?? GatewayJWT.defaultAlgorithm),
                        mintPerRequest: jwt.mintPerRequest ?? false,
                        refreshBefore: spec.refresh?.before?.duration
                    )
                )
            } else if let gcp = spec.gcpWorkloadIdentity {
                let subjectToken: GCPWorkloadIdentityConfiguration.SubjectToken
                switch gcp.subjectToken?.type ?? SubjectToken.defaultType {
                case .gatewayJWT:
                    subjectToken = .gatewayJWT(.init(subject: subject, audience: gcp.subjectToken?.audience))
                case .serviceAccountToken:
                    // refusal(of:namespace:policy:) made sure the admin set a file and allows this namespace.
                    subjectToken = .serviceAccountTokenFile(path: policy.gcpSubjectTokenFile ?? "")
                }
                source = .gcpWorkloadIdentity(
                    try GCPWorkloadIdentityConfiguration(
                        provider: gcp.provider,
                        serviceAccount: gcp.serviceAccount,
                        tokenType: (gcp.token ?? GCPWorkloadIdentity.defaultTokenType) == .idToken ? .idToken : .accessToken,
                        idTokenAudience: gcp.idTokenAudience,
                        includeEmail: gcp.includeEmail ?? false,
                        scopes: gcp.scopes ?? GCPWorkloadIdentity.defaultScopes,
                        lifetime: (gcp.lifetime ?? GCPWorkloadIdentity.defaultLifetime).duration,
                        delegates: gcp.delegates ?? [],
                        subjectToken: subjectToken,
                        endpoints: .init(
                            sts: gcp.endpoints?.sts ?? GCPWorkloadIdentity.defaultSTSEndpoint,
                            iamCredentials: gcp.endpoints?.iamCredentials ?? GCPWorkloadIdentity.defaultIAMCredentialsEndpoint
                        )
                    )
                )
            } else if let azure = spec.azureAD {
                let credential: EntraIDConfiguration.Credential
                if let federated = azure.credential.federated {
                    credential = .federated(
                        .init(
                            subject: Self.subject(namespace: namespace, part: federated.subject ?? name),
                            audience: federated.audience ?? FederatedCredential.defaultAudience
                        )
                    )
                } else if let reference = azure.credential.clientSecretRef,
                    let value = secret(reference, defaultKey: "client-secret", field: "spec.azureAD.credential.clientSecretRef")
                {
                    credential = .clientSecret(value)
                } else {
                    return .unresolved(unresolved)
                }
                source = .entraID(
                    try EntraIDConfiguration(
                        tenantID: azure.tenantID,
                        clientID: azure.clientID,
                        scope: azure.scope,
                        authorityHost: azure.authorityHost ?? AzureAD.defaultAuthorityHost,
                        credential: credential
                    )
                )
            } else if let oauth2 = spec.oauth2ClientCredentials {
                let authentication: OAuth2ClientCredentialsConfiguration.ClientAuthentication
                let field = "spec.oauth2ClientCredentials.clientSecretRef"
                switch oauth2.clientAuth ?? OAuth2ClientCredentials.defaultClientAuthentication {
                case .privateKeyJWT:
                    authentication = .privateKeyJWT(.init(namespace: namespace))
                case .clientSecretBasic:
                    guard let reference = oauth2.clientSecretRef, let value = secret(reference, defaultKey: "client-secret", field: field) else {
                        return .unresolved(unresolved)
                    }
                    authentication = .clientSecretBasic(value)
                case .clientSecretPost:
                    guard let reference = oauth2.clientSecretRef, let value = secret(reference, defaultKey: "client-secret", field: field) else {
                        return .unresolved(unresolved)
                    }
                    authentication = .clientSecretPost(value)
                }
                source = .oauth2ClientCredentials(
                    try OAuth2ClientCredentialsConfiguration(
                        tokenURL: oauth2.tokenURL,
                        clientID: oauth2.clientID,
                        clientAuthentication: authentication,
                        scopes: oauth2.scopes ?? [],
                        audience: oauth2.audience,
                        resource: oauth2.resource,
                        extraParams: oauth2.extraParams ?? [:]
                    )
                )
            } else {
                return .invalid([FieldError(.required, field: "spec", detail: "exactly one credential source must be set")])
            }
        } catch let error as CredentialError {
            return .invalid([FieldError(.invalid, field: "spec.\(spec.credentialType.map(fieldName) ?? "")", detail: error.message)])
        } catch {
            return .invalid([FieldError(.invalid, field: "spec", detail: "\(error)")])
        }
        let header = CredentialHeader(
            name: spec.header?.name ?? PortcullisAPI.CredentialHeader.defaultName,
            prefix: spec.header?.prefix ?? PortcullisAPI.CredentialHeader.defaultPrefix
        )
        return .plan(.token(UpstreamCredentialConfiguration(source: source, header: header, refresh: TokenRefreshConfiguration(before: spec.refresh?.before?.duration))))
    }

    /// Why the admin does not allow `spec` in `namespace`: a client certificate naming what is not the
    /// namespace's, a token endpoint off the allowlist, or the installation's projected token presented
    /// without leave; `nil` when it is allowed.
    static func refusal(of spec: UpstreamAuthSpec, namespace: String, policy: TenancyPolicy) -> Outcome? {
        if let mtls = spec.mutualTLS {
            let refused = identityRefusals(of: mtls, namespace: namespace, policy: policy)
            if !refused.isEmpty { return .notAllowed(reason: identityNotAllowed, refused) }
        }
        var endpoints: [(field: String, url: String)] = []
        if let gcp = spec.gcpWorkloadIdentity {
            endpoints.append(("spec.gcpWorkloadIdentity.endpoints.sts", gcp.endpoints?.sts ?? GCPWorkloadIdentity.defaultSTSEndpoint))
            if gcp.serviceAccount != nil {
                endpoints.append(
                    ("spec.gcpWorkloadIdentity.endpoints.iamCredentials", gcp.endpoints?.iamCredentials ?? GCPWorkloadIdentity.defaultIAMCredentialsEndpoint)
                )
            }
            if gcp.subjectToken?.type == .serviceAccountToken {
                let field = "spec.gcpWorkloadIdentity.subjectToken.type"
                if policy.gcpSubjectTokenFile == nil {
                    return .notAllowed(
                        reason: subjectTokenNotAllowed,
                        [FieldError(.forbidden, field: field, detail: "the cluster admin configures no projected token for this installation (--gcp-subject-token-file); use GatewayJWT")]
                    )
                }
                if !policy.gcpSubjectTokenNamespaces.contains(namespace) {
                    return .notAllowed(
                        reason: subjectTokenNotAllowed,
                        [FieldError(.forbidden, field: field, detail: "the installation's projected token is its own identity; the cluster admin has not let namespace \(namespace) present it (--gcp-subject-token-namespace); use GatewayJWT")]
                    )
                }
            }
        }
        if let azure = spec.azureAD { endpoints.append(("spec.azureAD.authorityHost", azure.authorityHost ?? AzureAD.defaultAuthorityHost)) }
        if let oauth2 = spec.oauth2ClientCredentials { endpoints.append(("spec.oauth2ClientCredentials.tokenURL", oauth2.tokenURL)) }
        let refused = endpoints.compactMap { endpoint in
            policy.tokenEndpoints.refusal(endpoint.url).map { FieldError(.forbidden, field: endpoint.field, detail: "\(endpoint.url) \($0)") }
        }
        return refused.isEmpty ? nil : .notAllowed(reason: endpointNotAllowed, refused)
    }

    /// The algorithm a gateway JWT is signed with.
    static func algorithm(_ algorithm: GatewayJWT.Algorithm) -> SigningKey.Algorithm {
        switch algorithm {
        case .es256: .es256
        case .rs256: .rs256
        case .edDSA: .edDSA
        }
    }

    /// The spec field of a credential type, for error messages.
    static func fieldName(_ type: CredentialType) -> String {
        switch type {
        case .gatewayJWT: "gatewayJWT"
        case .gcpWorkloadIdentity: "gcpWorkloadIdentity"
        case .azureAD: "azureAD"
        case .oauth2ClientCredentials: "oauth2ClientCredentials"
        case .mutualTLS: "mutualTLS"
        }
    }

    /// Whether `auth`'s assertions are signed with its namespace's key (private_key_jwt), so the gateway serves
    /// that namespace's JWKS.
    static func signsWithNamespaceKey(_ auth: UpstreamAuth) -> Bool {
        guard let oauth2 = auth.spec.oauth2ClientCredentials else { return false }
        return (oauth2.clientAuth ?? OAuth2ClientCredentials.defaultClientAuthentication) == .privateKeyJWT
    }

    /// The signing algorithms a plan needs a key for.
    static func signingAlgorithms(of plan: UpstreamAuthPlan) -> Set<SigningKey.Algorithm> {
        guard case .token(let configuration) = plan else { return [] }
        switch configuration.source {
        case .gatewayJWT(let jwt): return [jwt.algorithm]
        case .gcpWorkloadIdentity(let gcp):
            if case .gatewayJWT(let subject) = gcp.subjectToken { return [subject.algorithm] }
            return []
        case .entraID(let entra):
            if case .federated(let assertion) = entra.credential { return [assertion.algorithm] }
            return []
        case .oauth2ClientCredentials(let oauth2):
            // Namespace keys derive from the installation's ES256 keys.
            if case .privateKeyJWT = oauth2.clientAuthentication { return [.es256] }
            return []
        }
    }
}
