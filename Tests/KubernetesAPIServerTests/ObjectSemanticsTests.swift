import Foundation
import Kubernetes
import NIOHTTP1
import Testing

@testable import KubernetesAPIServer

/// Create, read, update and delete semantics, as controllers and kubectl rely on them.
@Suite struct ObjectSemanticsTests {
    let widgets = APIServerHarness.widgets

    @Test func createSetsServerFieldsAndDefaults() async throws {
        let api = try await APIServerHarness.withWidgets()
        let created = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        #expect(created.status == 201)
        let metadata = try #require(created.body["metadata"])
        #expect(metadata["uid"]?.stringValue?.count == 36)
        #expect(metadata["generation"] == 1)
        #expect(metadata["namespace"] == "default")
        #expect(RFC3339.date(from: metadata["creationTimestamp"]?.stringValue ?? "") != nil)
        #expect(created.body[path: ["spec", "mode"]] == "basic")
        let fetched = await api.request(.GET, widgets + "/web")
        #expect(fetched.body == created.body)

        let again = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        #expect(again.status == 409)
        #expect(again.body["reason"] == "AlreadyExists")
        #expect(again.body["message"] == #"widgets.example.com "web" already exists"#)
        #expect(again.body["details"] == ["name": "web", "group": "example.com", "kind": "widgets"])
    }

    @Test func resourceVersionsAreClusterWideAndIncreasing() async throws {
        let api = try await APIServerHarness.withWidgets()
        let first = await api.request(.POST, widgets, body: APIServerHarness.widget("a"))
        let configMap: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"], "data": ["k": "v"]]
        let second = await api.request(.POST, "/api/v1/namespaces/default/configmaps", body: configMap)
        let third = await api.request(.POST, widgets, body: APIServerHarness.widget("b"))
        let versions = [first, second, third].compactMap { $0.resourceVersion.flatMap { Int64($0) } }
        #expect(versions.count == 3)
        #expect(versions == versions.sorted() && Set(versions).count == 3)
    }

    @Test func missingObjectsAndNamespacesAreNotFound() async throws {
        let api = try await APIServerHarness.withWidgets()
        let missing = await api.request(.GET, widgets + "/nope")
        #expect(missing.status == 404)
        #expect(missing.body["message"] == #"widgets.example.com "nope" not found"#)
        let noNamespace = await api.request(.POST, "/apis/example.com/v1/namespaces/ghost/widgets", body: APIServerHarness.widget("a", namespace: "ghost"))
        #expect(noNamespace.status == 404)
        #expect(noNamespace.body["message"] == #"namespaces "ghost" not found"#)
        let unknown = await api.request(.GET, "/apis/example.com/v1/namespaces/default/gadgets")
        #expect(unknown.status == 404)
        #expect(unknown.body["message"] == "the server could not find the requested resource")
    }

    @Test func updatesAreGuardedByResourceVersion() async throws {
        let api = try await APIServerHarness.withWidgets()
        let created = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        var changed = created.body
        changed[path: ["spec", "port"]] = 9090
        let updated = await api.request(.PUT, widgets + "/web", body: changed)
        #expect(updated.status == 200)
        #expect(updated.body[path: ["metadata", "generation"]] == 2)

        let stale = await api.request(.PUT, widgets + "/web", body: changed)
        #expect(stale.status == 409)
        #expect(stale.body["reason"] == "Conflict")
        #expect(
            stale.body["message"]
                == #"Operation cannot be fulfilled on widgets.example.com "web": the object has been modified; please apply your changes to the latest version and try again"#
        )

