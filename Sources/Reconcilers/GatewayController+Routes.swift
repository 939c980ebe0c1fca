import Foundation
import Metrics
import Gateway
import IPAddresses
import Kubernetes
import KubernetesClient
import PKI
import PortcullisAPI
import Synchronization

/// The Routes' part of the config worker's state, carried from one pass to the next.
struct RouteState {
    /// A Route as last translated.
    struct Entry {
        /// Why the current generation cannot be served.
        enum Problem {
            case invalid([FieldError])
            case notAllowed(reason: String, [FieldError])
            case unresolved([String])
            case notPermitted([String])
        }

        var generation: Int64
        /// `nil` when the current generation translates.
        var problem: Problem?
        /// The latest version that translates: this generation, or the last good one when this one cannot.
        var accepted: RouteConfig?
        /// Why ``accepted`` cannot have its hostnames: another namespace claims them.
        var conflict: HostnameClaims.Conflict?
        /// What the gateway serves for it: ``accepted``, or the version served before when ``accepted``'s
        /// hostnames conflict; `nil` when nothing can be served.
        var served: RouteConfig?
        /// The resourceVersion at which this generation was first seen: a replica whose watermark
        /// reaches it serves the generation (``ReplicaReports``).
        var firstSeen: Int64?
    }

    var entries: [RouteKey: Entry] = [:]
    /// Each UpstreamAuth as last resolved, with the signing algorithms it needs and where its credential may go.
    var upstreamAuths: [ObjectKey: (resolved: ResolvedUpstreamAuth, algorithms: Set<SigningKey.Algorithm>, rules: CredentialSendingRules)] = [:]
    /// Routes whose status the leader has to look at: translated since, waiting for replicas, or
    /// whose last write failed.
    var statusPending: Set<RouteKey> = []
    /// The live replicas of the last status pass, to tell when one came or went.
    var replicaIdentities: Set<String> = []
    /// The issuer's documents the gateway serves.
    var issuer: IssuerDocuments?
    /// Up to which Route resourceVersion the gateway serves every change.
    var watermark: Int64 = 0
}

extension ResolvedUpstreamAuth: Equatable {
    /// The same credential object, client certificate, or problem.
    public static func == (lhs: ResolvedUpstreamAuth, rhs: ResolvedUpstreamAuth) -> Bool {
        switch (lhs, rhs) {
        case (.credential(let a), .credential(let b)): a === b
        case (.clientCertificate(let a), .clientCertificate(let b)): a == b
        case (.unusable(let a), .unusable(let b)): a == b
        default: false
        }
    }
}

/// The informers' caches a config pass reads.
struct RouteCaches: Sendable {
    var routes: Store<Route>
    var upstreamAuths: Store<UpstreamAuth>
    var tunnels: Store<Tunnel>
    var services: Store<JSONValue>
    var secrets: Store<CoreV1.Secret>
}

