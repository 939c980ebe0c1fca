public import Gateway
import IPAddresses
public import PortcullisAPI

/// Where an UpstreamAuth's credential may go (docs/security.md, "Credentials go only where they are
/// meant to"): its `allowedDestinations`, and whether cleartext or an unverified TLS peer may carry it.
public struct CredentialSendingRules: Sendable, Hashable {
    /// `nil`: any upstream of a Route in the UpstreamAuth's namespace.
    public var destinations: [CredentialDestination]?
    public var allowsCleartext: Bool
    public var allowsUnverifiedTLS: Bool

    /// The rules of `spec`; the defaults (any destination, verified TLS only) without one.
    public init(_ spec: UpstreamAuthSpec? = nil) {
        destinations = spec?.allowedDestinations
        allowsCleartext = spec?.allowCleartext ?? false
        allowsUnverifiedTLS = spec?.allowUnverifiedTLS ?? false
    }

    /// Why the credential may not go to `target` (resolved from `spec`), or `nil` when it may. (A client
    /// certificate, which needs TLS anyway, is not refused for cleartext here.)
    func refusal(_ target: UpstreamTarget, spec: Upstream, isCertificate: Bool, policy: TenancyPolicy) -> String? {
        if target.scheme == .http && !isCertificate && !allowsCleartext
            && !(policy.allowsCleartextCredentialsToLoopback && Self.isLoopback(target.host))
        {
            return "it would travel in cleartext; set allowCleartext on the UpstreamAuth to allow that"
        }
        if target.tls?.insecureSkipVerify == true && !allowsUnverifiedTLS {
            return "the upstream's certificate is not verified (tls.insecureSkipVerify); set allowUnverifiedTLS on the UpstreamAuth to allow that"
        }
        if let destinations, !destinations.contains(where: { Self.matches($0, target, spec) }) {
            return "it is not one of the UpstreamAuth's allowedDestinations"
        }
        return nil
    }

    static func matches(_ destination: CredentialDestination, _ target: UpstreamTarget, _ spec: Upstream) -> Bool {
        if let service = destination.service {
            guard let named = spec.service else { return false }
            return named.name == service.name && (service.port == nil || service.port == named.port)
        }
        guard spec.url != nil, let origin = destination.origin, origin.scheme == target.scheme.rawValue, origin.port == target.port else { return false }
        let host = target.host.lowercased()
        return origin.coversSubdomains ? host.hasSuffix("." + origin.host) : host == origin.host
    }

    static func isLoopback(_ host: String) -> Bool {
        if host.lowercased() == "localhost" { return true }
        guard let address = IPAddress(host) else { return false }
        return DestinationPolicy.loopbackNetworks.contains { $0.contains(address.unmapped) }
    }
}
