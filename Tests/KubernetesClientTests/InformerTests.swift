import Foundation
import Kubernetes
import KubernetesClient
import PortcullisAPI
import PortcullisTestSupport
import Prometheus
import ServiceLifecycle
import Testing

/// What a handler saw, in order.
enum Seen: Hashable, Sendable {
    case add(String)
    case update(String, resync: Bool)
    case delete(String, tombstone: Bool)
}

func recordingHandler<Object: KubernetesObject>(_ recorder: Recorder<Seen>) -> InformerEventHandler<Object> {
    InformerEventHandler(
        onAdd: { recorder.append(.add($0.objectKey.description)) },
        onUpdate: { old, new in
            recorder.append(
                .update(new.objectKey.description, resync: old.metadata.resourceVersion == new.metadata.resourceVersion)
            )
        },
        onDelete: { recorder.append(.delete($0.key.description, tombstone: $0.finalStateUnknown)) }
    )
}

/// Runs a service until the end of `body`.
func running<S: Service, Result>(_ service: S, _ body: () async throws -> Result) async throws -> Result {
    let task = Task { try await service.run() }
    do {
        let result = try await body()
        task.cancel()
        try await task.value
        return result
    } catch {
        task.cancel()
        _ = try? await task.value
        throw error
    }
}

/// Fast reconnects for tests.
let testInformerConfiguration = InformerConfiguration(
    resyncPeriod: nil,
    backoff: BackoffConfiguration(initial: .milliseconds(50), maximum: .milliseconds(300))
)

extension IntegrationTests {
    @Suite struct InformerTests {
        @Test func syncsThenFollowsAddsUpdatesAndDeletesWithIndexes() async throws {
            try await withServer { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                _ = try await client.resources(CoreV1.Namespace.self).create(
                    CoreV1.Namespace(metadata: .init(name: "other"))
                )
                for name in ["a", "b"] { _ = try await configMaps.create(.named(name, labels: ["app": "web"])) }
                _ = try await configMaps.create(.named("c", namespace: "other", labels: ["app": "db"]))

                let informer = Informer(
                    client: client,
                    resource: .configMaps,
                    as: CoreV1.ConfigMap.self,
                    configuration: testInformerConfiguration,
                    logger: quietLogger
                )
                informer.store.addIndex("app") { [$0.metadata.labels?["app"] ?? ""] }
                let seen = Recorder<Seen>()
                informer.addEventHandler(recordingHandler(seen))
                #expect(!informer.hasSynced)
                try await running(informer) {
                    #expect(await informer.waitForSync())
                    #expect(informer.store.keys.map(\.description) == ["default/a", "default/b", "other/c"])
                    #expect(Set(seen.all) == [.add("default/a"), .add("default/b"), .add("other/c")])
                    #expect(informer.store.list(namespace: "other").compactMap(\.metadata.name) == ["c"])
                    #expect(
                        informer.store.keys(byIndex: "app", value: "web").map(\.description) == [
                            "default/a", "default/b",
                        ]
                    )

                    _ = try await configMaps.create(.named("d", labels: ["app": "db"]))
                    _ = try await configMaps.patch("a", .merge(["metadata": ["labels": ["app": "db"]]]))
                    try await configMaps.delete("b")
                    await eventually("the cache follows the watch") {
                        informer.store.count == 3 && informer.store.get(namespace: "default", name: "b") == nil
                    }
                    #expect(
                        Array(seen.all.dropFirst(3)) == [
                            .add("default/d"), .update("default/a", resync: false),
                            .delete("default/b", tombstone: false),
                        ]
                    )
                    #expect(
                        informer.store.keys(byIndex: "app", value: "db").map(\.description) == [
                            "default/a", "default/d", "other/c",
                        ]
                    )
                    #expect(
                        informer.store.keys(byIndex: "app", value: "web").isEmpty,
                        "indexes follow updates and deletes"
                    )
                    #expect(informer.store.get(namespace: "default", name: "a")?.metadata.labels == ["app": "db"])