extension GatewayController {
    /// One pass of the config worker: resolves the UpstreamAuths and translates the Routes that
    /// changed (or whose references did), swaps a new config into the gateway if what it serves
    /// changed, and, as leader, writes the statuses that changed.
    ///
    /// Status writes stop after ``statusWriteBudget`` and go on in the next pass, so that 10,000 first
    /// writes (half a minute) do not hold back the changes that arrive meanwhile.
    ///
    /// - Parameter replicas: The live gateway replicas and how far each has got (``ReplicaReports``).
    /// - Returns: Whether the PKI needs a reconcile (an UpstreamAuth needs a signing algorithm the key ring
    ///   does not keep yet, or a namespace's JWKS is to be served or no longer), and whether statuses are
    ///   left to write.
    func reconcileRoutes(
        _ changes: RouteChanges.Pending,
        caches: RouteCaches,
        replicas: [String: Int64?],
        now: Date = Date()
    ) async throws -> (pkiNeedsReconcile: Bool, statusesLeft: Bool) {
        var state = routeState.withLock { state in
            var taken = RouteState()
            swap(&taken, &state)
            return taken
        }
        defer { routeState.withLock { [state] in $0 = state } }

        var translate = changes.routes
        let pkiNeedsReconcile = resolveUpstreamAuths(changes, caches: caches, state: &state, translate: &translate)
        if changes.everything { translate.formUnion(caches.routes.keys.map { RouteKey(namespace: $0.namespace, name: $0.name) }) }

        var acceptedChanged = false
        var servedRemoved = false
        for key in translate {
            guard let route = caches.routes.get(namespace: key.namespace, name: key.name), route.metadata.deletionTimestamp == nil else {
                if let removed = state.entries.removeValue(forKey: key) {
                    acceptedChanged = true
                    if removed.served != nil { servedRemoved = true }
                }
                state.statusPending.remove(key)
                continue
            }
            let previous = state.entries[key]
            let generation = route.metadata.generation ?? 1
            var entry = Entry(
                generation: generation,
                accepted: previous?.accepted,
                conflict: previous?.conflict,
                served: previous?.served,
                firstSeen: previous?.generation == generation ? previous?.firstSeen : route.metadata.resourceVersion.flatMap { Int64($0) }
            )
            switch RouteTranslator.translate(route, references: references(of: route, caches: caches, state: state), policy: tenancy) {
            case .serve(let config): entry.accepted = config
            case .invalid(let errors): entry.problem = .invalid(errors)
            case .notAllowed(let reason, let errors): entry.problem = .notAllowed(reason: reason, errors)
            case .unresolved(let problems): entry.problem = .unresolved(problems)
            case .notPermitted(let problems): entry.problem = .notPermitted(problems)
            }
            if entry.accepted != previous?.accepted { acceptedChanged = true }
            state.entries[key] = entry
            state.statusPending.insert(key)
        }
        // Resolved whenever a Route's accepted version changed or one went: a loser may now win.
        let hostnamesChanged = (acceptedChanged || changes.everything) && Self.resolveHostnames(&state, policy: tenancy)
        let configChanged = servedRemoved || hostnamesChanged

        let issuer = pki.issuerDocuments
        if configChanged || issuer != state.issuer || changes.everything {
            let configs = state.entries.values.compactMap(\.served)
            self.state.apply(
                GatewayConfig(generation: generation.add(1, ordering: .relaxed).newValue, routes: configs, issuer: issuer, destinations: tenancy.destinations)
            )
            state.issuer = issuer
            servedGeneration.record(self.state.generation)
            servedRoutes.record(configs.count)
            heapTrimmer.rebuilt()
        }
        // Every change delivered before this pass is now served.
        state.watermark = max(state.watermark, changes.resourceVersion)
        self.replicas.applied(upTo: state.watermark)

        guard isLeader() else { return (pkiNeedsReconcile, false) }
        // This replica's gateway serves what it just applied, whatever its Lease says yet.
        var replicas = replicas
        replicas[self.replicas.identity] = max(replicas[self.replicas.identity].flatMap { $0 } ?? 0, state.watermark)
        var look = state.statusPending.union(changes.statuses)
        let identities = Set(replicas.keys)
        if changes.everything || changes.allStatuses || identities != state.replicaIdentities {
            look.formUnion(state.entries.keys)
            state.replicaIdentities = identities
        }
        // Each is looked at again in the next pass until this one gets to it, should a write fail.
        state.statusPending.formUnion(look)
        let client = self.client.resources(Route.self)
        let writesEnd = ContinuousClock.now + Self.statusWriteBudget
        for key in look {
            if ContinuousClock.now > writesEnd { return (pkiNeedsReconcile, true) }
            guard let route = caches.routes.get(namespace: key.namespace, name: key.name), let entry = state.entries[key] else {
                state.statusPending.remove(key)
                continue
            }
            let (conditions, counts) = Self.status(of: route, entry, replicas: replicas, now: now)
            // A Route waiting for replicas is looked at again when one reports; one whose write fails, on the retry.
            let waiting = counts.map { $0.ready < $0.total } ?? false
            let current = route.status?.conditions ?? []
            guard current != conditions || route.status?.observedGeneration != route.metadata.generation || counts != route.status?.replicas else {
                if !waiting { state.statusPending.remove(key) }
                continue
            }
            Self.recordTransitions(from: current, to: conditions, of: CoreV1.ObjectReference(route), events: events)
            var status: JSONValue = ["observedGeneration": .integer(route.metadata.generation ?? 1), "conditions": try JSONValue(encoding: conditions)]
            if let served = entry.served { status["upstream"] = .string(served.upstream.description) }
            status["replicas"] = try counts.map { try JSONValue(encoding: $0) } ?? .null
            do {
                _ = try await client.patch(key.name, namespace: key.namespace, .merge(["status": status]), subresource: "status")
                if !waiting { state.statusPending.remove(key) }
            } catch let error as KubernetesError where error.code == .notFound {
                state.statusPending.remove(key)  // deleted meanwhile
            }
        }
        return (pkiNeedsReconcile, false)
    }

