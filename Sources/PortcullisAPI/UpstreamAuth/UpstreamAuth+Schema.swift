public import Kubernetes

extension UpstreamAuth {
    public static let kind = "UpstreamAuth"
    public static let plural = "upstreamauths"
    public static let shortNames = ["ua"]
    public static let summary =
        "UpstreamAuth says how the gateway proves its identity to an upstream without a long-lived secret: a gateway-signed JWT, Google Cloud workload identity federation, Microsoft Entra ID, OAuth 2.0 client credentials, or a mutual-TLS client certificate. Routes apply UpstreamAuths through spec.authRefs."

    public static var printerColumns: [CustomResourceDefinition.PrinterColumn] {
        [
            .init(name: "Type", type: "string", jsonPath: ".status.type", description: "The credential source."),
            .init(name: "Expires", type: "string", jsonPath: ".status.credential.expiresAt", description: "When the current credential expires."),
            conditionColumn("Ready"),
            ageColumn,
            .init(name: "Secretless", type: "boolean", jsonPath: ".status.secretless", description: "Whether no long-lived secret is used.", priority: 1),
        ]
    }

    /// Exactly one credential source, as a CEL rule.
    static let exactlyOneSourceRule =
        "[has(self.gatewayJWT), has(self.gcpWorkloadIdentity), has(self.azureAD), has(self.oauth2ClientCredentials), has(self.mutualTLS)].filter(x, x).size() == 1"

    /// What `gatewayJWT.subject` and `azureAD.credential.federated.subject` may be: the part of `sub` after
    /// `portcullis:<namespace>:`, so no `:` (and so the namespace in `sub` is always the UpstreamAuth's).
    static let subjectPartPattern = "^[^:]+$"

    /// A SPIFFE ID under some trust domain's `/ns/<namespace>/`: lowercase trust domain, path segments of letters,
    /// digits, `.`, `-` and `_`. Which trust domain and namespace is checked by the controller.
    static let spiffeIDPattern = #"^spiffe://[a-z0-9._-]+/ns/[a-z0-9]([-a-z0-9]*[a-z0-9])?(/[A-Za-z0-9._-]+)+$"#

    /// A DNS name as ``Route/hostnamePattern`` allows it, except under `.invalid` (RFC 2606), which is reserved for
    /// the installation: the gateway replicas' peer name is `breaker-peer.portcullis.invalid`.
    ///
    /// RE2 (kube-apiserver's regular expressions) has no lookahead, so the last label is spelled out: one of
    /// another length than `invalid`, or of the same length that differs from it at some first position.
    static let clientCertificateDNSNamePattern: String = {
        let reserved = Array("invalid")
        let label = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
        /// The letters from `first` to `last` as a character class range; empty when there are none.
        func letters(_ first: Unicode.Scalar, _ last: Unicode.Scalar) -> String {
            first > last ? "" : first == last ? String(first) : "\(first)-\(last)"
        }
        func characters(at index: Int, excluding excluded: Character? = nil) -> String {
            let edge = index == 0 || index == reserved.count - 1
            var allowed = "a-z"
            if let excluded = excluded?.unicodeScalars.first {
                allowed = letters("a", Unicode.Scalar(excluded.value - 1)!) + letters(Unicode.Scalar(excluded.value + 1)!, "z")
            }
            return "[" + (edge ? "" : "-") + allowed + "0-9]"
        }
        var lastLabels = [
            "[a-z0-9]([-a-z0-9]{0,\(reserved.count - 3)}[a-z0-9])?",  // shorter
            "[a-z0-9][-a-z0-9]{\(reserved.count - 1),}[a-z0-9]",  // longer
        ]
        for first in reserved.indices {  // as long, first differing at `first`
            lastLabels.append(
                String(reserved[..<first]) + characters(at: first, excluding: reserved[first])
                    + (first + 1..<reserved.count).map { characters(at: $0) }.joined()
            )
        }
        return "^(\\*\\.)?(" + label + "\\.)*(" + lastLabels.joined(separator: "|") + ")$"
    }()

    static let guidPattern = #"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#
    static let emailPattern = #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#

