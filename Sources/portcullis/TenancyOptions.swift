import ArgumentParser
import Foundation
import IPAddresses
import NIOCore
import Reconcilers

/// The cluster admin's say over what crosses a namespace (docs/security.md), shared by `portcullis
/// controller` and `portcullis dev`.
struct TenancyOptions: ParsableArguments {
    @Option(
        name: .customLong("allow-token-endpoint"),
        help: ArgumentHelp(
            "An https URL under which UpstreamAuths may name token endpoints, beside Google's and Microsoft's; repeatable.",
            valueName: "URL"
        )
    )
    var tokenEndpoints: [String] = []

    @Option(
        name: .customLong("gcp-subject-token-file"),
        help: ArgumentHelp("The projected service account token presented to Google STS for subjectToken.type ServiceAccountToken.", valueName: "PATH")
    )
    var gcpSubjectTokenFile: String?

    @Option(
        name: .customLong("gcp-subject-token-namespace"),
        help: ArgumentHelp("A namespace whose UpstreamAuths may present --gcp-subject-token-file; repeatable.", valueName: "NAMESPACE")
    )
    var gcpSubjectTokenNamespaces: [String] = []

    @Option(
        name: .customLong("allow-upstream-network"),
        help: ArgumentHelp("A network (CIDR) Routes may send to although a rule refuses it (loopback, link-local, metadata, cluster networks); repeatable.", valueName: "CIDR")
    )
    var allowedUpstreamNetworks: [String] = []

    @Option(
        name: .customLong("allow-upstream-host"),
        help: ArgumentHelp("A host name (or *.suffix) Routes may name although a rule refuses it; repeatable.", valueName: "HOST")
    )
    var allowedUpstreamHosts: [String] = []

    @Option(
        name: .customLong("cluster-network"),
        help: ArgumentHelp("A pod or Service network (CIDR): no URL upstream or Tunnel network may be in it; repeatable.", valueName: "CIDR")
    )
    var clusterNetworks: [String] = []

    @Option(
        name: .customLong("shared-hostname"),
        help: ArgumentHelp("A hostname (or *.suffix) Routes of several namespaces may serve together; repeatable.", valueName: "HOST")
    )
    var sharedHostnames: [String] = []

    @Option(
        name: .customLong("catch-all-namespace"),
        help: ArgumentHelp("A namespace that may hold Routes without hostnames; repeatable. Default: any namespace, the oldest claim first.", valueName: "NAMESPACE")
    )
    var catchAllNamespaces: [String] = []

    @Option(name: .customLong("spiffe-trust-domain"), help: "The trust domain of SPIFFE URI SANs in client certificates.")
    var spiffeTrustDomain: String = TenancyPolicy.defaultSPIFFETrustDomain

    @Option(name: .customLong("cluster-domain"), help: "The cluster's DNS domain: <service>.<namespace>.svc.<domain> names a Service.")
    var clusterDomain: String = TenancyPolicy.defaultClusterDomain

    func validate() throws {
        for url in tokenEndpoints {
            guard let entry = TokenEndpointPolicy.Entry(url), entry.description.hasPrefix("https://") else {
                throw ValidationError("--allow-token-endpoint \(url): expected an https URL without user info, query or fragment")
            }
        }
        for network in allowedUpstreamNetworks + clusterNetworks where IPNetwork(network) == nil {
            throw ValidationError("\(allowedUpstreamNetworks.contains(network) ? "--allow-upstream-network" : "--cluster-network") \(network): expected a CIDR such as 10.0.0.0/8")
        }
        if !gcpSubjectTokenNamespaces.isEmpty && gcpSubjectTokenFile == nil {
            throw ValidationError("--gcp-subject-token-namespace needs --gcp-subject-token-file")
        }
    }

    /// The policy, with what the process learns at start: where the API server is and which ports the
    /// gateway listens on.
    ///
    /// - Parameters:
    ///   - apiServer: The API server's URL as the controller reaches it.
    ///   - gatewayPorts: The gateway's and the admin server's ports.
    func policy(apiServer: String, gatewayPorts: Set<Int>) -> TenancyPolicy {
        var apiServerEndpoints: Set<DestinationPolicy.Endpoint> = []
        var apiServerHosts: Set<String> = []
        if let components = URLComponents(string: apiServer), let host = components.host {
            let port = components.port ?? (components.scheme == "http" ? 80 : 443)
            if let address = IPAddress(host.trimmingCharacters(in: ["[", "]"])) {
                apiServerEndpoints.insert(.init(address: address, port: port))
            } else {
                apiServerHosts.insert(host)
            }
        }
        // In a pod, the API server's Service address (which reaches it whatever the port).
        if let host = ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"], let address = IPAddress(host) {
            apiServerEndpoints.insert(.init(address: address, port: nil))
        }
        let localAddresses = ((try? System.enumerateDevices()) ?? []).compactMap { device in
            device.address?.ipAddress.flatMap(IPAddress.init)
        }
        return TenancyPolicy(
            tokenEndpoints: TokenEndpointPolicy(additional: tokenEndpoints.compactMap(TokenEndpointPolicy.Entry.init)),
            gcpSubjectTokenFile: gcpSubjectTokenFile,
            gcpSubjectTokenNamespaces: Set(gcpSubjectTokenNamespaces),
            destinations: DestinationPolicy(
                allowedNetworks: allowedUpstreamNetworks.compactMap(IPNetwork.init),
                clusterNetworks: clusterNetworks.compactMap(IPNetwork.init),
                apiServer: apiServerEndpoints,
                gatewayPorts: gatewayPorts,
                localAddresses: Set(localAddresses)
            ),
            allowedUpstreamHosts: allowedUpstreamHosts,
            apiServerHosts: apiServerHosts,
            sharedHostnames: Set(sharedHostnames),
            catchAllNamespaces: catchAllNamespaces.isEmpty ? nil : Set(catchAllNamespaces),
            spiffeTrustDomain: spiffeTrustDomain,
            clusterDomain: clusterDomain
        )
    }
}