    /// Decides which Routes get their hostnames, oldest first (``HostnameClaims``): a Route whose accepted
    /// version conflicts keeps serving the version served before if that one does not, else serves nothing.
    /// Routes whose outcome changed have their status looked at again.
    ///
    /// - Returns: Whether what the gateway serves changed.
    static func resolveHostnames(_ state: inout RouteState, policy: TenancyPolicy) -> Bool {
        var claims = HostnameClaims(shared: policy.sharedHostnames, catchAllNamespaces: policy.catchAllNamespaces)
        var changed = false
        // Creation times have whole seconds: between Routes created in the same second, one already serving
        // keeps its hostnames, so a Route created in a race with another cannot take them by its name's order.
        var order: [(key: RouteKey, createdAt: Int64, serving: Bool)] = []
        for (key, entry) in state.entries {
            if let config = entry.accepted ?? entry.served { order.append((key, config.createdAt, entry.served != nil)) }
        }
        order.sort { a, b in
            if a.createdAt != b.createdAt { return a.createdAt < b.createdAt }
            if a.serving != b.serving { return a.serving }
            return a.key < b.key
        }
        for (key, _, _) in order {
            guard var entry = state.entries[key] else { continue }
            let before = (served: entry.served, conflict: entry.conflict)
            entry.conflict = nil
            entry.served = nil
            var candidates = [entry.accepted, before.served].compactMap { $0 }
            if candidates.count == 2 && candidates[0] == candidates[1] { candidates.removeLast() }
            for candidate in candidates {
                if let conflict = claims.claim(candidate.match.hostnames, namespace: key.namespace) {
                    entry.conflict = entry.conflict ?? conflict
                } else {
                    entry.served = candidate
                    break
                }
            }
            if entry.served == entry.accepted { entry.conflict = nil }
            if entry.served != before.served { changed = true }
            if entry.served != before.served || entry.conflict != before.conflict { state.statusPending.insert(key) }
            state.entries[key] = entry
        }
        return changed
    }

    /// How long a pass writes statuses before it lets the next pass serve what changed meanwhile.
    static let statusWriteBudget = Duration.seconds(1)

    typealias Entry = RouteState.Entry

    /// Resolves the UpstreamAuths `changes` names again, and adds the Routes of those whose result
    /// differs to `translate`.
    ///
    /// - Returns: Whether one needs a signing algorithm the key ring does not keep yet, or the namespaces
    ///   whose JWKS the gateway serves changed.
    private func resolveUpstreamAuths(
        _ changes: RouteChanges.Pending,
        caches: RouteCaches,
        state: inout RouteState,
        translate: inout Set<RouteKey>
    ) -> Bool {
        var keys = changes.upstreamAuths
        if changes.allUpstreamAuths {
            keys.formUnion(caches.upstreamAuths.keys)
            keys.formUnion(state.upstreamAuths.keys)
        } else {
            for namespace in changes.upstreamAuthNamespaces { keys.formUnion(caches.upstreamAuths.keys(byIndex: Store<UpstreamAuth>.namespaceIndex, value: namespace)) }
        }
        guard !keys.isEmpty else { return false }
        var secretsByNamespace: [String: [String: [String: Data]]] = [:]
        for key in keys {
            let resolved: (resolved: ResolvedUpstreamAuth, algorithms: Set<SigningKey.Algorithm>, rules: CredentialSendingRules)?
            if let auth = caches.upstreamAuths.get(key), auth.metadata.deletionTimestamp == nil {
                if secretsByNamespace[key.namespace] == nil {
                    secretsByNamespace[key.namespace] = Dictionary(
                        caches.secrets.list(namespace: key.namespace).map { ($0.metadata.name ?? "", $0.data ?? [:]) },
                        uniquingKeysWith: { first, _ in first }
                    )
                }
                let (usable, algorithms) = upstreamAuths.resolve(
                    auth, secrets: secretsByNamespace[key.namespace] ?? [:], unreadableSecrets: secretReferences.problems(in: key.namespace)
                )
                resolved = (usable, algorithms, CredentialSendingRules(auth.spec))
            } else {
                resolved = nil
            }
            let current = state.upstreamAuths[key]
            guard resolved?.resolved != current?.resolved || resolved?.algorithms != current?.algorithms || resolved?.rules != current?.rules else {
                continue
            }
            state.upstreamAuths[key] = resolved
            for route in caches.routes.keys(byIndex: RouteReference.index, value: RouteReference.indexValue(.upstreamAuth, namespace: key.namespace, name: key.name)) {
                translate.insert(RouteKey(namespace: route.namespace, name: route.name))
            }
        }
        let live = caches.upstreamAuths.list().filter { $0.metadata.deletionTimestamp == nil }
        upstreamAuths.retain(live)
        let newAlgorithms = pki.require(state.upstreamAuths.values.reduce(into: Set()) { $0.formUnion($1.algorithms) })
        let newNamespaces = pki.requireNamespaceKeys(Set(live.filter(UpstreamAuthTranslator.signsWithNamespaceKey).map { $0.metadata.namespace ?? "default" }))
        return newAlgorithms || newNamespaces
    }