    public static var specSchema: JSONSchemaProps {
        .object(
            "The desired state of the UpstreamAuth: exactly one of gatewayJWT, gcpWorkloadIdentity, azureAD, oauth2ClientCredentials or mutualTLS.",
            keyedBy: UpstreamAuthSpec.CodingKeys.self,
            [
                .gatewayJWT: gatewayJWTSchema,
                .gcpWorkloadIdentity: gcpSchema,
                .azureAD: azureSchema,
                .oauth2ClientCredentials: oauth2Schema,
                .mutualTLS: mutualTLSSchema,
                .header: .object(
                    "The request header the token is written to. Not used with mutualTLS. The client's own value of this header never reaches the upstream.",
                    keyedBy: CredentialHeader.CodingKeys.self,
                    [
                        .name: .string(
                            "Authorization, X-Serverless-Authorization (Cloud Run), Proxy-Authorization (IAP), or any other header.",
                            pattern: CommonSchemas.headerNamePattern,
                            maxLength: 256,
                            default: CredentialHeader.defaultName
                        ),
                        .prefix: .string(
                            "Written before the token: printable ASCII and spaces.",
                            pattern: CommonSchemas.headerTextPattern,
                            maxLength: 64,
                            default: CredentialHeader.defaultPrefix
                        ),
                    ]
                ),
                .refresh: .object(
                    "When a cached token is replaced. Not used with mutualTLS (see mutualTLS.renewBefore).",
                    keyedBy: RefreshPolicy.CodingKeys.self,
                    [
                        .before: .duration(
                            "How long before expiry a token is refreshed. Defaults to max(5m, 20% of the token's lifetime); for gateway JWTs, a fifth of ttl."
                        )
                    ]
                ),
                .allowedDestinations: .array(
                    "Where the credential may be sent: a Route that attaches it to any other upstream (or fallback upstream) is not served (ResolvedRefs=False, RefNotPermitted). Absent: the upstream of any Route in this namespace.",
                    of: .object(
                        "An origin, or a Service of this namespace: exactly one of url and service.",
                        keyedBy: CredentialDestination.CodingKeys.self,
                        [
                            .url: .string(
                                "An origin, https://host[:port] (http only with allowCleartext); the host may start with *. for any name under a domain. No path.",
                                pattern: #"^https?://(\*\.)?[^/*?#@\s]+$"#,
                                maxLength: 512
                            ),
                            .service: .object(
                                "A Service of this namespace, as a Route names it in upstream.service.",
                                keyedBy: CredentialDestinationService.CodingKeys.self,
                                required: [.name],
                                [
                                    .name: CommonSchemas.objectName("The Service's name."),
                                    .port: .integer("The port; absent: any port of the Service.", minimum: 1, maximum: 65535),
                                ]
                            ),
                        ]
                    ).rule("[has(self.url), has(self.service)].filter(x, x).size() == 1", message: "exactly one of url and service must be set"),
                    maxItems: 64
                ),
                .allowCleartext: .boolean(
                    "Whether the credential may be sent over cleartext, to an http upstream. Default false (portcullis dev allows loopback)."
                ),
                .allowUnverifiedTLS: .boolean(
                    "Whether the credential may be sent to an upstream whose certificate is not verified (upstream.tls.insecureSkipVerify). Default false."
                ),
            ]
        )
        .rule(exactlyOneSourceRule, message: "exactly one of gatewayJWT, gcpWorkloadIdentity, azureAD, oauth2ClientCredentials, mutualTLS must be set")
        .rule("!has(self.mutualTLS) || !has(self.allowCleartext)", message: "allowCleartext: a client certificate is only ever presented over TLS")
        .rule(
            "!has(self.allowedDestinations) || (has(self.allowCleartext) && self.allowCleartext) || self.allowedDestinations.all(d, !has(d.url) || !d.url.startsWith('http://'))",
            message: "allowedDestinations: an http destination needs allowCleartext"
        )
    }