        var withoutVersion = changed
        withoutVersion[path: ["metadata", "resourceVersion"]] = nil
        let unversioned = await api.request(.PUT, widgets + "/web", body: withoutVersion)
        #expect(unversioned.status == 422)
        #expect(unversioned.body[path: ["details", "causes"]] == [["reason": "FieldValueInvalid", "message": "Invalid value: \"0x0\": must be specified for an update", "field": "metadata.resourceVersion"]])
    }

    @Test func generationMovesOnlyWithTheSpec() async throws {
        let api = try await APIServerHarness.withWidgets()
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        let labelled = await api.request(.PATCH, widgets + "/web", body: ["metadata": ["labels": ["team": "a"]]], contentType: "application/merge-patch+json")
        #expect(labelled.body[path: ["metadata", "generation"]] == 1)
        let status = await api.request(.PATCH, widgets + "/web/status", body: ["status": ["phase": "Ready"]], contentType: "application/merge-patch+json")
        #expect(status.body[path: ["metadata", "generation"]] == 1)
        let spec = await api.request(.PATCH, widgets + "/web", body: ["spec": ["port": 1234]], contentType: "application/merge-patch+json")
        #expect(spec.body[path: ["metadata", "generation"]] == 2)
    }

    @Test func statusAndMainEndpointsEachKeepToTheirOwnPart() async throws {
        let api = try await APIServerHarness.withWidgets()
        var widget = APIServerHarness.widget("web")
        widget["status"] = ["phase": "Injected"]
        let created = await api.request(.POST, widgets, body: widget)
        #expect(created.body["status"] == nil, "status is dropped on create")

        var statusWrite = created.body
        statusWrite["status"] = ["phase": "Ready"]
        statusWrite[path: ["spec", "port"]] = 1
        statusWrite[path: ["metadata", "labels"]] = ["sneaky": "yes"]
        let afterStatus = await api.request(.PUT, widgets + "/web/status", body: statusWrite)
        #expect(afterStatus.status == 200)
        #expect(afterStatus.body["status"] == ["phase": "Ready"])
        #expect(afterStatus.body[path: ["spec", "port"]] == 8080)
        #expect(afterStatus.body[path: ["metadata", "labels"]] == nil)

        var mainWrite = afterStatus.body
        mainWrite["status"] = ["phase": "Overwritten"]
        mainWrite[path: ["spec", "port"]] = 443
        let afterMain = await api.request(.PUT, widgets + "/web", body: mainWrite)
        #expect(afterMain.body["status"] == ["phase": "Ready"])
        #expect(afterMain.body[path: ["spec", "port"]] == 443)
    }

    @Test func aWriteThatChangesNothingKeepsTheResourceVersion() async throws {
        let api = try await APIServerHarness.withWidgets()
        let created = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        let (events, stop) = await api.watch(widgets + "?watch=true&resourceVersion=\(created.resourceVersion!)")
        let same = await api.request(.PUT, widgets + "/web", body: created.body)
        #expect(same.status == 200)
        #expect(same.resourceVersion == created.resourceVersion)
        let patched = await api.request(.PATCH, widgets + "/web", body: ["spec": ["port": 8080]], contentType: "application/merge-patch+json")
        #expect(patched.resourceVersion == created.resourceVersion)
        // A real change afterwards is the first event the watch sees.
        _ = await api.request(.PATCH, widgets + "/web", body: ["spec": ["port": 1]], contentType: "application/merge-patch+json")
        var iterator = events.makeAsyncIterator()
        let first = await iterator.next()
        #expect(first?["type"] == "MODIFIED")
        #expect(first?[path: ["object", "spec", "port"]] == 1)
        stop()
    }

    @Test func finalizersHoldDeletionUntilTheyAreRemoved() async throws {
        let api = try await APIServerHarness.withWidgets()
        var widget = APIServerHarness.widget("web")
        widget[path: ["metadata", "finalizers"]] = ["example.com/cleanup"]
        _ = await api.request(.POST, widgets, body: widget)

        let deleted = await api.request(.DELETE, widgets + "/web", body: ["propagationPolicy": "Background"])
        #expect(deleted.status == 200)
        #expect(deleted.body[path: ["metadata", "deletionTimestamp"]] != nil)
        #expect(deleted.body[path: ["metadata", "generation"]] == 2)
        #expect(await api.request(.GET, widgets + "/web").status == 200)
        let again = await api.request(.DELETE, widgets + "/web")
        #expect(again.status == 200)
        #expect(again.resourceVersion == deleted.resourceVersion)

        let addFinalizer = await api.request(
            .PATCH,
            widgets + "/web",
            body: ["metadata": ["finalizers": ["example.com/cleanup", "example.com/other"]]],
            contentType: "application/merge-patch+json"
        )
        #expect(addFinalizer.status == 422)
        #expect(addFinalizer.body[path: ["details", "causes"]]?.arrayValue?.first?["message"] == "Forbidden: no new finalizers can be added if the object is being deleted")

        let removed = await api.request(.PATCH, widgets + "/web", body: ["metadata": ["finalizers": nil]], contentType: "application/merge-patch+json")
        #expect(removed.status == 200)
        #expect(await api.request(.GET, widgets + "/web").status == 404)
    }

    @Test func deletingAnOwnerCollectsItsDependents() async throws {
        let api = try await APIServerHarness.withWidgets()
        let owner = await api.request(.POST, widgets, body: APIServerHarness.widget("owner"))
        let uid = try #require(owner.body[path: ["metadata", "uid"]])
        let secret: JSONValue = [
            "apiVersion": "v1", "kind": "Secret",
            "metadata": ["name": "owned", "ownerReferences": [["apiVersion": "example.com/v1", "kind": "Widget", "name": "owner", "uid": uid, "controller": true]]],
            "stringData": ["key": "value"],
        ]
        #expect(await api.request(.POST, "/api/v1/namespaces/default/secrets", body: secret).status == 201)
        let orphan: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "unrelated"]]
        #expect(await api.request(.POST, "/api/v1/namespaces/default/configmaps", body: orphan).status == 201)

        #expect(await api.request(.DELETE, widgets + "/owner").status == 200)
        await api.server.collectGarbage()
        #expect(await api.request(.GET, "/api/v1/namespaces/default/secrets/owned").status == 404)
        #expect(await api.request(.GET, "/api/v1/namespaces/default/configmaps/unrelated").status == 200)
    }

    @Test func orphanPropagationKeepsDependents() async throws {
        let api = try await APIServerHarness.withWidgets()
        let owner = await api.request(.POST, widgets, body: APIServerHarness.widget("owner"))
        let uid = try #require(owner.body[path: ["metadata", "uid"]])
        let configMap: JSONValue = [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": ["name": "kept", "ownerReferences": [["apiVersion": "example.com/v1", "kind": "Widget", "name": "owner", "uid": uid]]],
        ]
        _ = await api.request(.POST, "/api/v1/namespaces/default/configmaps", body: configMap)
        _ = await api.request(.DELETE, widgets + "/owner", body: ["propagationPolicy": "Orphan"])
        await api.server.collectGarbage()
        let kept = await api.request(.GET, "/api/v1/namespaces/default/configmaps/kept")
        #expect(kept.status == 200)
        #expect(kept.body[path: ["metadata", "ownerReferences"]] == nil)
    }

    @Test func secretsFoldStringDataAndDefaultTheirType() async throws {
        let api = try await APIServerHarness()
        let secret: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "creds"], "stringData": ["token": "s3cr3t"]]
        let created = await api.request(.POST, "/api/v1/namespaces/default/secrets", body: secret)
        #expect(created.status == 201)
        #expect(created.body["data"] == ["token": "czNjcjN0"])
        #expect(created.body["stringData"] == nil)
        #expect(created.body["type"] == "Opaque")
        #expect(created.body[path: ["metadata", "generation"]] == nil)
        let bad: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "bad"], "data": ["token": "not base64!"]]
        let rejected = await api.request(.POST, "/api/v1/namespaces/default/secrets", body: bad)
        #expect(rejected.status == 422)
        #expect(!(rejected.body.description.contains("not base64")), "secret contents never appear in errors")
    }

    @Test func dryRunStoresNothing() async throws {
        let api = try await APIServerHarness.withWidgets()
        let dry = await api.request(.POST, widgets + "?dryRun=All", body: APIServerHarness.widget("web"))
        #expect(dry.status == 201)
        #expect(dry.body[path: ["spec", "mode"]] == "basic")
        #expect(await api.request(.GET, widgets + "/web").status == 404)
        #expect(await api.request(.POST, widgets + "?dryRun=Some", body: APIServerHarness.widget("web")).status == 400)
    }

    @Test func generateNameMakesAUniqueName() async throws {
        let api = try await APIServerHarness.withWidgets()
        var widget = APIServerHarness.widget("")
        widget[path: ["metadata", "name"]] = nil
        widget[path: ["metadata", "generateName"]] = "web-"
        let created = await api.request(.POST, widgets, body: widget)
        #expect(created.status == 201)
        let name = try #require(created.body[path: ["metadata", "name"]]?.stringValue)
        #expect(name.hasPrefix("web-") && name.count == 9)
    }

    @Test func namesMustBeDNSSubdomains() async throws {
        let api = try await APIServerHarness.withWidgets()
        let response = await api.request(.POST, widgets, body: APIServerHarness.widget("Bad_Name"))
        #expect(response.status == 422)
        #expect(response.body[path: ["details", "causes"]]?.arrayValue?.first?["field"] == "metadata.name")
    }

    @Test func namespaceDeletionTakesItsContents() async throws {
        let api = try await APIServerHarness.withWidgets()
        _ = await api.request(.POST, "/api/v1/namespaces", body: ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team-a"]])
        _ = await api.request(.POST, "/apis/example.com/v1/namespaces/team-a/widgets", body: APIServerHarness.widget("w", namespace: "team-a"))
        let deleting = await api.request(.DELETE, "/api/v1/namespaces/team-a")
        #expect(deleting.body[path: ["status", "phase"]] == "Terminating")
        let refused = await api.request(.POST, "/apis/example.com/v1/namespaces/team-a/widgets", body: APIServerHarness.widget("x", namespace: "team-a"))
        #expect(refused.status == 403)
        await api.server.collectGarbage()
        #expect(await api.request(.GET, "/apis/example.com/v1/namespaces/team-a/widgets/w").status == 404)
        #expect(await api.request(.GET, "/api/v1/namespaces/team-a").status == 404)
    }
}
