import Kubernetes
import PortcullisAPI
import Testing

/// One semantic rule: an UpstreamAuth spec, and the exact messages it must produce.
struct UpstreamAuthCase: Sendable, CustomTestStringConvertible {
    var name: String
    var spec: UpstreamAuthSpec
    var expected: [String]

    var testDescription: String { name }
}

@Suite struct UpstreamAuthValidationTests {
    static func d(_ text: String) -> APIDuration { APIDuration(text)! }

    static let provider = "projects/123456/locations/global/workloadIdentityPools/gateway-pool/providers/portcullis"
    static let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    static let client = "0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d"

    static func gcp(_ change: (inout GCPWorkloadIdentity) -> Void) -> UpstreamAuthSpec {
        var gcp = GCPWorkloadIdentity(provider: provider)
        change(&gcp)
        return UpstreamAuthSpec(gcpWorkloadIdentity: gcp)
    }

    static func azure(_ change: (inout AzureAD) -> Void) -> UpstreamAuthSpec {
        var azure = AzureAD(tenantID: tenant, clientID: client, scope: "api://backend/.default", credential: AzureCredential(federated: FederatedCredential()))
        change(&azure)
        return UpstreamAuthSpec(azureAD: azure)
    }

    static func oauth2(_ change: (inout OAuth2ClientCredentials) -> Void) -> UpstreamAuthSpec {
        var oauth2 = OAuth2ClientCredentials(tokenURL: "https://idp.example.com/oauth2/token", clientID: "gateway", clientAuth: .privateKeyJWT)
        change(&oauth2)
        return UpstreamAuthSpec(oauth2ClientCredentials: oauth2)
    }

    static func messages(_ spec: UpstreamAuthSpec) -> [String] {
        UpstreamAuth(metadata: ObjectMeta(name: "auth", namespace: "default"), spec: spec).validate().map(\.description)
    }

    static let validSpecs: [UpstreamAuthSpec] = [
        UpstreamAuthSpec(gatewayJWT: GatewayJWT(subject: "orders-reader", audience: "https://api.example.com", claims: ["tenant": "a"])),
        UpstreamAuthSpec(gatewayJWT: GatewayJWT()),
        gcp { $0.serviceAccount = "gw@project.iam.gserviceaccount.com"; $0.token = .idToken; $0.idTokenAudience = "https://svc-abc-uc.a.run.app"; $0.includeEmail = true },
        gcp { $0.provider = "//iam.googleapis.com/" + provider; $0.serviceAccount = "gw@project.iam.gserviceaccount.com"; $0.lifetime = d("30m"); $0.delegates = ["projects/-/serviceAccounts/d@p.iam.gserviceaccount.com"] },
        gcp { $0.subjectToken = SubjectToken(type: .serviceAccountToken) },
        azure { $0.tenantID = "contoso.onmicrosoft.com"; $0.credential.federated?.subject = "ledger-api" },
        azure { $0.credential = AzureCredential(clientSecretRef: SecretKeyReference(name: "entra")) },
        oauth2 { $0.clientAuth = .clientSecretPost; $0.clientSecretRef = SecretKeyReference(name: "idp"); $0.resource = "https://api.example.com"; $0.extraParams = ["tenant": "a"] },
        UpstreamAuthSpec(mutualTLS: MutualTLS(duration: d("48h"), renewBefore: d("12h"), uris: ["spiffe://example.com/gateway"])),
        UpstreamAuthSpec(mutualTLS: MutualTLS(secretRef: LocalObjectReference(name: "client-cert"))),
    ]

    @Test(arguments: validSpecs)
    func validSpecsHaveNoErrors(_ spec: UpstreamAuthSpec) {
        #expect(Self.messages(spec) == [])
    }