    private static var gatewayJWTSchema: JSONSchemaProps {
        .object(
            "A JWT signed by the gateway's own key; the upstream verifies it against the JWKS the gateway publishes at <issuer>/.well-known/jwks.json.",
            keyedBy: GatewayJWT.CodingKeys.self,
            [
                .subject: .string(
                    "What the sub claim says after portcullis:<namespace>:, without ':'; defaults to the UpstreamAuth's name. The gateway writes portcullis:<namespace>: itself, and iss is always the installation's issuer.",
                    pattern: subjectPartPattern,
                    maxLength: 512
                ),
                .audience: .string(
                    "The aud claim; defaults to the upstream origin, e.g. https://api.example.com.",
                    minLength: 1,
                    maxLength: 512
                ),
                .ttl: .duration(
                    "The token lifetime (exp − iat), between 30s and 24h.",
                    default: GatewayJWT.defaultTTL.description
                ),
                .claims: .map(
                    "Extra string claims. iss, sub, aud, exp, nbf, iat and jti are set by the gateway and cannot be given here.",
                    of: .string("A claim value.", maxLength: 1024),
                    maxProperties: 32
                ),
                .algorithm: .enum(
                    "The signing algorithm. Google workload identity federation accepts ES256 and RS256; Entra ID federation RS256.",
                    GatewayJWT.Algorithm.self,
                    default: GatewayJWT.defaultAlgorithm
                ),
                .mintPerRequest: .boolean(
                    "Sign a fresh token (new jti) for every request, instead of reusing one per audience until refresh.before.",
                    default: false
                ),
            ]
        )
    }

    private static var gcpSchema: JSONSchemaProps {
        .object(
            "Google Cloud workload identity federation: a subject token exchanged at Google STS (RFC 8693) for a federated token, then, with serviceAccount, the service account's access or ID token from IAM Credentials.",
            keyedBy: GCPWorkloadIdentity.CodingKeys.self,
            required: [.provider],
            [
                .provider: .string(
                    "The workload identity pool provider: projects/<number>/locations/global/workloadIdentityPools/<pool>/providers/<provider>, with or without the //iam.googleapis.com/ prefix.",
                    maxLength: 512
                ),
                .serviceAccount: .string(
                    "The service account to impersonate, e.g. gateway@my-project.iam.gserviceaccount.com. Required for IDToken.",
                    pattern: emailPattern,
                    maxLength: 254
                ),
                .token: .enum(
                    "AccessToken for Google APIs; IDToken for Cloud Run and IAP.",
                    GCPWorkloadIdentity.TokenType.self,
                    default: GCPWorkloadIdentity.defaultTokenType
                ),
                .idTokenAudience: .string(
                    "The ID token's audience (IDToken only): the Cloud Run service URL, or the IAP OAuth client ID.",
                    minLength: 1,
                    maxLength: 512
                ),
                .includeEmail: .boolean("Include email and email_verified claims in the ID token (IDToken only); false when absent."),
                .scopes: .array(
                    "OAuth scopes of the access token (AccessToken only). Defaults to cloud-platform.",
                    of: .string("A scope URL.", pattern: "^https://", maxLength: 512),
                    minItems: 1,
                    maxItems: 32,
                    listType: "set"
                ),
                .lifetime: .duration(
                    "The impersonated access token's lifetime (AccessToken with serviceAccount only): at most 1h, or 12h where the organization policy allows it. Defaults to 1h."
                ),
                .delegates: .array(
                    "Service accounts in the delegation chain, as emails or projects/-/serviceAccounts/<email>.",
                    of: .string("A service account.", maxLength: 512),
                    maxItems: 10
                ),
                .subjectToken: .object(
                    "The token presented to STS.",
                    keyedBy: SubjectToken.CodingKeys.self,
                    [
                        .type: .enum(
                            "GatewayJWT: a JWT signed by the gateway for this UpstreamAuth. ServiceAccountToken: the installation's projected service account token, which the cluster admin configures and lets namespaces present.",
                            SubjectToken.TokenSource.self,
                            default: SubjectToken.defaultType
                        ),
                        .audience: .string(
                            "The subject token's audience (GatewayJWT only); defaults to the provider's full resource name.",
                            maxLength: 512
                        ),
                    ]
                ),
                .endpoints: .object(
                    "Overrides of Google's endpoints (Private Service Connect, tests). https, or http to a loopback address.",
                    keyedBy: GCPEndpoints.CodingKeys.self,
                    [
                        .sts: .string(
                            "The STS token URL.",
                            pattern: "^https?://",
                            maxLength: 512,
                            default: GCPWorkloadIdentity.defaultSTSEndpoint
                        ),
                        .iamCredentials: .string(
                            "The IAM Credentials base URL.",
                            pattern: "^https?://",
                            maxLength: 512,
                            default: GCPWorkloadIdentity.defaultIAMCredentialsEndpoint
                        ),
                    ]
                ),
            ]
        )
    }

