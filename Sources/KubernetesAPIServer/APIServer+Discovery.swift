import Synchronization
import NIOHTTP1
import Kubernetes

extension APIServer {
    /// The aggregated-discovery version the client asked for (`v2` or `v2beta1`), if any.
    static func aggregatedDiscoveryVersion(_ request: HTTPRequest) -> String? {
        let accept = request.headers.first(name: "accept") ?? ""
        guard accept.contains("as=APIGroupDiscoveryList") else { return nil }
        return accept.contains("g=apidiscovery.k8s.io;v=v2;") || accept.hasSuffix("v=v2;as=APIGroupDiscoveryList") ? "v2" : "v2beta1"
    }

    /// `GET /api`.
    func discoveryCore(_ request: HTTPRequest) throws -> DiscoveryResponse {
        if let version = Self.aggregatedDiscoveryVersion(request) {
            return .aggregated(aggregatedDiscovery(groups: [""], version: version), version: version)
        }
        return .plain([
            "kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string(configuration.serverAddress)]],
        ])
    }

    /// `GET /apis`.
    func discoveryGroups(_ request: HTTPRequest) throws -> DiscoveryResponse {
        let registry = self.registry.withLock { $0 }
        let groups = registry.groups.filter { !$0.isEmpty }
        if let version = Self.aggregatedDiscoveryVersion(request) {
            return .aggregated(aggregatedDiscovery(groups: groups, version: version), version: version)
        }
        return .plain(["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups.map { group(registry, $0) })])
    }

    /// `GET /apis/{group}`.
    func discoveryGroup(_ name: String) throws -> JSONValue {
        let registry = self.registry.withLock { $0 }
        guard !registry.versions(of: name).isEmpty else { throw APIError.unknownPath }
        var group = group(registry, name)
        group["kind"] = "APIGroup"
        group["apiVersion"] = "v1"
        return group
    }

    private func group(_ registry: ResourceRegistry, _ name: String) -> JSONValue {
        let versions: [JSONValue] = registry.versions(of: name).map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["name": .string(name), "versions": .array(versions), "preferredVersion": versions.first ?? .null]
    }

    /// `GET /api/v1` and `GET /apis/{group}/{version}`: an APIResourceList.
    func resourceList(group: String, version: String) throws -> JSONValue {
        let registry = self.registry.withLock { $0 }
        let types = registry.types.filter { $0.group == group && $0.version == version }
        guard !types.isEmpty else { throw APIError.unknownPath }
        var resources: [JSONValue] = []
        for type in types {
            var resource: JSONValue = [
                "name": .string(type.plural), "singularName": .string(type.singular), "namespaced": .bool(type.namespaced),
                "kind": .string(type.kind), "verbs": .array(ResourceType.standardVerbs.map(JSONValue.string)),
            ]
            if !type.shortNames.isEmpty { resource["shortNames"] = .array(type.shortNames.map(JSONValue.string)) }
            if !type.categories.isEmpty { resource["categories"] = .array(type.categories.map(JSONValue.string)) }
            resources.append(resource)
            if type.hasStatusSubresource {
                resources.append([
                    "name": .string(type.plural + "/status"), "singularName": "", "namespaced": .bool(type.namespaced),
                    "kind": .string(type.kind), "verbs": ["get", "patch", "update"],
                ])
            }
        }
        return [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
            "resources": .array(resources),
        ]
    }

    /// The aggregated discovery document (apidiscovery.k8s.io) for some groups.
    private func aggregatedDiscovery(groups: [String], version discoveryVersion: String) -> JSONValue {
        let registry = self.registry.withLock { $0 }
        let items: [JSONValue] = groups.map { group in
            let versions: [JSONValue] = registry.versions(of: group).map { version in
                let resources: [JSONValue] = registry.types.filter { $0.group == group && $0.version == version }.map { type in
                    let kind: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(type.kind)]
                    var resource: JSONValue = [
                        "resource": .string(type.plural), "responseKind": kind, "scope": .string(type.namespaced ? "Namespaced" : "Cluster"),
                        "singularResource": .string(type.singular), "verbs": .array(ResourceType.standardVerbs.map(JSONValue.string)),
                    ]
                    if !type.shortNames.isEmpty { resource["shortNames"] = .array(type.shortNames.map(JSONValue.string)) }
                    if !type.categories.isEmpty { resource["categories"] = .array(type.categories.map(JSONValue.string)) }
                    if type.hasStatusSubresource {
                        resource["subresources"] = [["subresource": "status", "responseKind": kind, "verbs": ["get", "patch", "update"]]]
                    }
                    return resource
                }
                return ["version": .string(version), "freshness": "Current", "resources": .array(resources)]
            }
            return ["metadata": ["name": .string(group), "creationTimestamp": .null], "versions": .array(versions)]
        }
        return ["kind": "APIGroupDiscoveryList", "apiVersion": .string("apidiscovery.k8s.io/\(discoveryVersion)"), "metadata": [:], "items": .array(items)]
    }

    /// A discovery answer: plain JSON, or aggregated discovery with its own content type.
    enum DiscoveryResponse {
        case plain(JSONValue)
        case aggregated(JSONValue, version: String)
    }

    func json(_ discovery: DiscoveryResponse) throws -> HTTPResponse {
        switch discovery {
        case .plain(let value):
            return try json(value)
        case .aggregated(let value, let version):
            guard case .full(let status, var headers, let body) = try json(value) else { return try json(value) }
            headers.replaceOrAdd(name: "content-type", value: "application/json;g=apidiscovery.k8s.io;v=\(version);as=APIGroupDiscoveryList")
            return .full(status: status, headers: headers, body: body)
        }
    }
}
