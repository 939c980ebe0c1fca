import Kubernetes
import PortcullisAPI

extension UpstreamAuthTranslator {
    /// What a client certificate issued for an UpstreamAuth in `namespace` may not name, each naming its field:
    ///
    /// - a DNS name under `.invalid` (RFC 2606), which the installation reserves for itself (the breaker peers'
    ///   name is `breaker-peer.portcullis.invalid`);
    /// - a DNS name in another namespace's Service tree: `<…>.<other>.svc` and `<…>.<other>.svc.<cluster domain>`,
    ///   the bare `<other>.svc`, a wildcard in the namespace's place, or `svc` itself;
    /// - a URI other than a SPIFFE ID of the namespace, `spiffe://<trust domain>/ns/<namespace>/<path>`, with the
    ///   admin's trust domain and no empty, `.` or `..` path segment.
    ///
    /// The CN is always ``subject(namespace:part:)`` of the UpstreamAuth's name. Other DNS names are the tenant's
    /// text: backends authorize on the CN or the SPIFFE ID.
    static func identityRefusals(of mtls: MutualTLS, namespace: String, policy: TenancyPolicy) -> [FieldError] {
        let path = FieldPath("spec").child("mutualTLS")
        var refused: [FieldError] = []
        for (index, name) in (mtls.dnsNames ?? []).enumerated() {
            let why = dnsNameRefusal(name.lowercased(), namespace: namespace, clusterDomain: policy.clusterDomain)
            guard let why else { continue }
            let field = path.child("dnsNames").index(index).description
            refused.append(FieldError(.forbidden, field: field, detail: "\(name): \(why)"))
        }
        let trustDomain = policy.spiffeTrustDomain
        for (index, uri) in (mtls.uris ?? []).enumerated() {
            guard !isSPIFFEID(uri, of: namespace, trustDomain: trustDomain) else { continue }
            let field = path.child("uris").index(index).description
            let rule = "URI SANs must be SPIFFE IDs of this namespace, spiffe://\(trustDomain)/ns/\(namespace)/<path>"
            refused.append(FieldError(.forbidden, field: field, detail: "\(uri): \(rule)"))
        }
        return refused
    }

    /// Why a client certificate in `namespace` may not name `name` (lowercase), or `nil`.
    static func dnsNameRefusal(_ name: String, namespace: String, clusterDomain: String) -> String? {
        var labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.last == "invalid" { return "names under .invalid are reserved for the installation" }
        let domain = clusterDomain.split(separator: ".")
        if labels.count > domain.count, Array(labels.suffix(domain.count)) == domain {
            labels.removeLast(domain.count)
        }
        guard labels.last == "svc", labels.dropLast().last != Substring(namespace) else { return nil }
        return "a Service name outside namespace \(namespace): "
            + "only <service>.\(namespace).svc[.\(clusterDomain)] names are this namespace's"
    }

    /// Whether `uri` is `spiffe://<trustDomain>/ns/<namespace>/<segment>[/<segment>…]`, each segment of letters,
    /// digits, `.`, `-` and `_`, and none `.` or `..` (the SPIFFE ID rules).
    static func isSPIFFEID(_ uri: String, of namespace: String, trustDomain: String) -> Bool {
        let prefix = "spiffe://\(trustDomain)/ns/\(namespace)/"
        guard uri.hasPrefix(prefix) else { return false }
        let segments = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
        return segments.allSatisfy { segment in
            !segment.isEmpty && segment != "." && segment != ".." && segment.utf8.allSatisfy(isSPIFFEPathCharacter)
        }
    }

    /// A letter, digit, `.`, `-` or `_`.
    private static func isSPIFFEPathCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }
}
