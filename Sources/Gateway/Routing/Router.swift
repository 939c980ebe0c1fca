/// Finds the route for a request, built once per config and then read concurrently.
///
/// Precedence follows the Gateway API, with host names first:
/// 1. an exact host name, then wildcard host names from the longest suffix, then routes for any host;
/// 2. within a host: an exact path, then the longest path prefix (whole segments), then regular
///    expressions (longest pattern first);
/// 3. among equal paths: a method match, then more header matches, then the oldest route, then
///    namespace/name order.
///
/// A host is served by the namespaces whose routes name it most specifically: a request for a host that
/// some namespace's routes name exactly (or by the longest wildcard) never reaches another namespace's
/// wildcard or host-less route, whatever the path (docs/security.md, "Hostnames").
///
/// Cost: a hash lookup per host candidate (the host's labels), a hash lookup for exact paths and
/// a walk down a segment trie as deep as the path; regular expressions are tried one by one, so
/// they are the only part that grows with the number of routes.
public struct Router: Sendable {
    /// One host's routes, indexed by path.
    struct HostRoutes: Sendable {
        var exact: [Substring: [Candidate]] = [:]
        var prefixes = PrefixTrie()
        var patterns: [(pattern: CompiledPattern, candidates: [Candidate])] = []
        /// The namespaces of the routes that name this host: requests for it go to their routes only.
        var namespaces: Set<String> = []
    }

    /// A route with what is needed to check its method and headers.
    struct Candidate: Sendable {
        var index: Int
        var methods: [String]
        var headers: [RouteMatchRule.HeaderRule]
        var createdAt: Int64
        var key: RouteKey

        /// Gateway API order among routes with the same path match.
        static func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
            if a.methods.isEmpty != b.methods.isEmpty { return !a.methods.isEmpty }
            if a.headers.count != b.headers.count { return a.headers.count > b.headers.count }
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            return a.key < b.key
        }
    }

    private var exactHosts: [String: HostRoutes] = [:]
    /// Keyed by the suffix after `*.`: `example.com` for `*.example.com`.
    private var wildcardHosts: [String: HostRoutes] = [:]
    private var anyHost = HostRoutes()
    /// Patterns that failed to compile, with the route that holds them; those routes never match.
    public private(set) var invalidPatterns: [(route: RouteKey, pattern: String)] = []

    public let routes: [RouteConfig]

    public init(routes: [RouteConfig]) {
        self.routes = routes
        for (index, route) in routes.enumerated() {
            let candidate = Candidate(
                index: index,
                methods: route.match.methods,
                headers: route.match.headers,
                createdAt: route.createdAt,
                key: route.key
            )
            let hostnames = route.match.hostnames.isEmpty ? [nil] : route.match.hostnames.map { Optional($0) }
            for hostname in hostnames {
                if let hostname, hostname.hasPrefix("*.") {
                    let key = String(hostname.dropFirst(2))
                    Router.add(candidate, route.match.path, to: &wildcardHosts[key, default: HostRoutes()], invalid: &invalidPatterns)
                    wildcardHosts[key]?.namespaces.insert(route.key.namespace)
                } else if let hostname {
                    Router.add(candidate, route.match.path, to: &exactHosts[hostname, default: HostRoutes()], invalid: &invalidPatterns)
                    exactHosts[hostname]?.namespaces.insert(route.key.namespace)
                } else {
                    Router.add(candidate, route.match.path, to: &anyHost, invalid: &invalidPatterns)
                }
            }
        }
        sortAll()
    }

    private static func add(
        _ candidate: Candidate,
        _ path: RouteMatchRule.PathRule,
        to host: inout HostRoutes,
        invalid invalidPatterns: inout [(route: RouteKey, pattern: String)]
    ) {
        switch path {
        case .exact(let value):
            host.exact[Substring(value), default: []].append(candidate)
        case .prefix(let value):
            host.prefixes.insert(candidate, prefix: value)
        case .regularExpression(let value):
            guard let pattern = CompiledPattern(value) else {
                invalidPatterns.append((candidate.key, value))
                return
            }
            if let index = host.patterns.firstIndex(where: { $0.pattern.source == value }) {
                host.patterns[index].candidates.append(candidate)
            } else {
                host.patterns.append((pattern, [candidate]))
            }
        }
    }

    private mutating func sortAll() {
        func sort(_ host: inout HostRoutes) {
            for key in host.exact.keys { host.exact[key]!.sort(by: Candidate.precedes) }
            host.prefixes.sortCandidates(by: Candidate.precedes)
            for index in host.patterns.indices { host.patterns[index].candidates.sort(by: Candidate.precedes) }
            host.patterns.sort { $0.pattern.source.count > $1.pattern.source.count }
        }
        for key in exactHosts.keys { sort(&exactHosts[key]!) }
        for key in wildcardHosts.keys { sort(&wildcardHosts[key]!) }
        sort(&anyHost)
    }

    /// The route for a request, or `nil` (the gateway answers 404).
    ///
    /// - Parameters:
    ///   - host: The Host header or :authority, with or without a port; matched case-insensitively.
    ///   - path: The path, without the query string.
    ///   - method: The request method, uppercase.
    ///   - header: The value of a request header by lowercase name, or `nil`.
    public func route(host: String, path: String, method: String, header: (String) -> String?) -> RouteConfig? {
        let hostname = Router.normalizedHost(host)
        // The namespaces of the most specific hostname that names this host; `nil` while none does.
        var owners: Set<String>?
        if let routes = exactHosts[hostname] {
            if let found = find(in: routes, path: path, method: method, owners: nil, header: header) { return self.routes[found] }
            owners = routes.namespaces
        }
        if !wildcardHosts.isEmpty {
            // *.example.com matches a.example.com and a.b.example.com: try each proper suffix, longest first.
            var rest = Substring(hostname)
            while let dot = rest.firstIndex(of: ".") {
                rest = rest[rest.index(after: dot)...]
                if let routes = wildcardHosts[String(rest)] {
                    if let found = find(in: routes, path: path, method: method, owners: owners, header: header) { return self.routes[found] }
                    owners = owners ?? routes.namespaces
                }
            }
        }
        if let found = find(in: anyHost, path: path, method: method, owners: owners, header: header) { return self.routes[found] }
        return nil
    }

    /// - Parameter owners: The namespaces whose routes may take the request; `nil` for any.
    private func find(in routes: HostRoutes, path: String, method: String, owners: Set<String>?, header: (String) -> String?) -> Int? {
        func first(_ candidates: [Candidate]) -> Int? {
            for candidate in candidates where accepts(candidate, method: method, owners: owners, header: header) { return candidate.index }
            return nil
        }
        if let candidates = routes.exact[Substring(path)], let found = first(candidates) { return found }
        if let found = routes.prefixes.longestMatch(path, where: { accepts($0, method: method, owners: owners, header: header) }) { return found }
        for (pattern, candidates) in routes.patterns where pattern.matches(path) {
            if let found = first(candidates) { return found }
        }
        return nil
    }

    private func accepts(_ candidate: Candidate, method: String, owners: Set<String>?, header: (String) -> String?) -> Bool {
        if let owners, !owners.contains(candidate.key.namespace) { return false }
        if !candidate.methods.isEmpty && !candidate.methods.contains(method) { return false }
        for rule in candidate.headers where header(rule.name) != rule.value { return false }
        return true
    }

    /// Lowercase, without a port or a trailing dot.
    static func normalizedHost(_ host: String) -> String {
        if host.utf8.allSatisfy({ $0 < 0x80 }) { return normalizedASCIIHost(host) }
        var host = Substring(host)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.lowercased()
    }

    /// ``normalizedHost(_:)`` for an ASCII host, as nearly every one is: searched by byte, not by
    /// character, and copied without lowercasing when it has no capital letter.
    private static func normalizedASCIIHost(_ host: String) -> String {
        var host = Substring(host)
        if host.utf8.first == UInt8(ascii: "[") {
            if let close = host.utf8.firstIndex(of: UInt8(ascii: "]")) { host = host[...close] }
        } else if let colon = host.utf8.lastIndex(of: UInt8(ascii: ":")) {
            host = host[..<colon]
        }
        if host.utf8.last == UInt8(ascii: ".") { host = host.dropLast() }
        if host.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return host.lowercased() }
        return String(host)
    }
}

