public import PortcullisAPI

extension ResourceDescriptor {
    /// core/v1 `secrets`.
    public static let secrets = ResourceDescriptor(
        group: "",
        version: "v1",
        plural: "secrets",
        kind: "Secret",
        namespaced: true
    )
    /// core/v1 `configmaps`.
    public static let configMaps = ResourceDescriptor(
        group: "",
        version: "v1",
        plural: "configmaps",
        kind: "ConfigMap",
        namespaced: true
    )
    /// core/v1 `events` (what kubectl describe reads).
    public static let events = ResourceDescriptor(
        group: "",
        version: "v1",
        plural: "events",
        kind: "Event",
        namespaced: true
    )
    /// core/v1 `namespaces` (cluster-scoped).
    public static let namespaces = ResourceDescriptor(
        group: "",
        version: "v1",
        plural: "namespaces",
        kind: "Namespace",
        namespaced: false
    )
    /// core/v1 `services`.
    public static let services = ResourceDescriptor(
        group: "",
        version: "v1",
        plural: "services",
        kind: "Service",
        namespaced: true
    )
    /// coordination.k8s.io/v1 `leases`.
    public static let leases = ResourceDescriptor(
        group: "coordination.k8s.io",
        version: "v1",
        plural: "leases",
        kind: "Lease",
        namespaced: true
    )
    /// apiextensions.k8s.io/v1 `customresourcedefinitions` (cluster-scoped).
    public static let customResourceDefinitions = ResourceDescriptor(
        group: "apiextensions.k8s.io",
        version: "v1",
        plural: "customresourcedefinitions",
        kind: "CustomResourceDefinition",
        namespaced: false
    )

    /// The descriptor of a Portcullis custom resource, from its type (all of them are namespaced).
    public init<Resource: CustomResource>(customResource: Resource.Type) {
        self.init(
            group: PortcullisAPIGroup.group,
            version: PortcullisAPIGroup.version,
            plural: Resource.plural,
            kind: Resource.kind,
            namespaced: true
        )
    }

    /// `routes.portcullis.io/v1alpha1`.
    public static let routes = ResourceDescriptor(customResource: Route.self)
    /// `upstreamauths.portcullis.io/v1alpha1`.
    public static let upstreamAuths = ResourceDescriptor(customResource: UpstreamAuth.self)
    /// `tunnels.portcullis.io/v1alpha1`.
    public static let tunnels = ResourceDescriptor(customResource: Tunnel.self)
}

extension Route: KubernetesResource {
    public static var resource: ResourceDescriptor { .routes }
}

extension UpstreamAuth: KubernetesResource {
    public static var resource: ResourceDescriptor { .upstreamAuths }
}

extension Tunnel: KubernetesResource {
    public static var resource: ResourceDescriptor { .tunnels }
}
