import Gateway
import Testing

@Suite struct RouterTests {
    static let upstream = UpstreamTarget(scheme: .http, host: "backend", port: 8080)

    static func route(
        _ name: String,
        hosts: [String] = [],
        path: RouteMatchRule.PathRule = .prefix("/"),
        methods: [String] = [],
        headers: [RouteMatchRule.HeaderRule] = [],
        createdAt: Int64 = 0
    ) -> RouteConfig {
        RouteConfig(
            key: RouteKey(namespace: "default", name: name),
            createdAt: createdAt,
            match: RouteMatchRule(hostnames: hosts, path: path, methods: methods, headers: headers),
            upstream: upstream
        )
    }

    static func match(_ router: Router, host: String = "example.com", path: String, method: String = "GET", headers: [String: String] = [:]) -> String? {
        router.route(host: host, path: path, method: method, header: { headers[$0] })?.key.name
    }

    @Test func prefixesMatchWholeSegments() {
        let router = Router(routes: [Self.route("api", path: .prefix("/api")), Self.route("root")])
        #expect(Self.match(router, path: "/api") == "api")
        #expect(Self.match(router, path: "/api/") == "api")
        #expect(Self.match(router, path: "/api/v1/users") == "api")
        #expect(Self.match(router, path: "/apis") == "root")
        #expect(Self.match(router, path: "/") == "root")
    }

    @Test func pathPrecedenceIsExactThenLongestPrefixThenPattern() {
        let router = Router(routes: [
            Self.route("regex", path: .regularExpression("/api/v[0-9]+/users")),
            Self.route("short", path: .prefix("/api")),
            Self.route("long", path: .prefix("/api/v1")),
            Self.route("exact", path: .exact("/api/v1/users")),
        ])
        #expect(Self.match(router, path: "/api/v1/users") == "exact")
        #expect(Self.match(router, path: "/api/v1/orders") == "long")
        #expect(Self.match(router, path: "/api/v2/users") == "short")
        let patternsOnly = Router(routes: [Self.route("regex", path: .regularExpression("/api/v[0-9]+/users"))])
        #expect(Self.match(patternsOnly, path: "/api/v7/users") == "regex")
        #expect(Self.match(patternsOnly, path: "/api/v7/users/1") == nil, "patterns are anchored")
        #expect(Self.match(Router(routes: [Self.route("api", path: .prefix("/api"))]), path: "/other") == nil)
    }

    @Test func aRequestForAHostANamespaceNamesReachesOnlyThatNamespacesRoutes() {
        func route(_ namespace: String, _ name: String, hosts: [String] = [], path: String) -> RouteConfig {
            RouteConfig(
                key: RouteKey(namespace: namespace, name: name),
                match: RouteMatchRule(hostnames: hosts, path: .prefix(path)),
                upstream: Self.upstream
            )
        }
        let router = Router(routes: [
            route("shop", "api", hosts: ["shop.example.com"], path: "/api"),
            route("shop", "rest", path: "/assets"),
            route("edge", "login", path: "/login"),
            route("edge", "wild", hosts: ["*.example.com"], path: "/wild"),
            route("edge", "deep", hosts: ["*.deep.example.com"], path: "/"),
        ])
        func match(_ host: String, _ path: String) -> RouteKey? { router.route(host: host, path: path, method: "GET", header: { _ in nil })?.key }
        #expect(match("shop.example.com", "/api/x") == RouteKey(namespace: "shop", name: "api"))
        #expect(match("shop.example.com", "/login") == nil, "another namespace's host-less Route does not catch it")
        #expect(match("shop.example.com", "/wild") == nil, "nor its wildcard")
        #expect(match("shop.example.com", "/assets/app.js") == RouteKey(namespace: "shop", name: "rest"), "the namespace's own host-less Route does")
        #expect(match("other.example.com", "/login") == RouteKey(namespace: "edge", name: "login"), "a host no namespace names exactly")
        #expect(match("other.example.com", "/wild") == RouteKey(namespace: "edge", name: "wild"))
        #expect(match("a.deep.example.com", "/wild") == RouteKey(namespace: "edge", name: "deep"), "the most specific wildcard's namespace")
        #expect(match("unclaimed.test", "/login") == RouteKey(namespace: "edge", name: "login"))
    }