    private static var azureSchema: JSONSchemaProps {
        .object(
            "Microsoft Entra ID (Azure AD) v2.0 client credentials, authenticated by a federated client assertion the gateway signs, or by a client secret.",
            keyedBy: AzureAD.CodingKeys.self,
            required: [.tenantID, .clientID, .scope, .credential],
            [
                .tenantID: .string(
                    "The directory (tenant) ID, or a verified domain such as contoso.onmicrosoft.com.",
                    minLength: 1,
                    maxLength: 253
                ),
                .clientID: .string("The application (client) ID.", pattern: guidPattern),
                .scope: .string(
                    "The resource's scope, ending in /.default, e.g. api://<app-id>/.default.",
                    pattern: #"/\.default$"#,
                    maxLength: 512
                ),
                .authorityHost: .string(
                    "The Entra ID host; sovereign clouds differ. https, or http to a loopback address.",
                    pattern: "^https?://",
                    maxLength: 512,
                    default: AzureAD.defaultAuthorityHost
                ),
                .credential: .object(
                    "How the gateway authenticates: exactly one of federated (secretless) or clientSecretRef.",
                    keyedBy: AzureCredential.CodingKeys.self,
                    [
                        .federated: .object(
                            "A client assertion signed by the gateway (RS256), matching a federated identity credential on the app registration whose issuer is the installation's issuer.",
                            keyedBy: FederatedCredential.CodingKeys.self,
                            [
                                .audience: .string(
                                    "The assertion's aud; must equal the federated credential's audience.",
                                    maxLength: 600,
                                    default: FederatedCredential.defaultAudience
                                ),
                                .subject: .string(
                                    "What the assertion's sub says after portcullis:<namespace>:, without ':'; defaults to the UpstreamAuth's name. The federated credential's subject must equal the whole sub, portcullis:<namespace>:<subject>, exactly (case-sensitive).",
                                    pattern: subjectPartPattern,
                                    maxLength: 512
                                ),
                            ]
                        ),
                        .clientSecretRef: CommonSchemas.secretKeyReference(
                            "A Secret holding the client secret. A long-lived secret: status.secretless becomes false.",
                            defaultKey: "client-secret"
                        ),
                    ]
                ).rule("has(self.federated) != has(self.clientSecretRef)", message: "exactly one of federated, clientSecretRef must be set"),
            ]
        )
    }

