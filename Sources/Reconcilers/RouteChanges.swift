import Gateway
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Synchronization

/// An object a Route refers to by name in its own namespace: when it changes, the Route is
/// translated again.
struct RouteReference: Hashable, Sendable {
    enum Kind: String, Sendable {
        case secret = "Secret"
        case service = "Service"
        case tunnel = "Tunnel"
        case upstreamAuth = "UpstreamAuth"
    }

    var kind: Kind
    var name: String

    /// The name of the Route cache's index of references: `<Kind>/<namespace>/<name>` → Routes.
    static let index = "references"

    /// The value under which ``index`` files a reference to `name` in `namespace`.
    static func indexValue(_ kind: Kind, namespace: String, name: String) -> String {
        "\(kind.rawValue)/\(namespace)/\(name)"
    }

    /// Everything `route` refers to: its upstream's and fallback's Service, CA Secret and Tunnel, and its UpstreamAuths.
    static func all(of route: Route) -> [RouteReference] {
        var references: [RouteReference] = []
        for upstream in [route.spec.upstream, route.spec.fallback?.upstream].compactMap({ $0 }) {
            if let service = upstream.service { references.append(RouteReference(kind: .service, name: service.name)) }
            if let secret = upstream.tls?.caSecretRef { references.append(RouteReference(kind: .secret, name: secret.name)) }
            if let tunnel = upstream.tunnelRef { references.append(RouteReference(kind: .tunnel, name: tunnel.name)) }
        }
        for auth in route.spec.authRefs ?? [] { references.append(RouteReference(kind: .upstreamAuth, name: auth.name)) }
        return references
    }

    /// The index function for the Route cache.
    @Sendable static func indexValues(of route: Route) -> [String] {
        let namespace = route.metadata.namespace ?? "default"
        return all(of: route).map { indexValue($0.kind, namespace: namespace, name: $0.name) }
    }
}

/// What the informers reported since the config worker last looked, so that it translates only the
/// Routes that changed or whose references did, instead of all of them on every change. Handlers
/// record; the worker takes everything recorded at the start of each pass.
final class RouteChanges: Sendable {
    struct Pending {
        /// Routes whose spec changed, or that appeared or went: translated again.
        var routes: Set<RouteKey> = []
        /// Routes whose status alone changed: their conditions are looked at again.
        var statuses: Set<RouteKey> = []
        /// UpstreamAuths resolved again (their Routes are translated again when the result differs).
        var upstreamAuths: Set<ObjectKey> = []
        /// Namespaces whose every UpstreamAuth is resolved again: a Secret there changed, and an
        /// UpstreamAuth may read it.
        var upstreamAuthNamespaces: Set<String> = []
        /// Every UpstreamAuth resolved again: whether JWTs can be signed changed.
        var allUpstreamAuths = false
        /// Every Route translated again, and every status looked at: at the start.
        var everything = false
        /// Every status looked at: this replica started leading.
        var allStatuses = false
        /// The highest Route resourceVersion delivered.
        var resourceVersion: Int64 = 0
    }

    private let pending = Mutex(Pending(allUpstreamAuths: true, everything: true))

    /// Records a change.
    func record(_ change: (inout Pending) -> Void) {
        pending.withLock { change(&$0) }
    }

    /// Everything recorded since the last call.
    func take() -> Pending {
        pending.withLock { pending in
            var taken = Pending()
            swap(&taken, &pending)
            return taken
        }
    }

    /// The handler of the Route informer: a change of spec, generation or deletion is translated
    /// again; any other change (status, labels, a resync) only has its status looked at. Each
    /// change is recorded, then `wake` is called.
    func routeHandler(then wake: @escaping @Sendable () -> Void) -> InformerEventHandler<Route> {
        InformerEventHandler(
            onAdd: { route in
                self.record { $0.routed(route, translate: true) }
                wake()
            },
            onUpdate: { old, new in
                let translate = old.spec != new.spec || old.metadata.generation != new.metadata.generation
                    || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp
                self.record { $0.routed(new, translate: translate) }
                wake()
            },
            onDelete: { deletion in
                self.record { $0.routed(deletion.object, translate: true) }
                wake()
            }
        )
    }

    /// The handler of an informer of objects Routes refer to: the Routes that refer to the changed
    /// object (found through the Route cache's ``RouteReference/index``) are translated again; then
    /// `wake` is called.
    func referenceHandler<Object: KubernetesObject>(
        _ kind: RouteReference.Kind,
        routes: Store<Route>,
        then wake: @escaping @Sendable () -> Void
    ) -> InformerEventHandler<Object> {
        let changed: @Sendable (Object) -> Void = { object in
            let namespace = object.metadata.namespace ?? "default"
            let referring = routes.keys(
                byIndex: RouteReference.index,
                value: RouteReference.indexValue(kind, namespace: namespace, name: object.metadata.name ?? "")
            )
            self.record { pending in
                for key in referring { pending.routes.insert(RouteKey(namespace: key.namespace, name: key.name)) }
                switch kind {
                case .secret: pending.upstreamAuthNamespaces.insert(namespace)
                case .upstreamAuth: pending.upstreamAuths.insert(object.objectKey)
                case .service, .tunnel: break
                }
            }
            wake()
        }
        return InformerEventHandler(onAdd: changed, onUpdate: { _, new in changed(new) }, onDelete: { changed($0.object) })
    }
}

extension RouteChanges.Pending {
    mutating func routed(_ route: Route, translate: Bool) {
        let key = RouteKey(namespace: route.metadata.namespace ?? "default", name: route.metadata.name ?? "")
        if translate { routes.insert(key) } else { statuses.insert(key) }
        resourceVersion = max(resourceVersion, route.metadata.resourceVersion.flatMap { Int64($0) } ?? 0)
    }
}