    @Test func hostPrecedenceIsExactThenLongestWildcardThenAny() {
        let router = Router(routes: [
            Self.route("any"),
            Self.route("wild", hosts: ["*.example.com"]),
            Self.route("wilder", hosts: ["*.api.example.com"]),
            Self.route("exact", hosts: ["eu.api.example.com"]),
        ])
        #expect(Self.match(router, host: "eu.api.example.com", path: "/") == "exact")
        #expect(Self.match(router, host: "US.API.example.com:8443", path: "/") == "wilder")
        #expect(Self.match(router, host: "a.b.example.com", path: "/") == "wild")
        #expect(Self.match(router, host: "example.com", path: "/") == "any", "a wildcard needs at least one more label")
        #expect(Self.match(router, host: "other.org", path: "/") == "any")
    }

    @Test func hostsMatchWithoutTheirPortTrailingDotOrCase() {
        let router = Router(routes: [
            Self.route("any"),
            Self.route("exact", hosts: ["api.example.com"]),
            Self.route("idn", hosts: ["bücher.example"]),
        ])
        #expect(Self.match(router, host: "api.example.com", path: "/") == "exact")
        #expect(Self.match(router, host: "api.example.com.", path: "/") == "exact")
        #expect(Self.match(router, host: "API.Example.COM.:8443", path: "/") == "exact")
        #expect(Self.match(router, host: "BÜCHER.example:443", path: "/") == "idn", "hosts that are not ASCII are lowercased too")
        #expect(Self.match(router, host: "[::1]:8443", path: "/") == "any")
        #expect(Self.match(router, host: "api.example.org", path: "/") == "any")
    }

    @Test func aHostWithoutAMatchingPathFallsThroughToLessSpecificHosts() {
        let router = Router(routes: [Self.route("exact", hosts: ["a.example.com"], path: .prefix("/admin")), Self.route("any")])
        #expect(Self.match(router, host: "a.example.com", path: "/public") == "any")
    }

    @Test func methodsHeadersAgeAndNameBreakTies() {
        let router = Router(routes: [
            Self.route("plain", path: .prefix("/orders"), createdAt: 5),
            Self.route("post", path: .prefix("/orders"), methods: ["POST"]),
            Self.route("tenant", path: .prefix("/orders"), headers: [.init(name: "X-Tenant", value: "acme")]),
            Self.route("older", path: .prefix("/orders"), createdAt: 1),
        ])
        #expect(Self.match(router, path: "/orders", method: "POST", headers: ["x-tenant": "acme"]) == "post")
        #expect(Self.match(router, path: "/orders", headers: ["x-tenant": "acme"]) == "tenant")
        #expect(Self.match(router, path: "/orders", headers: ["x-tenant": "other"]) == "older")
        let tied = Router(routes: [Self.route("b", path: .prefix("/x")), Self.route("a", path: .prefix("/x"))])
        #expect(Self.match(tied, path: "/x") == "a")
    }

    @Test func invalidPatternsAreReportedAndNeverMatch() {
        let router = Router(routes: [Self.route("broken", path: .regularExpression("(")), Self.route("root")])
        #expect(router.invalidPatterns.map(\.route.name) == ["broken"])
        #expect(Self.match(router, path: "(") == "root")
    }

    @Test func tenThousandRoutesStillFindTheRightOne() {
        var routes: [RouteConfig] = []
        for index in 0..<10_000 {
            routes.append(Self.route("r\(index)", hosts: ["svc\(index % 100).example.com"], path: .prefix("/api/\(index)")))
        }
        let router = Router(routes: routes)
        #expect(Self.match(router, host: "svc42.example.com", path: "/api/9942/items") == "r9942")
        #expect(Self.match(router, host: "svc42.example.com", path: "/api/9943/items") == nil)
    }
}