/// Path prefixes by whole segments: a node per segment, holding the routes whose prefix ends there.
struct PrefixTrie: Sendable {
    private final class Node: @unchecked Sendable {  // mutated only while the Router is built, then read-only
        var children: [Substring: Node] = [:]
        var candidates: [Router.Candidate] = []
    }

    private let root = Node()

    func insert(_ candidate: Router.Candidate, prefix: String) {
        var node = root
        for segment in prefix.split(separator: "/", omittingEmptySubsequences: true) {
            if let child = node.children[segment] {
                node = child
            } else {
                let child = Node()
                node.children[segment] = child
                node = child
            }
        }
        node.candidates.append(candidate)
    }

    func sortCandidates(by precedes: (Router.Candidate, Router.Candidate) -> Bool) {
        var stack = [root]
        while let node = stack.popLast() {
            node.candidates.sort(by: precedes)
            stack.append(contentsOf: node.children.values)
        }
    }

    /// The index of the first accepted candidate on the deepest node along `path`'s segments.
    /// Walks the path in place (no segment array), trying the deeper nodes first on the way back.
    func longestMatch(_ path: String, where accepts: (Router.Candidate) -> Bool) -> Int? {
        PrefixTrie.match(root, path.utf8[...], accepts)
    }

    private static func match(_ node: Node, _ rest: Substring.UTF8View, _ accepts: (Router.Candidate) -> Bool) -> Int? {
        let slash = UInt8(ascii: "/")
        let trimmed = rest.drop { $0 == slash }
        if !trimmed.isEmpty {
            let end = trimmed.firstIndex(of: slash) ?? trimmed.endIndex
            if let child = node.children[Substring(trimmed[..<end])], let found = match(child, trimmed[end...], accepts) {
                return found
            }
        }
        for candidate in node.candidates where accepts(candidate) { return candidate.index }
        return nil
    }
}

/// A compiled regular expression, anchored over the whole path.
final class CompiledPattern: @unchecked Sendable {  // the Regex is never mutated after init
    let source: String
    private let regex: Regex<AnyRegexOutput>

    init?(_ source: String) {
        guard let regex = try? Regex(source) else { return nil }
        self.source = source
        self.regex = regex
    }

    func matches(_ path: String) -> Bool {
        (try? regex.wholeMatch(in: path)) != nil
    }
}