    private static var oauth2Schema: JSONSchemaProps {
        .object(
            "A generic OAuth 2.0 client credentials grant (RFC 6749 §4.4).",
            keyedBy: OAuth2ClientCredentials.CodingKeys.self,
            required: [.tokenURL, .clientID],
            [
                .tokenURL: .string(
                    "The token endpoint. https, or http to a loopback address.",
                    pattern: "^https?://",
                    maxLength: 2048
                ),
                .clientID: .string("The client ID.", minLength: 1, maxLength: 512),
                .clientAuth: .enum(
                    "client_secret_basic and client_secret_post send a secret from clientSecretRef; private_key_jwt (RFC 7523) sends a JWT signed by the gateway and needs no secret.",
                    OAuth2ClientCredentials.ClientAuthentication.self,
                    default: OAuth2ClientCredentials.defaultClientAuthentication
                ),
                .clientSecretRef: CommonSchemas.secretKeyReference(
                    "A Secret holding the client secret (client_secret_basic and client_secret_post).",
                    defaultKey: "client-secret"
                ),
                .scopes: .array(
                    "Scopes requested, sent space-separated.",
                    of: .string("A scope.", pattern: #"^[\x21\x23-\x5B\x5D-\x7E]+$"#, maxLength: 512),
                    maxItems: 32,
                    listType: "set"
                ),
                .audience: .string("The audience parameter some servers require.", maxLength: 512),
                .resource: .string("The RFC 8707 resource indicator, an absolute URI.", maxLength: 2048),
                .extraParams: .map(
                    "Further form parameters sent with the token request; the grant's own parameters cannot be overridden.",
                    of: .string("A parameter value.", maxLength: 2048),
                    maxProperties: 16
                ),
            ]
        )
    }

    private static var mutualTLSSchema: JSONSchemaProps {
        .object(
            "A client certificate presented on the upstream connection, issued by the installation's CA into a kubernetes.io/tls Secret owned by this UpstreamAuth and renewed before it expires, or taken from secretRef.",
            keyedBy: MutualTLS.CodingKeys.self,
            [
                .secretRef: CommonSchemas.localObjectReference(
                    "A kubernetes.io/tls Secret with the certificate to present (for example from cert-manager); when set, nothing is issued and duration, renewBefore, dnsNames and uris may not be set.",
                    kind: "Secret"
                ),
                .duration: .duration(
                    "The issued certificate's validity, between 1h and 8760h; \(MutualTLS.defaultDuration) when absent."
                ),
                .renewBefore: .duration("How long before expiry the certificate is renewed; defaults to a third of duration."),
                .dnsNames: .array(
                    "DNS subject alternative names: not under .invalid (reserved for the installation), and no Service name of another namespace (<service>.<namespace>.svc[.cluster.local]).",
                    of: .string("A DNS name, not under .invalid.", pattern: clientCertificateDNSNamePattern, maxLength: 253),
                    maxItems: 16,
                    listType: "set"
                ),
                .uris: .array(
                    "URI subject alternative names: SPIFFE IDs of this namespace, spiffe://<trust domain>/ns/<namespace>/<path>, with the cluster admin's trust domain (cluster.local unless set otherwise).",
                    of: .string("A SPIFFE ID.", pattern: spiffeIDPattern, maxLength: 2048),
                    maxItems: 16,
                    listType: "set"
                ),
            ]
        )
    }

    public static var statusSchema: JSONSchemaProps {
        .object(
            "The observed state of the UpstreamAuth. Never holds token material.",
            keyedBy: UpstreamAuthStatus.CodingKeys.self,
            [
                .observedGeneration: CommonSchemas.observedGeneration,
                .conditions: CommonSchemas.conditions(
                    "Ready: the spec is valid and its references resolve. CredentialReady: a valid credential is in hand; when False, reason is machine-readable (InvalidTarget, InvalidGrant, PermissionDenied, Unreachable, or the AADSTS code)."
                ),
                .type: .enum("The credential source in use.", CredentialType.self),
                .secretless: .boolean("False when a long-lived secret (a client secret from a Secret) is in use."),
                .credential: .object(
                    "The current token's lifecycle.",
                    keyedBy: CredentialStatus.CodingKeys.self,
                    [
                        .expiresAt: .string("When the current token expires.", format: "date-time"),
                        .lastRefreshTime: .string("When a token was last obtained.", format: "date-time"),
                        .nextRefreshTime: .string("When the next refresh is due.", format: "date-time"),
                        .consecutiveFailures: .integer("Failed refreshes in a row.", minimum: 0),
                        .lastError: .string("The last failure, with the token service's error code.", maxLength: 4096),
                    ]
                ),
                .certificate: .object(
                    "The client certificate (mutualTLS).",
                    keyedBy: CertificateStatus.CodingKeys.self,
                    [
                        .secretName: .string("The kubernetes.io/tls Secret holding the certificate."),
                        .notAfter: .string("When the certificate expires.", format: "date-time"),
                        .renewalTime: .string("When it will be renewed.", format: "date-time"),
                        .serialNumber: .string("The certificate's serial number, in hex."),
                    ]
                ),
                .jwks: .object(
                    "The key gateway JWTs (gatewayJWT) or client assertions (private_key_jwt) are verified with.",
                    keyedBy: JWKSStatus.CodingKeys.self,
                    [
                        .keyID: .string("The kid of the key currently signing."),
                        .uri: .string(
                            "Where the JWKS is published: the installation's for gateway JWTs; for private_key_jwt this namespace's own, <issuer>/namespaces/<namespace>/jwks.json, to register the client with."
                        ),
                    ]
                ),
            ]
        )
    }
}
