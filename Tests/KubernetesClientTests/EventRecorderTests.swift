import Foundation
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Testing

extension IntegrationTests {
    @Suite struct EventRecorderTests {
        static func route(_ client: KubernetesClient) async throws -> Route {
            try await client.resources(Route.self).create(
                Route(metadata: .init(name: "web"), spec: RouteSpec(upstream: Upstream(url: "http://127.0.0.1:8090")))
            )
        }

        @Test func repeatsAreAggregatedIntoOneEvent() async throws {
            try await withServer(crds: true) { _, client in
                let route = try await Self.route(client)
                let recorder = EventRecorder(
                    client: client,
                    configuration: .init(component: "portcullis-controller", instance: "pod-a"),
                    logger: quietLogger
                )
                let reference = CoreV1.ObjectReference(route)
                let t0 = Date(timeIntervalSince1970: 1_735_732_800)
                let first = try await recorder.emit(
                    .normal,
                    reason: "Programmed",
                    message: "serving generation 1",
                    about: reference,
                    at: t0
                )
                var changed = reference
                changed.resourceVersion = "999"  // the object moved on; still the same object
                let second = try await recorder.emit(
                    .normal,
                    reason: "Programmed",
                    message: "serving generation 1",
                    about: changed,
                    at: t0.addingTimeInterval(30)
                )
                #expect(second.metadata.name == first.metadata.name)
                #expect(second.count == 2)
                #expect(second.firstTimestamp == "2025-01-01T12:00:00Z")
                #expect(second.lastTimestamp == "2025-01-01T12:00:30Z")
                _ = try await recorder.emit(
                    .warning,
                    reason: "InvalidSpec",
                    message: "spec.upstream.url: Invalid value",
                    about: reference,
                    at: t0
                )

                let events = try await client.resources(CoreV1.Event.self).list(
                    namespace: "default",
                    options: ListOptions(fieldSelector: "involvedObject.name=web,involvedObject.kind=Route")
                )
                #expect(events.items.count == 2)
                let programmed = try #require(events.items.first { $0.reason == "Programmed" })
                #expect(programmed.count == 2)
                #expect(programmed.type == "Normal")
                #expect(programmed.source?.component == "portcullis-controller")
                #expect(programmed.reportingComponent == "portcullis-controller")
                #expect(programmed.reportingInstance == "pod-a")
                #expect(programmed.involvedObject.kind == "Route")
                #expect(programmed.involvedObject.apiVersion == "portcullis.io/v1alpha1")
                #expect(programmed.involvedObject.uid == route.metadata.uid)
                #expect(programmed.metadata.name?.hasPrefix("web.") == true)
                #expect(events.items.first { $0.reason == "InvalidSpec" }?.type == "Warning")
            }
        }

        @Test func anExpiredEventIsCreatedAgain() async throws {
            try await withServer(crds: true) { _, client in
                let reference = CoreV1.ObjectReference(try await Self.route(client))
                let recorder = EventRecorder(
                    client: client,
                    configuration: .init(component: "c", instance: "i"),
                    logger: quietLogger
                )
                let first = try await recorder.emit(.normal, reason: "Synced", message: "ok", about: reference)
                try await client.resources(CoreV1.Event.self).delete(first.metadata.name ?? "", namespace: "default")
                let again = try await recorder.emit(.normal, reason: "Synced", message: "ok", about: reference)
                #expect(again.count == 1)
                #expect(again.metadata.name != nil)
            }
        }

        @Test func recordIsBufferedAndWrittenByTheService() async throws {
            try await withServer(crds: true) { _, client in
                let reference = CoreV1.ObjectReference(try await Self.route(client))
                let recorder = EventRecorder(
                    client: client,
                    configuration: .init(component: "c", instance: "i"),
                    logger: quietLogger
                )
                for _ in 0..<3 {
                    recorder.record(
                        .warning,
                        reason: "Unreachable",
                        message: "upstream refused the connection",
                        about: reference
                    )
                }
                recorder.record(
                    .normal,
                    reason: String(repeating: "x", count: 3),
                    message: String(repeating: "é", count: 2000),
                    about: reference
                )
                try await running(recorder) {
                    await eventually("written and aggregated") {
                        let events =
                            (try? await client.resources(CoreV1.Event.self).list(namespace: "default").items) ?? []
                        return events.count == 2 && events.first { $0.reason == "Unreachable" }?.count == 3
                    }
                    let long = try await client.resources(CoreV1.Event.self).list(namespace: "default").items.first {
                        $0.reason == "xxx"
                    }
                    #expect((long?.message?.utf8.count ?? 0) <= 1024, "long messages are truncated")
                    #expect(recorder.dropped == 0)
                }
            }
        }
    }
}