    /// What `route` refers to, from the caches: only the objects it names.
    private func references(of route: Route, caches: RouteCaches, state: RouteState) -> RouteReferences {
        let namespace = route.metadata.namespace ?? "default"
        var references = RouteReferences()
        for reference in RouteReference.all(of: route) {
            switch reference.kind {
            case .secret:
                if let secret = caches.secrets.get(namespace: namespace, name: reference.name) {
                    references.secrets[reference.name] = secret.data ?? [:]
                } else {
                    references.unreadableSecrets[reference.name] = secretReferences.problem(namespace: namespace, name: reference.name)
                }
            case .service:
                if let service = caches.services.get(namespace: namespace, name: reference.name) {
                    let clusterIP = service[path: ["spec", "clusterIP"]]?.stringValue.flatMap { $0.isEmpty || $0 == "None" ? nil : $0 }
                    var ports: Set<Int> = []
                    var appProtocols: [Int: String] = [:]
                    for port in service[path: ["spec", "ports"]]?.arrayValue ?? [] {
                        guard let number = port["port"]?.integerValue.map(Int.init) else { continue }
                        ports.insert(number)
                        if let appProtocol = port["appProtocol"]?.stringValue { appProtocols[number] = appProtocol }
                    }
                    references.services[reference.name] = .init(host: clusterIP ?? "\(reference.name).\(namespace).svc", ports: ports, appProtocols: appProtocols)
                }
            case .tunnel:
                if let tunnel = caches.tunnels.get(namespace: namespace, name: reference.name) {
                    references.tunnels[reference.name] = .init(
                        isReady: tunnel.status?.conditions?.contains { $0.type == "Ready" && $0.status == .true } ?? false,
                        address: tunnel.status?.address.flatMap(IPNetwork.init)?.address,
                        allowedIPs: tunnel.spec.wireGuard.allowedIPs.compactMap(IPNetwork.init)
                    )
                }
            case .upstreamAuth:
                if let resolved = state.upstreamAuths[ObjectKey(namespace: namespace, name: reference.name)] {
                    references.upstreamAuths[reference.name] = resolved.resolved
                    references.credentialRules[reference.name] = resolved.rules
                }
            }
        }
        return references
    }

    /// A Route's conditions and replica counts, from its translation and how far the replicas have got.
    static func status(of route: Route, _ entry: Entry, replicas: [String: Int64?], now: Date) -> ([Condition], ReplicaCounts?) {
        let generation = route.metadata.generation ?? 1
        var conditions = route.status?.conditions ?? []
        func set(_ type: String, _ status: Condition.Status, _ reason: String, _ message: String) {
            conditions = ConditionList.setting(type, to: status, reason: reason, message: message, observedGeneration: generation, in: conditions, now: now)
        }
        func stale() {
            if let previous = entry.served {
                set("Ready", .false, "ServingPreviousGeneration", "the gateway keeps serving generation \(previous.generation); this generation cannot be served")
            } else {
                set("Ready", .false, "NotServed", "the gateway does not serve this Route")
            }
        }
        var counts: ReplicaCounts?
        switch entry.problem {
        case nil:
            if let conflict = entry.conflict {
                set("Accepted", .false, conflict.reason, conflict.message)
                set("ResolvedRefs", .true, "ResolvedRefs", "every reference resolves")
                stale()
                break
            }
            set("Accepted", .true, "Accepted", "the spec is valid")
            set("ResolvedRefs", .true, "ResolvedRefs", "every reference resolves")
            let ready = replicas.values.filter { reported in
                guard let firstSeen = entry.firstSeen, let reported else { return true }
                return reported >= firstSeen
            }.count
            counts = ReplicaCounts(ready: ready, total: replicas.count)
            if ready == replicas.count && ready > 0 {
                set("Ready", .true, "Serving", "\(ready == 1 ? "the gateway replica serves" : "all \(ready) gateway replicas serve") generation \(generation)")
            } else {
                set("Ready", .false, "Propagating", "\(ready) of \(replicas.count) gateway replicas serve generation \(generation)")
            }
        case .invalid(let errors)?:
            set("Accepted", .false, "Invalid", errors.map(\.description).joined(separator: "; "))
            set("ResolvedRefs", .unknown, "Invalid", "references are resolved once the spec is valid")
            stale()
        case .notAllowed(let reason, let errors)?:
            set("Accepted", .false, reason, errors.map(\.description).joined(separator: "; "))
            set("ResolvedRefs", .unknown, reason, "references are resolved once the spec is allowed")
            stale()
        case .unresolved(let problems)?:
            set("Accepted", .true, "Accepted", "the spec is valid")
            set("ResolvedRefs", .false, "RefNotResolved", problems.joined(separator: "; "))
            stale()
        case .notPermitted(let problems)?:
            set("Accepted", .true, "Accepted", "the spec is valid")
            set("ResolvedRefs", .false, "RefNotPermitted", problems.joined(separator: "; "))
            stale()
        }
        return (conditions, counts)
    }
}
