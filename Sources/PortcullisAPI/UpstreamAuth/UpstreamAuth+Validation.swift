public import Kubernetes
import Foundation

extension UpstreamAuth {
    /// Semantic rules the schema cannot express; see docs/api.md.
    public func validate() -> [FieldError] {
        var checks = FieldChecks()
        let spec = FieldPath("spec")
        let s = self.spec
        checks.exactlyOne(
            spec,
            [
                ("gatewayJWT", s.gatewayJWT != nil), ("gcpWorkloadIdentity", s.gcpWorkloadIdentity != nil),
                ("azureAD", s.azureAD != nil), ("oauth2ClientCredentials", s.oauth2ClientCredentials != nil),
                ("mutualTLS", s.mutualTLS != nil),
            ]
        )
        if let jwt = s.gatewayJWT { UpstreamAuth.validate(jwt, refresh: s.refresh, at: spec, checks: &checks) }
        if let gcp = s.gcpWorkloadIdentity { UpstreamAuth.validate(gcp, at: spec.child("gcpWorkloadIdentity"), checks: &checks) }
        if let azure = s.azureAD { UpstreamAuth.validate(azure, at: spec.child("azureAD"), checks: &checks) }
        if let oauth2 = s.oauth2ClientCredentials {
            UpstreamAuth.validate(oauth2, at: spec.child("oauth2ClientCredentials"), checks: &checks)
        }
        if let mtls = s.mutualTLS {
            UpstreamAuth.validate(mtls, at: spec.child("mutualTLS"), checks: &checks)
            if s.header != nil {
                checks.forbidden(spec.child("header"), "a mutualTLS credential is presented in the TLS handshake, not in a header")
            }
            if s.refresh != nil {
                checks.forbidden(spec.child("refresh"), "mutualTLS certificates are renewed according to mutualTLS.renewBefore")
            }
        }
        if let name = s.header?.name, FieldChecks.reservedHeaderNames.contains(name.lowercased()) {
            checks.invalid(spec.child("header").child("name"), .string(name), "is managed by the gateway and cannot carry a credential")
        }
        if let prefix = s.header?.prefix, !SchemaValidator.matches(prefix, pattern: CommonSchemas.headerTextPattern) {
            checks.invalid(spec.child("header").child("prefix"), .string(prefix), "must be printable ASCII and spaces: it is sent in a header")
        }
        if let before = s.refresh?.before, before.duration == .zero {
            checks.invalid(spec.child("refresh").child("before"), .string(before.description), "must be greater than 0")
        }
        UpstreamAuth.validateSending(s, at: spec, checks: &checks)
        return checks.errors
    }

    /// `allowedDestinations`, `allowCleartext` and `allowUnverifiedTLS`.
    private static func validateSending(_ s: UpstreamAuthSpec, at spec: FieldPath, checks: inout FieldChecks) {
        for (index, destination) in (s.allowedDestinations ?? []).enumerated() {
            let path = spec.child("allowedDestinations").index(index)
            checks.exactlyOne(path, [("url", destination.url != nil), ("service", destination.service != nil)])
            guard let url = destination.url else { continue }
            guard let origin = destination.origin else {
                checks.invalid(path.child("url"), .string(url), "must be an origin, https://host[:port], whose host may start with *.")
                continue
            }
            if origin.scheme == "http" && s.allowCleartext != true {
                checks.invalid(path.child("url"), .string(url), "is cleartext: set allowCleartext to send the credential over http")
            }
        }
        if s.mutualTLS != nil && s.allowCleartext != nil {
            checks.forbidden(spec.child("allowCleartext"), "a client certificate is only ever presented over TLS")
        }
    }

    private static func validate(_ jwt: GatewayJWT, refresh: RefreshPolicy?, at spec: FieldPath, checks: inout FieldChecks) {
        let path = spec.child("gatewayJWT")
        if let subject = jwt.subject { validate(subject: subject, at: path.child("subject"), checks: &checks) }
        let ttl = jwt.ttl ?? GatewayJWT.defaultTTL
        checks.duration(path.child("ttl"), jwt.ttl, atLeast: GatewayJWT.minimumTTL, atMost: GatewayJWT.maximumTTL)
        for claim in (jwt.claims ?? [:]).keys.sorted() where GatewayJWT.reservedClaims.contains(claim) {
            checks.forbidden(path.child("claims").key(claim), "the gateway sets \(claim) itself")
        }
        if let before = refresh?.before, before >= ttl {
            checks.invalid(spec.child("refresh").child("before"), .string(before.description), "must be less than gatewayJWT.ttl \(ttl.description)")
        }
    }