                    let late = Recorder<Seen>()
                    informer.addEventHandler(recordingHandler(late))
                    #expect(
                        late.all == [.add("default/a"), .add("default/d"), .add("other/c")],
                        "a late handler hears the cache as adds"
                    )
                    #expect(informer.statistics.lists == 1)
                    #expect(informer.statistics.watches == 1)
                }
            }
        }

        @Test func aChangedUpstreamAuthRequeuesTheRoutesThatReferenceIt() async throws {
            try await withServer(crds: true) { _, client in
                let routes = client.resources(Route.self)
                let auths = client.resources(.upstreamAuths, as: JSONValue.self)
                func route(_ name: String, _ refs: [String]) -> Route {
                    Route(
                        metadata: .init(name: name),
                        spec: RouteSpec(
                            upstream: Upstream(url: "http://127.0.0.1:8090"),
                            authRefs: refs.map { LocalObjectReference(name: $0) }
                        )
                    )
                }
                func auth(_ name: String) -> JSONValue {
                    [
                        "apiVersion": "portcullis.io/v1alpha1", "kind": "UpstreamAuth",
                        "metadata": ["name": .string(name)],
                        "spec": ["gatewayJWT": ["ttl": "5m"]],
                    ]
                }
                _ = try await auths.create(auth("jwt"))
                _ = try await auths.create(auth("other"))
                _ = try await routes.create(route("r1", ["jwt"]))
                _ = try await routes.create(route("r2", ["other"]))
                _ = try await routes.create(route("r3", ["other", "jwt"]))

                let factory = SharedInformerFactory(
                    client: client,
                    defaultConfiguration: testInformerConfiguration,
                    logger: quietLogger
                )
                let routeInformer = factory.informer(for: Route.self)
                #expect(factory.informer(for: Route.self) === routeInformer, "one informer per kind")
                routeInformer.store.addIndex("upstreamAuth") { route in
                    (route.spec.authRefs ?? []).map { "\(route.metadata.namespace ?? "")/\($0.name)" }
                }
                let queue = WorkQueue<ObjectKey>(name: "routes")
                routeInformer.addEventHandler(.enqueue(into: queue))
                let authInformer = factory.informer(.upstreamAuths, as: JSONValue.self)
                authInformer.addEventHandler(
                    .enqueue(into: queue) { auth in
                        routeInformer.store.keys(byIndex: "upstreamAuth", value: auth.objectKey.description)
                    }
                )

                try await running(factory) {
                    #expect(await factory.waitForSync())
                    await eventually { queue.count == 3 }
                    var drained: [String] = []
                    while queue.count > 0, let key = await queue.get() {
                        drained.append(key.description)
                        queue.done(key)
                    }
                    #expect(Set(drained) == ["default/r1", "default/r2", "default/r3"])

                    _ = try await auths.patch("jwt", .merge(["spec": ["gatewayJWT": ["ttl": "10m"]]]))
                    await eventually("the routes using jwt are queued") { queue.count == 2 }
                    var requeued: [String] = []
                    while queue.count > 0, let key = await queue.get() {
                        requeued.append(key.description)
                        queue.done(key)
                    }
                    #expect(requeued.sorted() == ["default/r1", "default/r3"])
                }
            }
        }

        @Test func relistsAfterAForced410AndReportsMissedDeletesAsTombstones() async throws {
            try await withServer(stateful: true, historyLimit: 5) { server, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                _ = try await configMaps.create(.named("kept", data: ["v": "0"]))
                _ = try await configMaps.create(.named("doomed"))
                let metrics = PrometheusCollectorRegistry()
                let informer = Informer(
                    client: client,
                    resource: .configMaps,
                    as: CoreV1.ConfigMap.self,
                    namespace: "default",
                    configuration: testInformerConfiguration,
                    logger: quietLogger,
                    metricsFactory: PrometheusMetricsFactory(registry: metrics)
                )
                let restarts = { (reason: String) in
                    PrometheusText(metrics.emitToString()).value(
                        "portcullis_informer_watch_restarts_total",
                        ["resource": "configmaps", "reason": reason]
                    )
                }
                let relists = {
                    PrometheusText(metrics.emitToString()).value("portcullis_informer_relists_total", ["resource": "configmaps"])
                }
                #expect(restarts("expired") == 0 && restarts("closed") == 0, "every reason is there from the start")
                #expect(restarts("invalid_event") == 0 && restarts("error") == 0)
                #expect(relists() == 0)
                let seen = Recorder<Seen>()
                informer.addEventHandler(recordingHandler(seen))
                try await running(informer) {
                    #expect(await informer.waitForSync())
                    await server.stop()
                    // More changes than the history keeps, made while the informer cannot reach the server.
                    try await server.withDetachedInstance { other in
                        let elsewhere = other.resources(CoreV1.ConfigMap.self)
                        for index in 1...8 {
                            _ = try await elsewhere.patch("kept", .merge(["data": ["v": .string("\(index)")]]))
                        }
                        try await elsewhere.delete("doomed")
                        _ = try await elsewhere.create(.named("born"))
                    }
                    try await server.start()
                    await eventually("the informer relists") {
                        informer.store.keys.map(\.description) == ["default/born", "default/kept"]
                            && informer.store.get(namespace: "default", name: "kept")?.data?["v"] == "8"
                    }
                    #expect(informer.statistics.expired >= 1, "the watch from the old resourceVersion got 410")
                    #expect(informer.statistics.lists >= 2)
                    #expect((restarts("expired") ?? 0) >= 1, "the 410 is counted")
                    #expect((relists() ?? 0) >= 1, "so is the relist it caused")
                    #expect(
                        seen.all.contains(.delete("default/doomed", tombstone: true)),
                        "a delete noticed at relist is a tombstone"
                    )
                    #expect(seen.all.contains(.add("default/born")))
                    #expect(seen.all.contains(.update("default/kept", resync: false)))

                    _ = try await configMaps.patch("kept", .merge(["data": ["v": "9"]]))
                    await eventually("and watches again") {
                        informer.store.get(namespace: "default", name: "kept")?.data?["v"] == "9"
                    }
                }
            }
        }

        @Test func reconnectsAfterTheServerRestartsOnTheSamePortWithoutLosingUpdates() async throws {
            try await withServer(stateful: true) { server, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                _ = try await configMaps.create(.named("counter", data: ["n": "0"]))
                let informer = Informer(
                    client: client,
                    resource: .configMaps,
                    as: CoreV1.ConfigMap.self,
                    namespace: "default",
                    configuration: testInformerConfiguration,
                    logger: quietLogger
                )
                try await running(informer) {
                    #expect(await informer.waitForSync())
                    _ = try await configMaps.patch("counter", .merge(["data": ["n": "1"]]))
                    await server.stop()  // possibly before the watch delivered n=1
                    try await server.start()
                    for n in 2...4 {
                        try await retrying {
                            _ = try await configMaps.patch("counter", .merge(["data": ["n": .string("\(n)")]]))
                        }
                    }
                    _ = try await configMaps.create(.named("after-restart"))
                    let truth = try await configMaps.list(namespace: "default")
                    await eventually("the cache converges to the server's state") {
                        let cached = informer.store.list().map {
                            "\($0.metadata.name ?? "")@\($0.metadata.resourceVersion ?? "")"
                        }
                        let served = truth.items.map {
                            "\($0.metadata.name ?? "")@\($0.metadata.resourceVersion ?? "")"
                        }
                        return cached == served
                    }
                    #expect(informer.store.get(namespace: "default", name: "counter")?.data?["n"] == "4")
                    #expect(informer.statistics.watches >= 2, "the watch was re-opened")
                }
            }
        }

        @Test func resyncRedeliversCachedObjectsAsUpdates() async throws {
            try await withServer { _, client in
                _ = try await client.resources(CoreV1.ConfigMap.self).create(.named("steady"))
                var configuration = testInformerConfiguration
                configuration.resyncPeriod = .milliseconds(150)
                let informer = Informer(
                    client: client,
                    resource: .configMaps,
                    as: CoreV1.ConfigMap.self,
                    namespace: "default",
                    configuration: configuration,
                    logger: quietLogger
                )
                let seen = Recorder<Seen>()
                informer.addEventHandler(recordingHandler(seen))
                try await running(informer) {
                    await eventually { seen.all.filter { $0 == .update("default/steady", resync: true) }.count >= 2 }
                }
            }
        }

        @Test func aLabelSelectedInformerSeesObjectsLeaveTheSelection() async throws {
            try await withServer { _, client in
                let configMaps = client.resources(CoreV1.ConfigMap.self)
                _ = try await configMaps.create(.named("in", labels: ["tier": "gateway"]))
                _ = try await configMaps.create(.named("out", labels: ["tier": "other"]))
                var configuration = testInformerConfiguration
                configuration.labelSelector = "tier=gateway"
                let informer = Informer(
                    client: client,
                    resource: .configMaps,
                    as: JSONValue.self,
                    namespace: "default",
                    configuration: configuration,
                    logger: quietLogger
                )
                let seen = Recorder<Seen>()
                informer.addEventHandler(recordingHandler(seen))
                try await running(informer) {
                    #expect(await informer.waitForSync())
                    #expect(informer.store.keys.map(\.description) == ["default/in"])
                    _ = try await configMaps.patch("in", .merge(["metadata": ["labels": ["tier": "other"]]]))
                    _ = try await configMaps.patch("out", .merge(["metadata": ["labels": ["tier": "gateway"]]]))
                    await eventually { informer.store.keys.map(\.description) == ["default/out"] }
                    #expect(
                        seen.all == [.add("default/in"), .delete("default/in", tombstone: false), .add("default/out")]
                    )
                }
            }
        }
    }
}

/// Retries a write while a restarted server comes up.
func retrying(_ body: () async throws -> Void) async throws {
    var attempt = 0
    while true {
        do {
            return try await body()
        } catch {
            attempt += 1
            if attempt > 50 { throw error }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
