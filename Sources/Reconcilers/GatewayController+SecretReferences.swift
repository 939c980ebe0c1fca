import Kubernetes
import KubernetesClient
import Metrics
import PortcullisAPI

extension GatewayController {
    /// Looks up the Secrets Routes and UpstreamAuths name that the cache does not hold (``SecretReferences``): a name
    /// without an answer when an object naming it appears; any name when the spec of an object naming it changes, or
    /// a labelled Secret of that name is deleted (gone, or its label removed); and each again after
    /// ``SecretLookupConfiguration/recheckInterval`` while something names it. Only the leader looks up, one Secret
    /// at a time and at most ``SecretLookupConfiguration/lookupsPerSecond`` (a follower forgets each answer as its
    /// recheck comes up); a replica that starts leading calls `lookUpAll`, which looks up every name without an
    /// answer. Each GET counts in `portcullis_secret_reference_lookups_total`.
    ///
    /// - Parameter changed: Called with a Secret whose lookup changed what a condition says.
    /// - Returns: The lookups' controller, to run, and what looks up every name without an answer.
    func makeSecretLookups(
        routes: Informer<Route>,
        auths: Informer<UpstreamAuth>,
        secrets: Informer<CoreV1.Secret>,
        changed: @escaping @Sendable (ObjectKey) -> Void
    ) -> (controller: Controller<ObjectKey>, lookUpAll: @Sendable () -> Void) {
        let queue = WorkQueue<ObjectKey>(name: "secret-references", metricsFactory: metricsFactory)
        let lookups = Counter(label: "portcullis_secret_reference_lookups_total", factory: metricsFactory)
        let references = secretReferences
        let configuration = secretLookup
        let lookUp: @Sendable (String?, [String], _ again: Bool) -> Void = { namespace, names, again in
            let namespace = namespace ?? "default"
            for name in names where secrets.store.get(namespace: namespace, name: name) == nil {
                let key = ObjectKey(namespace: namespace, name: name)
                if again || references.needsLookUp(key) { queue.add(key) }
            }
        }
        routes.addEventHandler(
            InformerEventHandler(
                onAdd: { lookUp($0.metadata.namespace, SecretReferences.names(of: $0), false) },
                onUpdate: { old, new in
                    if old.spec != new.spec { lookUp(new.metadata.namespace, SecretReferences.names(of: new), true) }
                },
                onDelete: { _ in }
            )
        )
        auths.addEventHandler(
            InformerEventHandler(
                onAdd: { lookUp($0.metadata.namespace, SecretReferences.names(of: $0), false) },
                onUpdate: { old, new in
                    if old.spec != new.spec { lookUp(new.metadata.namespace, SecretReferences.names(of: new), true) }
                },
                onDelete: { _ in }
            )
        )
        secrets.addEventHandler(
            InformerEventHandler(
                onAdd: { references.forget($0.objectKey) },
                onUpdate: { _, new in references.forget(new.objectKey) },
                onDelete: { deletion in
                    references.forget(deletion.object.objectKey)
                    queue.add(deletion.object.objectKey)
                }
            )
        )
        // Whether a Route or UpstreamAuth still names `key`.
        let isNamed: @Sendable (ObjectKey) -> Bool = { key in
            let value = RouteReference.indexValue(.secret, namespace: key.namespace, name: key.name)
            return !routes.store.keys(byIndex: RouteReference.index, value: value).isEmpty
                || auths.store.list(namespace: key.namespace).contains { auth in
                    SecretReferences.names(of: auth).contains(key.name)
                }
        }
        let controller = Controller(
            configuration: .init(name: "secret-references"),
            queue: queue,
            waitingFor: [routes, auths, secrets],
            logger: logger,
            metricsFactory: metricsFactory
        ) { [self] key in
            // A follower drops what it knew: should it lead again, `lookUpAll` looks up what has no answer.
            guard isLeader(), secrets.store.get(key) == nil, isNamed(key) else {
                references.forget(key)
                return .done
            }
            try await references.pace(lookupsPerSecond: configuration.lookupsPerSecond)
            lookups.increment()
            if try await lookUpSecret(key) { changed(key) }
            return .requeueAfter(configuration.recheckInterval)
        }
        let lookUpAll: @Sendable () -> Void = {
            for route in routes.store.list() {
                lookUp(route.metadata.namespace, SecretReferences.names(of: route), false)
            }
            for auth in auths.store.list() {
                lookUp(auth.metadata.namespace, SecretReferences.names(of: auth), false)
            }
        }
        return (controller, lookUpAll)
    }

    /// Reads the Secret `key`, which the cache does not hold, by name (never caching it: only how it is labelled is
    /// kept, its data dropped), and records what it found in ``secretReferences``.
    ///
    /// - Returns: Whether that changes what a condition says.
    func lookUpSecret(_ key: ObjectKey) async throws -> Bool {
        let finding: SecretReferences.Finding?
        do {
            let secret = try await client.resources(CoreV1.Secret.self).get(key.name, namespace: key.namespace)
            finding = SecretReferences.finding(for: secret)
        } catch let error as KubernetesError where error.code == .notFound {
            finding = nil
        }
        return secretReferences.record(key, finding)
    }
}
