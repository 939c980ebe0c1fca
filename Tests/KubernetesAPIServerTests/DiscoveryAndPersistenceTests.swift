import Foundation
import Kubernetes
import NIOHTTP1
import Testing

@testable import KubernetesAPIServer

/// CustomResourceDefinitions, discovery, OpenAPI, and durability across restarts.
@Suite struct DiscoveryAndPersistenceTests {
    let widgets = APIServerHarness.widgets

    @Test func aCreatedCRDIsEstablishedAndServedAtOnce() async throws {
        let api = try await APIServerHarness.withWidgets()
        let crd = await api.request(.GET, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
        let conditions = crd.body[path: ["status", "conditions"]]?.arrayValue ?? []
        #expect(conditions.contains { $0["type"] == "Established" && $0["status"] == "True" })
        #expect(conditions.contains { $0["type"] == "NamesAccepted" && $0["status"] == "True" })
        #expect(crd.body[path: ["status", "acceptedNames", "kind"]] == "Widget")

        let groups = await api.request(.GET, "/apis")
        let names = (groups.body["groups"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(names.contains("example.com"))
        let resources = await api.request(.GET, "/apis/example.com/v1")
        let widget = resources.body["resources"]?.arrayValue?.first { $0["name"] == "widgets" }
        #expect(widget?["shortNames"] == ["wd"])
        #expect(widget?["categories"] == ["examples"])
        #expect(resources.body["resources"]?.arrayValue?.contains { $0["name"] == "widgets/status" } == true)
    }

    @Test func aCRDWhoseNameDoesNotMatchIsRejected() async throws {
        let api = try await APIServerHarness()
        var crd = APIServerHarness.crd
        crd[path: ["metadata", "name"]] = "gadgets.example.com"
        let response = await api.request(.POST, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", body: crd)
        #expect(response.status == 422)
        #expect(response.body[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "metadata.name")
    }

    @Test func deletingACRDDeletesItsResources() async throws {
        let api = try await APIServerHarness.withWidgets()
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("a"))
        #expect(await api.request(.DELETE, "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com").status == 200)
        await api.server.collectGarbage()
        #expect(await api.request(.GET, widgets).status == 404)
        #expect(api.server.store.list("widgets.example.com", namespace: nil).objects.isEmpty)
    }

    @Test func aggregatedDiscoveryWhenAskedFor() async throws {
        let api = try await APIServerHarness.withWidgets()
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        let response = await api.request(.GET, "/apis", accept: accept)
        #expect(response.headers.first(name: "content-type") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
        #expect(response.body["kind"] == "APIGroupDiscoveryList")
        let example = response.body["items"]?.arrayValue?.first { $0[path: ["metadata", "name"]] == "example.com" }
        let resource = example?["versions"]?.arrayValue?.first?["resources"]?.arrayValue?.first
        #expect(resource?["resource"] == "widgets")
        #expect(resource?["scope"] == "Namespaced")
        #expect(resource?["subresources"]?.arrayValue?.first?["subresource"] == "status")
        let old = await api.request(.GET, "/api", accept: "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json")
        #expect(old.body["apiVersion"] == "apidiscovery.k8s.io/v2beta1")
        #expect(old.body["items"]?.arrayValue?.first?[path: ["metadata", "name"]] == "")
    }

    @Test func legacyDiscoveryListsTheBuiltIns() async throws {
        let api = try await APIServerHarness()
        let core = await api.request(.GET, "/api/v1")
        let names = Set((core.body["resources"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        #expect(names.isSuperset(of: ["namespaces", "secrets", "configmaps", "services", "events", "namespaces/status"]))
        let groups = await api.request(.GET, "/apis")
        let groupNames = Set((groups.body["groups"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue })
        #expect(groupNames.isSuperset(of: ["apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io"]))
        #expect(await api.request(.GET, "/version").body["gitVersion"] == "v1.32.0")
    }

    @Test func openAPIDescribesCustomResourcesForExplain() async throws {
        let api = try await APIServerHarness.withWidgets()
        let v2 = await api.request(.GET, "/openapi/v2")
        #expect(v2.status == 200)
        #expect(v2.headers.first(name: "content-type") == "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
        let index = await api.request(.GET, "/openapi/v3")
        let url = try #require(index.body[path: ["paths", "apis/example.com/v1", "serverRelativeURL"]]?.stringValue)
        #expect(url.hasPrefix("/openapi/v3/apis/example.com/v1?hash="))
        let document = await api.request(.GET, url)
        let schema = try #require(document.body[path: ["components", "schemas", "com.example.v1.Widget"]])
        #expect(schema["x-kubernetes-group-version-kind"] == [["group": "example.com", "version": "v1", "kind": "Widget"]])
        #expect(schema[path: ["properties", "spec", "properties", "port", "maximum"]] == 65535)
        let patch = document.body[path: ["paths", "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}", "patch"]]
        #expect(patch?["parameters"]?.arrayValue?.contains { $0["name"] == "fieldValidation" } == true)
        #expect(patch?[path: ["requestBody", "content", "application/strategic-merge-patch+json"]] == nil)
    }

    @Test func everyAcknowledgedWriteSurvivesARestart() async throws {
        let directory = TemporaryDirectory()
        let first = try await APIServerHarness.withWidgets(stateDirectory: directory.url)
        _ = await first.request(.POST, widgets, body: APIServerHarness.widget("a"))
        _ = await first.request(.POST, widgets, body: APIServerHarness.widget("b"))
        _ = await first.request(.PATCH, widgets + "/a", body: ["spec": ["port": 1]], contentType: "application/merge-patch+json")
        _ = await first.request(.DELETE, widgets + "/b")
        let version = first.server.store.resourceVersion
        try await first.shutdown()

        // Simulate a crash mid-append: a torn record at the end of the log is dropped.
        let log = directory.url.appendingPathComponent("wal.log")
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        handle.write(Data("{\"rv\":99999,\"type\":\"ADD".utf8))
        try handle.close()

        let second = try await APIServerHarness(stateDirectory: directory.url)
        #expect(second.server.store.resourceVersion == version)
        #expect(await second.request(.GET, widgets + "/a").body[path: ["spec", "port"]] == 1)
        #expect(await second.request(.GET, widgets + "/b").status == 404)
        let created = await second.request(.POST, widgets, body: APIServerHarness.widget("c"))
        #expect(Int64(created.resourceVersion ?? "") == version + 1)
        try await second.shutdown()
    }

    @Test func aCorruptRecordInTheMiddleIsAnErrorNotSilentLoss() async throws {
        let directory = TemporaryDirectory()
        let first = try await APIServerHarness(stateDirectory: directory.url)
        try await first.shutdown()
        let log = directory.url.appendingPathComponent("wal.log")
        try Data("garbage\n{\"rv\":1,\"type\":\"ADDED\",\"resource\":\"configmaps\",\"namespace\":\"default\",\"name\":\"x\",\"object\":{}}\n".utf8).write(to: log)
        #expect(throws: WriteAheadLog.StorageError.self) { _ = try WriteAheadLog.recover(from: directory.url) }
    }
}