    static let cases: [UpstreamAuthCase] = [
        UpstreamAuthCase(name: "no source", spec: UpstreamAuthSpec(),
                         expected: ["spec: Required value: exactly one of gatewayJWT, gcpWorkloadIdentity, azureAD, oauth2ClientCredentials, mutualTLS must be set"]),
        UpstreamAuthCase(name: "two sources", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(), mutualTLS: MutualTLS()),
                         expected: ["spec.mutualTLS: Forbidden: exactly one of gatewayJWT, gcpWorkloadIdentity, azureAD, oauth2ClientCredentials, mutualTLS may be set, and gatewayJWT is set"]),
        UpstreamAuthCase(name: "mTLS with a header", spec: UpstreamAuthSpec(mutualTLS: MutualTLS(), header: CredentialHeader(name: "Authorization")),
                         expected: ["spec.header: Forbidden: a mutualTLS credential is presented in the TLS handshake, not in a header"]),
        UpstreamAuthCase(name: "mTLS with refresh", spec: UpstreamAuthSpec(mutualTLS: MutualTLS(), refresh: RefreshPolicy(before: d("1h"))),
                         expected: ["spec.refresh: Forbidden: mutualTLS certificates are renewed according to mutualTLS.renewBefore"]),
        UpstreamAuthCase(name: "reserved header", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(), header: CredentialHeader(name: "Host")),
                         expected: [#"spec.header.name: Invalid value: "Host": is managed by the gateway and cannot carry a credential"#]),
        UpstreamAuthCase(name: "header prefix with a line break", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(), header: CredentialHeader(name: "Authorization", prefix: "Bearer\r\nX-Injected: ")),
                         expected: [#"spec.header.prefix: Invalid value: "Bearer\r\nX-Injected: ": must be printable ASCII and spaces: it is sent in a header"#]),
        UpstreamAuthCase(name: "zero refresh", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(), refresh: RefreshPolicy(before: d("0s"))),
                         expected: [#"spec.refresh.before: Invalid value: "0s": must be greater than 0"#]),
        UpstreamAuthCase(name: "a subject naming another namespace", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(subject: "portcullis:other-team:api")),
                         expected: [#"spec.gatewayJWT.subject: Invalid value: "portcullis:other-team:api": must be non-empty and without ':': it is what sub says after portcullis:<namespace>:, which the gateway writes itself"#]),
        UpstreamAuthCase(name: "an empty subject", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(subject: "")),
                         expected: [#"spec.gatewayJWT.subject: Invalid value: "": must be non-empty and without ':': it is what sub says after portcullis:<namespace>:, which the gateway writes itself"#]),
        UpstreamAuthCase(name: "a federated subject naming another namespace", spec: azure { $0.credential.federated?.subject = "portcullis:finance:ledger-api" },
                         expected: [#"spec.azureAD.credential.federated.subject: Invalid value: "portcullis:finance:ledger-api": must be non-empty and without ':': it is what sub says after portcullis:<namespace>:, which the gateway writes itself"#]),
        UpstreamAuthCase(name: "short ttl", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(ttl: d("10s"))),
                         expected: [#"spec.gatewayJWT.ttl: Invalid value: "10s": must be at least 30s"#]),
        UpstreamAuthCase(name: "long ttl", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(ttl: d("25h"))),
                         expected: [#"spec.gatewayJWT.ttl: Invalid value: "25h": must be at most 24h"#]),
        UpstreamAuthCase(name: "reserved claims", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(claims: ["iss": "x", "exp": "1", "team": "a"])),
                         expected: ["spec.gatewayJWT.claims[exp]: Forbidden: the gateway sets exp itself", "spec.gatewayJWT.claims[iss]: Forbidden: the gateway sets iss itself"]),
        UpstreamAuthCase(name: "refresh not before expiry", spec: UpstreamAuthSpec(gatewayJWT: GatewayJWT(), refresh: RefreshPolicy(before: d("5m"))),
                         expected: [#"spec.refresh.before: Invalid value: "5m": must be less than gatewayJWT.ttl 5m"#]),
        UpstreamAuthCase(name: "pool instead of provider", spec: gcp { $0.provider = "projects/123456/locations/global/workloadIdentityPools/gateway-pool" },
                         expected: [#"spec.gcpWorkloadIdentity.provider: Invalid value: "projects/123456/locations/global/workloadIdentityPools/gateway-pool": must be projects/<project-number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>, optionally prefixed with //iam.googleapis.com/"#]),
        UpstreamAuthCase(name: "project ID instead of number", spec: gcp { $0.provider = "projects/my-project/locations/global/workloadIdentityPools/gateway-pool/providers/portcullis" },
                         expected: [#"spec.gcpWorkloadIdentity.provider: Invalid value: "projects/my-project/locations/global/workloadIdentityPools/gateway-pool/providers/portcullis": must be projects/<project-number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>, optionally prefixed with //iam.googleapis.com/"#]),
        UpstreamAuthCase(name: "ID token without service account or audience", spec: gcp { $0.token = .idToken },
                         expected: [
                            "spec.gcpWorkloadIdentity.serviceAccount: Required value: an IDToken is issued for a service account",
                            "spec.gcpWorkloadIdentity.idTokenAudience: Required value: an IDToken needs an audience: the Cloud Run URL or the IAP client ID",
                         ]),
        UpstreamAuthCase(name: "ID token with scopes and lifetime",
                         spec: gcp { $0.token = .idToken; $0.serviceAccount = "a@b.iam.gserviceaccount.com"; $0.idTokenAudience = "x"; $0.scopes = ["https://www.googleapis.com/auth/cloud-platform"]; $0.lifetime = d("1h") },
                         expected: [
                            "spec.gcpWorkloadIdentity.scopes: Forbidden: scopes apply only to AccessToken",
                            "spec.gcpWorkloadIdentity.lifetime: Forbidden: ID tokens always last one hour",
                         ]),
        UpstreamAuthCase(name: "access token with ID token fields", spec: gcp { $0.idTokenAudience = "x"; $0.includeEmail = true },
                         expected: [
                            "spec.gcpWorkloadIdentity.idTokenAudience: Forbidden: applies only to token IDToken",
                            "spec.gcpWorkloadIdentity.includeEmail: Forbidden: applies only to token IDToken",
                         ]),
        UpstreamAuthCase(name: "lifetime without impersonation", spec: gcp { $0.lifetime = d("30m") },
                         expected: ["spec.gcpWorkloadIdentity.lifetime: Forbidden: federated tokens from STS always last one hour; set serviceAccount to choose a lifetime"]),
        UpstreamAuthCase(name: "lifetime over 12h", spec: gcp { $0.serviceAccount = "a@b.iam.gserviceaccount.com"; $0.lifetime = d("13h") },
                         expected: [#"spec.gcpWorkloadIdentity.lifetime: Invalid value: "13h": must be at most 12h"#]),
        UpstreamAuthCase(name: "delegates without impersonation", spec: gcp { $0.delegates = ["d@p.iam.gserviceaccount.com"] },
                         expected: ["spec.gcpWorkloadIdentity.delegates: Forbidden: delegation applies only when impersonating a serviceAccount"]),
        UpstreamAuthCase(name: "malformed delegate", spec: gcp { $0.serviceAccount = "a@b.iam.gserviceaccount.com"; $0.delegates = ["projects/p/serviceAccounts/nobody"] },
                         expected: [#"spec.gcpWorkloadIdentity.delegates[0]: Invalid value: "projects/p/serviceAccounts/nobody": must be a service account email or projects/-/serviceAccounts/<email>"#]),
        UpstreamAuthCase(name: "projected token with an audience", spec: gcp { $0.subjectToken = SubjectToken(type: .serviceAccountToken, audience: "https://iam.googleapis.com/x") },
                         expected: ["spec.gcpWorkloadIdentity.subjectToken.audience: Forbidden: the projected token's audience is set where the cluster admin projects it"]),
        UpstreamAuthCase(name: "plain http STS", spec: gcp { $0.endpoints = GCPEndpoints(sts: "http://sts.example.com/v1/token") },
                         expected: [#"spec.gcpWorkloadIdentity.endpoints.sts: Invalid value: "http://sts.example.com/v1/token": must use https (http is only allowed to a loopback address)"#]),
        UpstreamAuthCase(name: "loopback http endpoints are allowed", spec: gcp { $0.endpoints = GCPEndpoints(sts: "http://127.0.0.1:8181/v1/token", iamCredentials: "http://[::1]:8182") },
                         expected: []),
        UpstreamAuthCase(name: "multi-tenant authority", spec: azure { $0.tenantID = "common" },
                         expected: [#"spec.azureAD.tenantID: Invalid value: "common": client credentials need a specific tenant: use the tenant ID or a verified domain"#]),
        UpstreamAuthCase(name: "malformed tenant", spec: azure { $0.tenantID = "Contoso Ltd" },
                         expected: [#"spec.azureAD.tenantID: Invalid value: "Contoso Ltd": must be a tenant ID (a GUID) or a domain such as contoso.onmicrosoft.com"#]),
        UpstreamAuthCase(name: "two resources in scope", spec: azure { $0.scope = "api://a/.default api://b/.default" },
                         expected: [#"spec.azureAD.scope: Invalid value: "api://a/.default api://b/.default": must name a single resource"#]),
        UpstreamAuthCase(name: "authority with a path", spec: azure { $0.authorityHost = "https://login.microsoftonline.com/tenant" },
                         expected: [#"spec.azureAD.authorityHost: Invalid value: "https://login.microsoftonline.com/tenant": must not have a path"#]),
        UpstreamAuthCase(name: "no Entra credential", spec: azure { $0.credential = AzureCredential() },
                         expected: ["spec.azureAD.credential: Required value: exactly one of federated, clientSecretRef must be set"]),
        UpstreamAuthCase(name: "two Entra credentials", spec: azure { $0.credential.clientSecretRef = SecretKeyReference(name: "s") },
                         expected: ["spec.azureAD.credential.clientSecretRef: Forbidden: exactly one of federated, clientSecretRef may be set, and federated is set"]),
        UpstreamAuthCase(name: "plain http token URL", spec: oauth2 { $0.tokenURL = "http://idp.example.com/token" },
                         expected: [#"spec.oauth2ClientCredentials.tokenURL: Invalid value: "http://idp.example.com/token": must use https (http is only allowed to a loopback address)"#]),
        UpstreamAuthCase(name: "private_key_jwt with a secret", spec: oauth2 { $0.clientSecretRef = SecretKeyReference(name: "s") },
                         expected: ["spec.oauth2ClientCredentials.clientSecretRef: Forbidden: private_key_jwt authenticates with the gateway's key, not a secret"]),
        UpstreamAuthCase(name: "client_secret_basic without a secret", spec: oauth2 { $0.clientAuth = nil },
                         expected: ["spec.oauth2ClientCredentials.clientSecretRef: Required value: client_secret_basic sends a client secret; or use clientAuth private_key_jwt"]),
        UpstreamAuthCase(name: "relative resource", spec: oauth2 { $0.resource = "api" },
                         expected: [#"spec.oauth2ClientCredentials.resource: Invalid value: "api": must be an absolute URI without a fragment (RFC 8707)"#]),
        UpstreamAuthCase(name: "extra params overriding the grant", spec: oauth2 { $0.extraParams = ["grant_type": "password", "client_secret": "x"] },
                         expected: [
                            "spec.oauth2ClientCredentials.extraParams[client_secret]: Forbidden: the gateway sets client_secret itself",
                            "spec.oauth2ClientCredentials.extraParams[grant_type]: Forbidden: the gateway sets grant_type itself",
                         ]),
        UpstreamAuthCase(name: "issuing settings with secretRef",
                         spec: UpstreamAuthSpec(mutualTLS: MutualTLS(secretRef: LocalObjectReference(name: "c"), duration: d("2h"), dnsNames: ["a"])),
                         expected: [
                            "spec.mutualTLS.duration: Forbidden: the certificate comes from secretRef, so nothing is issued",
                            "spec.mutualTLS.dnsNames: Forbidden: the certificate comes from secretRef, so nothing is issued",
                         ]),
        UpstreamAuthCase(name: "short certificate", spec: UpstreamAuthSpec(mutualTLS: MutualTLS(duration: d("30m"))),
                         expected: [#"spec.mutualTLS.duration: Invalid value: "30m": must be at least 1h"#]),
        UpstreamAuthCase(name: "renewal after expiry", spec: UpstreamAuthSpec(mutualTLS: MutualTLS(duration: d("24h"), renewBefore: d("24h"))),
                         expected: [#"spec.mutualTLS.renewBefore: Invalid value: "24h": must be greater than 0 and less than duration 24h"#]),
        UpstreamAuthCase(name: "relative URI SAN", spec: UpstreamAuthSpec(mutualTLS: MutualTLS(uris: ["gateway"])),
                         expected: [#"spec.mutualTLS.uris[0]: Invalid value: "gateway": must be an absolute URI"#]),
    ]

    @Test(arguments: cases)
    func eachRuleNamesTheFieldAndTheValue(_ testCase: UpstreamAuthCase) {
        #expect(Self.messages(testCase.spec) == testCase.expected)
    }

    @Test func providerNamesAreNormalisedToTheSTSAudience() {
        let full = "//iam.googleapis.com/" + Self.provider
        #expect(GCPWorkloadIdentity.normalizedProvider(Self.provider) == full)
        #expect(GCPWorkloadIdentity.normalizedProvider(full) == full)
        #expect(GCPWorkloadIdentity.normalizedProvider("https://iam.googleapis.com/" + Self.provider) == nil)
    }

    @Test func credentialTypeNamesTheSingleSource() {
        #expect(UpstreamAuthSpec(gatewayJWT: GatewayJWT()).credentialType == .gatewayJWT)
        #expect(Self.azure { _ in }.credentialType == .azureAD)
        #expect(UpstreamAuthSpec().credentialType == nil)
        #expect(UpstreamAuthSpec(gatewayJWT: GatewayJWT(), mutualTLS: MutualTLS()).credentialType == nil)
    }
}