    /// A subject is the part of `sub` after `portcullis:<namespace>:`: the gateway writes the namespace, so no `:`.
    private static func validate(subject: String, at path: FieldPath, checks: inout FieldChecks) {
        if subject.isEmpty || subject.contains(":") {
            checks.invalid(
                path, .string(subject),
                "must be non-empty and without ':': it is what sub says after portcullis:<namespace>:, which the gateway writes itself"
            )
        }
    }

    private static func validate(_ gcp: GCPWorkloadIdentity, at path: FieldPath, checks: inout FieldChecks) {
        if GCPWorkloadIdentity.normalizedProvider(gcp.provider) == nil {
            checks.invalid(
                path.child("provider"),
                .string(gcp.provider),
                "must be projects/<project-number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>, optionally prefixed with //iam.googleapis.com/"
            )
        }
        let tokenType = gcp.token ?? GCPWorkloadIdentity.defaultTokenType
        switch tokenType {
        case .idToken:
            if gcp.serviceAccount == nil {
                checks.required(path.child("serviceAccount"), "an IDToken is issued for a service account")
            }
            if gcp.idTokenAudience == nil {
                checks.required(path.child("idTokenAudience"), "an IDToken needs an audience: the Cloud Run URL or the IAP client ID")
            }
            if gcp.scopes != nil { checks.forbidden(path.child("scopes"), "scopes apply only to AccessToken") }
            if gcp.lifetime != nil { checks.forbidden(path.child("lifetime"), "ID tokens always last one hour") }
        case .accessToken:
            if gcp.idTokenAudience != nil { checks.forbidden(path.child("idTokenAudience"), "applies only to token IDToken") }
            if gcp.includeEmail != nil { checks.forbidden(path.child("includeEmail"), "applies only to token IDToken") }
            if gcp.lifetime != nil && gcp.serviceAccount == nil {
                checks.forbidden(path.child("lifetime"), "federated tokens from STS always last one hour; set serviceAccount to choose a lifetime")
            }
        }
        checks.duration(path.child("lifetime"), gcp.lifetime, atLeast: APIDuration(.seconds(60)), atMost: GCPWorkloadIdentity.maximumLifetime)
        if gcp.delegates != nil && gcp.serviceAccount == nil {
            checks.forbidden(path.child("delegates"), "delegation applies only when impersonating a serviceAccount")
        }
        for (index, delegate) in (gcp.delegates ?? []).enumerated() {
            let email = delegate.hasPrefix("projects/-/serviceAccounts/") ? String(delegate.dropFirst("projects/-/serviceAccounts/".count)) : delegate
            if !SchemaValidator.matches(email, pattern: emailPattern) {
                checks.invalid(path.child("delegates").index(index), .string(delegate), "must be a service account email or projects/-/serviceAccounts/<email>")
            }
        }
        if let subject = gcp.subjectToken {
            let subjectPath = path.child("subjectToken")
            if subject.type == .serviceAccountToken, subject.audience != nil {
                checks.forbidden(subjectPath.child("audience"), "the projected token's audience is set where the cluster admin projects it")
            }
        }
        if let endpoints = gcp.endpoints {
            if let sts = endpoints.sts { checks.endpointURL(path.child("endpoints").child("sts"), sts, allowHTTP: false) }
            if let iam = endpoints.iamCredentials {
                checks.endpointURL(path.child("endpoints").child("iamCredentials"), iam, allowHTTP: false)
            }
        }
    }

