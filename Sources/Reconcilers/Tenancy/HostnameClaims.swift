/// Which namespace serves which hostnames (docs/security.md, "Hostnames"): the oldest claim wins, and a
/// namespace cannot claim a hostname that overlaps another namespace's claim, nor hold the catch-all (Routes
/// without hostnames) while another namespace holds it.
///
/// Claims are made one Route at a time, oldest first; two claims overlap when they are equal or one is a
/// wildcard covering the other (`*.example.com` covers `a.example.com` and `*.a.example.com`). Hostnames the
/// admin shares (`--shared-hostname`) never conflict. Cost: a hash lookup per label of each hostname.
struct HostnameClaims {
    /// Why a Route cannot have its hostnames.
    struct Conflict: Sendable, Hashable {
        /// `HostnameConflict`, or `HostnameNotAllowed` for a catch-all the admin reserves to other namespaces.
        var reason: String
        var message: String
    }

    static let conflictReason = "HostnameConflict"
    static let notAllowedReason = "HostnameNotAllowed"

    private let shared: Set<String>
    private let catchAllNamespaces: Set<String>?
    /// Exact hostnames, and wildcards by the suffix after `*.`, with their namespace.
    private var exact: [String: String] = [:]
    private var wildcard: [String: String] = [:]
    /// For each domain, a namespace with a claim strictly under it (enough to name one winner).
    private var under: [String: [String: String]] = [:]
    private var catchAll: String?

    init(shared: Set<String>, catchAllNamespaces: Set<String>?) {
        self.shared = shared
        self.catchAllNamespaces = catchAllNamespaces
    }

    /// Claims `hostnames` (empty: the catch-all) for `namespace`, or says why it cannot; a conflicting
    /// Route claims none of its hostnames.
    mutating func claim(_ hostnames: [String], namespace: String) -> Conflict? {
        if let conflict = conflict(hostnames, namespace: namespace) { return conflict }
        if hostnames.isEmpty { catchAll = namespace }
        for hostname in hostnames.map({ $0.lowercased() }) where !shared.contains(hostname) {
            let domain: Substring
            if hostname.hasPrefix("*.") {
                domain = hostname.dropFirst(2)
                wildcard[String(domain)] = namespace
            } else {
                domain = Substring(hostname)
                exact[hostname] = namespace
            }
            for parent in Self.parents(of: domain) { under[String(parent), default: [:]][namespace] = hostname }
        }
        return nil
    }

    private func conflict(_ hostnames: [String], namespace: String) -> Conflict? {
        if hostnames.isEmpty {
            if let allowed = catchAllNamespaces, !allowed.contains(namespace) {
                return Conflict(
                    reason: Self.notAllowedReason,
                    message: "a Route without hostnames catches every hostname no namespace claims; the cluster admin reserves that to \(allowed.sorted().joined(separator: ", ")) (--catch-all-namespace): list spec.hostnames"
                )
            }
            if let holder = catchAll, holder != namespace {
                return Conflict(
                    reason: Self.conflictReason,
                    message: "namespace \(holder) already serves the Routes without hostnames; list spec.hostnames"
                )
            }
            return nil
        }
        for hostname in hostnames.map({ $0.lowercased() }) where !shared.contains(hostname) {
            let isWildcard = hostname.hasPrefix("*.")
            let domain = isWildcard ? hostname.dropFirst(2) : Substring(hostname)
            func taken(_ holder: String?, _ claim: String) -> Conflict? {
                guard let holder, holder != namespace else { return nil }
                return Conflict(
                    reason: Self.conflictReason,
                    message: "spec.hostnames: \(hostname) overlaps \(claim), which namespace \(holder) already serves"
                )
            }
            if !isWildcard, let found = taken(exact[hostname], hostname) { return found }
            if isWildcard, let found = taken(wildcard[String(domain)], hostname) { return found }
            // A wildcard of another namespace that covers this hostname.
            for parent in Self.parents(of: domain) {
                if let found = taken(wildcard[String(parent)], "*.\(parent)") { return found }
            }
            // A wildcard covers whatever another namespace claims under it.
            if isWildcard, let claims = under[String(domain)], let other = claims.filter({ $0.key != namespace }).min(by: { $0.key < $1.key }) {
                return taken(other.key, other.value)
            }
        }
        return nil
    }

    /// `b.example.com`, `example.com`, `com` for `a.b.example.com`.
    private static func parents(of domain: Substring) -> [Substring] {
        var parents: [Substring] = []
        var rest = domain
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            parents.append(rest)
        }
        return parents
    }
}
