public import AsyncHTTPClient
public import Logging

/// One UpstreamAuth's token credential as the data plane receives it: the source, where the token goes, and when
/// it is refreshed. The reconciler builds it from the spec (secrets read from Secrets into ``ClientSecret``s).
public struct UpstreamCredentialConfiguration: Sendable, Hashable {
    /// Exactly one credential source (mutual TLS is the upstream pool's business, not a token).
    public enum Source: Sendable, Hashable {
        case gatewayJWT(GatewayJWTConfiguration)
        case gcpWorkloadIdentity(GCPWorkloadIdentityConfiguration)
        case entraID(EntraIDConfiguration)
        case oauth2ClientCredentials(OAuth2ClientCredentialsConfiguration)
    }

    public var source: Source
    public var header: CredentialHeader
    public var refresh: TokenRefreshConfiguration

    public init(
        source: Source,
        header: CredentialHeader = CredentialHeader(),
        refresh: TokenRefreshConfiguration = TokenRefreshConfiguration()
    ) {
        self.source = source
        self.header = header
        self.refresh = refresh
    }

    /// `false` when a long-lived client secret is in use (status `secretless`).
    public var isSecretless: Bool {
        switch source {
        case .gatewayJWT, .gcpWorkloadIdentity: true
        case .entraID(let configuration): configuration.isSecretless
        case .oauth2ClientCredentials(let configuration): configuration.isSecretless
        }
    }

    /// The provider that fetches this credential's tokens, or `nil` for a gateway JWT (minted locally by a
    /// ``GatewayJWTCache`` instead).
    public func makeTokenProvider(
        signing: SharedSigningContext,
        httpClient: HTTPClient,
        logger: Logger
    ) -> (any TokenProvider)? {
        switch source {
        case .gatewayJWT:
            nil
        case .gcpWorkloadIdentity(let configuration):
            GCPWorkloadIdentityProvider(configuration: configuration, signing: signing, httpClient: httpClient, logger: logger)
        case .entraID(let configuration):
            EntraIDProvider(configuration: configuration, signing: signing, httpClient: httpClient, logger: logger)
        case .oauth2ClientCredentials(let configuration):
            OAuth2ClientCredentialsProvider(configuration: configuration, signing: signing, httpClient: httpClient, logger: logger)
        }
    }
}