    private static func validate(_ azure: AzureAD, at path: FieldPath, checks: inout FieldChecks) {
        let tenant = azure.tenantID
        if ["common", "organizations", "consumers"].contains(tenant.lowercased()) {
            checks.invalid(path.child("tenantID"), .string(tenant), "client credentials need a specific tenant: use the tenant ID or a verified domain")
        } else if !SchemaValidator.matches(tenant, pattern: guidPattern) && !SchemaValidator.matches(tenant, pattern: Route.hostnamePattern) {
            checks.invalid(path.child("tenantID"), .string(tenant), "must be a tenant ID (a GUID) or a domain such as contoso.onmicrosoft.com")
        }
        if azure.scope.contains(" ") {
            checks.invalid(path.child("scope"), .string(azure.scope), "must name a single resource")
        }
        if let host = azure.authorityHost {
            checks.endpointURL(path.child("authorityHost"), host, allowHTTP: false, allowPath: false)
        }
        let credential = path.child("credential")
        if let subject = azure.credential.federated?.subject {
            validate(subject: subject, at: credential.child("federated").child("subject"), checks: &checks)
        }
        checks.exactlyOne(
            credential,
            [("federated", azure.credential.federated != nil), ("clientSecretRef", azure.credential.clientSecretRef != nil)]
        )
    }

    private static func validate(_ oauth2: OAuth2ClientCredentials, at path: FieldPath, checks: inout FieldChecks) {
        checks.endpointURL(path.child("tokenURL"), oauth2.tokenURL, allowHTTP: false)
        let clientAuth = oauth2.clientAuth ?? OAuth2ClientCredentials.defaultClientAuthentication
        switch clientAuth {
        case .privateKeyJWT:
            if oauth2.clientSecretRef != nil {
                checks.forbidden(path.child("clientSecretRef"), "private_key_jwt authenticates with the gateway's key, not a secret")
            }
        case .clientSecretBasic, .clientSecretPost:
            if oauth2.clientSecretRef == nil {
                checks.required(path.child("clientSecretRef"), "\(clientAuth.rawValue) sends a client secret; or use clientAuth private_key_jwt")
            }
        }
        if let resource = oauth2.resource {
            if URLComponents(string: resource)?.scheme == nil || resource.contains("#") {
                checks.invalid(path.child("resource"), .string(resource), "must be an absolute URI without a fragment (RFC 8707)")
            }
        }
        for name in (oauth2.extraParams ?? [:]).keys.sorted() where OAuth2ClientCredentials.reservedParameters.contains(name) {
            checks.forbidden(path.child("extraParams").key(name), "the gateway sets \(name) itself")
        }
    }

    private static func validate(_ mtls: MutualTLS, at path: FieldPath, checks: inout FieldChecks) {
        if mtls.secretRef != nil {
            for (name, isSet) in [
                ("duration", mtls.duration != nil), ("renewBefore", mtls.renewBefore != nil), ("dnsNames", mtls.dnsNames != nil),
                ("uris", mtls.uris != nil),
            ] where isSet {
                checks.forbidden(path.child(name), "the certificate comes from secretRef, so nothing is issued")
            }
            return
        }
        let duration = mtls.duration ?? MutualTLS.defaultDuration
        checks.duration(path.child("duration"), mtls.duration, atLeast: MutualTLS.minimumDuration, atMost: MutualTLS.maximumDuration)
        if let renewBefore = mtls.renewBefore {
            if renewBefore.duration == .zero || renewBefore >= duration {
                checks.invalid(path.child("renewBefore"), .string(renewBefore.description), "must be greater than 0 and less than duration \(duration.description)")
            }
        }
        for (index, uri) in (mtls.uris ?? []).enumerated() where URLComponents(string: uri)?.scheme == nil {
            checks.invalid(path.child("uris").index(index), .string(uri), "must be an absolute URI")
        }
    }
}

extension CredentialDestination {
    /// A destination origin: scheme, host (lowercase, without `*.`), port, and whether it covers every name
    /// under the host.
    public struct Origin: Sendable, Hashable {
        public var scheme: String
        public var host: String
        public var port: Int
        public var coversSubdomains: Bool
    }

    /// The origin of ``url``, or `nil` when it is not one.
    public var origin: Origin? {
        guard var text = url else { return nil }
        var wildcard = false
        if let range = text.range(of: "://*.") {
            wildcard = true
            text.replaceSubrange(range, with: "://")
        }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
            let host = components.host?.lowercased(), !host.isEmpty, !host.contains("*"), components.user == nil, components.password == nil,
            components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil
        else { return nil }
        return Origin(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 80), coversSubdomains: wildcard)
    }
}
