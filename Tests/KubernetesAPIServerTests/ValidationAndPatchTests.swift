import Foundation
import Kubernetes
import NIOHTTP1
import Testing

@testable import KubernetesAPIServer

/// Schema validation, field validation modes, every patch type, and server-side apply.
@Suite struct ValidationAndPatchTests {
    let widgets = APIServerHarness.widgets

    @Test func everySchemaViolationIsOne422AsKubectlRendersIt() async throws {
        let api = try await APIServerHarness.withWidgets()
        var widget = APIServerHarness.widget("bad", port: 70000)
        widget[path: ["spec", "mode"]] = "digest"
        let response = await api.request(.POST, widgets, body: widget)
        #expect(response.status == 422)
        #expect(response.body["reason"] == "Invalid")
        #expect(
            response.body["message"]
                == #"Widget.example.com "bad" is invalid: [spec.mode: Unsupported value: "digest": supported values: "basic", "bearer", spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535]"#
        )
        #expect(
            response.body["details"]
                == [
                    "name": "bad", "group": "example.com", "kind": "Widget",
                    "causes": [
                        ["reason": "FieldValueNotSupported", "message": #"Unsupported value: "digest": supported values: "basic", "bearer""#, "field": "spec.mode"],
                        ["reason": "FieldValueInvalid", "message": "Invalid value: 70000: spec.port in body should be less than or equal to 65535", "field": "spec.port"],
                    ],
                ]
        )
    }

    @Test func oneCauseHasNoBrackets() async throws {
        let api = try await APIServerHarness.withWidgets()
        let response = await api.request(.POST, widgets, body: APIServerHarness.widget("bad", port: 0))
        #expect(response.body["message"] == #"Widget.example.com "bad" is invalid: spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1"#)
    }

    @Test func unknownFieldsFollowFieldValidation() async throws {
        let api = try await APIServerHarness.withWidgets()
        var widget = APIServerHarness.widget("web")
        widget[path: ["spec", "bogusField"]] = true
        let strict = await api.request(.POST, widgets + "?fieldValidation=Strict", body: widget)
        #expect(strict.status == 400)
        #expect(strict.body["message"] == #"Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "spec.bogusField""#)

        let warn = await api.request(.POST, widgets + "?fieldValidation=Warn", body: widget)
        #expect(warn.status == 201)
        #expect(warn.headers.first(name: "warning") == #"299 - "unknown field \"spec.bogusField\"""#)
        #expect(warn.body[path: ["spec", "bogusField"]] == nil)

        widget[path: ["metadata", "name"]] = "quiet"
        let ignore = await api.request(.POST, widgets + "?fieldValidation=Ignore", body: widget)
        #expect(ignore.status == 201)
        #expect(ignore.headers.first(name: "warning") == nil)
    }

    @Test func malformedBodiesAreBadRequests() async throws {
        let api = try await APIServerHarness.withWidgets()
        let response = await api.request(.POST, widgets, rawBody: Array("{\"metadata\": ".utf8))
        #expect(response.status == 400)
        #expect(response.body["reason"] == "BadRequest")
        let wrongKind = await api.request(.POST, widgets, body: ["apiVersion": "example.com/v1", "kind": "Gadget", "metadata": ["name": "g"]])
        #expect(wrongKind.status == 400)
    }

    @Test func mergePatchJSONPatchAndStrategicMergePatch() async throws {
        let api = try await APIServerHarness.withWidgets()
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        let merged = await api.request(.PATCH, widgets + "/web", body: ["spec": ["host": "a.example.com"]], contentType: "application/merge-patch+json")
        #expect(merged.body["spec"] == ["port": 8080, "mode": "basic", "host": "a.example.com"])

        let jsonPatch: JSONValue = [["op": "replace", "path": "/spec/port", "value": 9090], ["op": "remove", "path": "/spec/host"]]
        let patched = await api.request(.PATCH, widgets + "/web", body: jsonPatch, contentType: "application/json-patch+json")
        #expect(patched.body["spec"] == ["port": 9090, "mode": "basic"])

        let failedTest: JSONValue = [["op": "test", "path": "/spec/port", "value": 1]]
        #expect(await api.request(.PATCH, widgets + "/web", body: failedTest, contentType: "application/json-patch+json").status == 422)

        let strategic = await api.request(.PATCH, widgets + "/web", body: ["spec": ["port": 1]], contentType: "application/strategic-merge-patch+json")
        #expect(strategic.status == 415)
        #expect(
            strategic.body["message"]
                == "application/strategic-merge-patch+json is not supported by example.com/v1, Kind=Widget: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )

        let configMap: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"], "data": ["a": "1", "b": "2"]]
        _ = await api.request(.POST, "/api/v1/namespaces/default/configmaps", body: configMap)
        let smp = await api.request(
            .PATCH,
            "/api/v1/namespaces/default/configmaps/c",
            body: ["data": ["b": nil, "c": "3"]],
            contentType: "application/strategic-merge-patch+json"
        )
        #expect(smp.status == 200)
        #expect(smp.body["data"] == ["a": "1", "c": "3"])
    }

    @Test func aPatchIsConditionalOnlyWhenItCarriesAResourceVersion() async throws {
        let api = try await APIServerHarness.withWidgets()
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("web"))
        let stale = await api.request(
            .PATCH,
            widgets + "/web",
            body: ["metadata": ["resourceVersion": "1"], "spec": ["port": 1]],
            contentType: "application/merge-patch+json"
        )
        #expect(stale.status == 409)
    }

    @Test func patchingAMissingObjectIsNotFound() async throws {
        let api = try await APIServerHarness.withWidgets()
        let response = await api.request(.PATCH, widgets + "/nope", body: ["spec": ["port": 1]], contentType: "application/merge-patch+json")
        #expect(response.status == 404)
    }

    @Test func serverSideApplyCreatesUpdatesAndDetectsConflicts() async throws {
        let api = try await APIServerHarness.withWidgets()
        let apply = "application/apply-patch+yaml"
        var config = APIServerHarness.widget("web")
        config[path: ["spec", "host"]] = "a.example.com"
        let versionBefore = api.server.store.resourceVersion
        let created = await api.request(.PATCH, widgets + "/web?fieldManager=kubectl&fieldValidation=Strict&force=false", body: config, contentType: apply)
        #expect(created.status == 201)
        #expect(api.server.store.resourceVersion == versionBefore + 1, "an apply that creates is one write")
        #expect(created.body[path: ["metadata", "managedFields"]]?.arrayValue?.first?["manager"] == "kubectl")
        #expect(created.body[path: ["metadata", "managedFields"]]?.arrayValue?.first?["operation"] == "Apply")

        config[path: ["spec", "port"]] = 9090
        let updated = await api.request(.PATCH, widgets + "/web?fieldManager=kubectl&force=false", body: config, contentType: apply)
        #expect(updated.status == 200)
        #expect(updated.body[path: ["spec", "port"]] == 9090)

        // Another manager changes the port; kubectl's next apply with its old value conflicts.
        _ = await api.request(.PATCH, widgets + "/web?fieldManager=operator", body: ["spec": ["port": 7070]], contentType: "application/merge-patch+json")
        let conflict = await api.request(.PATCH, widgets + "/web?fieldManager=kubectl&force=false", body: config, contentType: apply)
        #expect(conflict.status == 409)
        #expect(conflict.body["message"] == #"Apply failed with 1 conflict: conflict with "operator": .spec.port"#)
        let forced = await api.request(.PATCH, widgets + "/web?fieldManager=kubectl&force=true", body: config, contentType: apply)
        #expect(forced.status == 200)
        #expect(forced.body[path: ["spec", "port"]] == 9090)

        // Fields kubectl applied before and no longer applies are removed.
        config[path: ["spec", "host"]] = nil
        let pruned = await api.request(.PATCH, widgets + "/web?fieldManager=kubectl", body: config, contentType: apply)
        #expect(pruned.body[path: ["spec", "host"]] == nil)

        let noManager = await api.request(.PATCH, widgets + "/web", body: config, contentType: apply)
        #expect(noManager.status == 400)
    }
}

@Suite struct YAMLBodyTests {
    /// A YAML request body with aliases is a 400 naming them, before anything expands: the server stays up.
    @Test(.timeLimit(.minutes(1))) func aBillionLaughsBodyIsABadRequest() async throws {
        let api = try await APIServerHarness()
        var lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: laughs}", "data:", "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        for level in 1...9 {
            lines.append("  a\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", "))]")
        }
        let response = await api.request(
            .POST, "/api/v1/namespaces/default/configmaps", rawBody: Array(lines.joined(separator: "\n").utf8), contentType: "application/yaml"
        )
        #expect(response.status == 400)
        #expect(response.body["message"]?.stringValue?.contains("YAML anchors and aliases are not accepted: line 5 has an anchor (&a0)") == true, "\(response.body)")
        let after = await api.request(.GET, "/api/v1/namespaces/default/configmaps")
        #expect(after.status == 200)
        try await api.shutdown()
    }
}
