import Kubernetes

/// The resource types being served: the built-ins, and one per served version of every
/// established CustomResourceDefinition.
struct ResourceRegistry: Sendable {
    private(set) var types: [ResourceType] = ResourceType.builtins

    /// The type served at `group/version/plural`.
    func lookup(group: String, version: String, plural: String) -> ResourceType? {
        types.first { $0.group == group && $0.version == version && $0.plural == plural }
    }

    /// Every version served of a group, in the order they were registered.
    func versions(of group: String) -> [String] {
        var versions: [String] = []
        for type in types where type.group == group && !versions.contains(type.version) { versions.append(type.version) }
        return versions
    }

    /// Every group served, the core group (`""`) first.
    var groups: [String] {
        var groups: [String] = []
        for type in types where !groups.contains(type.group) { groups.append(type.group) }
        return groups.sorted { ($0.isEmpty ? 0 : 1, $0) < ($1.isEmpty ? 0 : 1, $1) }
    }

    /// Serves (or stops serving) the resources a CRD defines. `crd` nil removes them.
    mutating func update(crdNamed name: String, _ crd: CustomResourceDefinition?) {
        types.removeAll { $0.isCustom && "\($0.plural).\($0.group)" == name }
        guard let crd else { return }
        for version in crd.spec.versions where version.served {
            types.append(
                ResourceType(
                    group: crd.spec.group,
                    version: version.name,
                    kind: crd.spec.names.kind,
                    plural: crd.spec.names.plural,
                    singular: crd.spec.names.singular ?? crd.spec.names.kind.lowercased(),
                    namespaced: crd.spec.scope == "Namespaced",
                    shortNames: crd.spec.names.shortNames ?? [],
                    categories: crd.spec.names.categories ?? [],
                    hasStatusSubresource: version.subresources?.status != nil,
                    hasGeneration: true,
                    schema: version.schema?.openAPIV3Schema,
                    printerColumns: version.additionalPrinterColumns ?? [],
                    isCustom: true
                )
            )
        }
    }
}
