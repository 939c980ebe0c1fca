public import Gateway
import IPAddresses

/// Where a Route's URL upstream may point, as the admin's ``TenancyPolicy`` allows (docs/security.md,
/// "Destinations"), and how the gateway connects to it.
enum UpstreamDestination {
    /// Why `target` (from the URL of a Route in `namespace`) is refused, or `nil`; when it is allowed,
    /// `target.connectHost` and `target.intoClusterNetwork` are set for the connection.
    static func refusal(_ target: inout UpstreamTarget, namespace: String, policy: TenancyPolicy) -> String? {
        let host = target.host.lowercased()
        if let address = IPAddress(host) {
            return policy.destinations.refusal(address, port: target.port).map { "\(address) is \($0)" }
        }
        var name = host
        while name.hasSuffix(".") { name.removeLast() }
        let allowed = policy.allowedUpstreamHosts.contains { pattern in
            pattern.hasPrefix("*.") ? name.hasSuffix(pattern.dropFirst()) : pattern == name
        }
        if !allowed {
            if name == "localhost" || name.hasSuffix(".localhost") { return "\(name) is a loopback name" }
            if metadataNames.contains(name) { return "\(name) is a cloud metadata name" }
            if policy.apiServerHosts.contains(name) { return "\(name) is the Kubernetes API server" }
        }
        if let service = ServiceName(name, clusterDomain: policy.clusterDomain) {
            if service.service == "kubernetes" && service.namespace == "default" && !allowed { return "\(name) is the Kubernetes API server" }
            guard allowed || service.namespace == namespace else {
                return "\(name) is a Service of namespace \(service.namespace); a Route reaches Services of its own namespace only"
            }
            // The cluster's resolver answers it; a Service of the Route's own namespace may be in a cluster network.
            target.connectHost = "\(service.name).\(policy.clusterDomain)."
            target.intoClusterNetwork = service.namespace == namespace
            return nil
        }
        if !name.contains(".") && !allowed {
            return "\(name) is a name without a domain, which the cluster's resolver would complete into a cluster name; use the full name, or upstream.service"
        }
        // An absolute name: the resolver's search domains cannot complete it into a cluster name.
        target.connectHost = name + "."
        return nil
    }

    /// Names the cloud providers' metadata services answer to.
    static let metadataNames: Set<String> = [
        "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    ]

    /// A Service's cluster DNS name: `<service>.<namespace>.svc`, optionally followed by the cluster domain.
    struct ServiceName {
        /// The name up to `svc`, without the cluster domain.
        var name: String
        var service: Substring
        var namespace: Substring

        init?(_ name: String, clusterDomain: String) {
            var labels = name.split(separator: ".", omittingEmptySubsequences: false)
            let domain = clusterDomain.split(separator: ".", omittingEmptySubsequences: false)
            if labels.count > domain.count, Array(labels.suffix(domain.count)) == domain { labels.removeLast(domain.count) }
            // `<pod or endpoint>.<service>.<namespace>.svc` is a name under a Service too.
            guard labels.count >= 3, labels.last == "svc" else { return nil }
            self.name = labels.joined(separator: ".")
            service = labels[labels.count - 3]
            namespace = labels[labels.count - 2]
        }
    }
}
