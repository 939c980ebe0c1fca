import Foundation
import Kubernetes
import NIOHTTP1
import Testing

@testable import KubernetesAPIServer

/// Lists, selectors, paging, watches and Tables.
@Suite struct ListAndWatchTests {
    let widgets = APIServerHarness.widgets

    func seed(_ api: APIServerHarness) async {
        for (name, team) in [("a", "red"), ("b", "blue"), ("c", "red"), ("d", "green")] {
            var widget = APIServerHarness.widget(name)
            widget[path: ["metadata", "labels"]] = ["team": .string(team)]
            _ = await api.request(.POST, widgets, body: widget)
        }
    }

    func names(_ list: APIServerHarness.Response) -> [String] {
        (list.body["items"]?.arrayValue ?? []).compactMap { $0[path: ["metadata", "name"]]?.stringValue }
    }

    @Test func listsCarryTheirResourceVersionAndKinds() async throws {
        let api = try await APIServerHarness.withWidgets()
        await seed(api)
        let list = await api.request(.GET, widgets + "?limit=500")
        #expect(list.body["kind"] == "WidgetList")
        #expect(list.body["apiVersion"] == "example.com/v1")
        #expect(names(list) == ["a", "b", "c", "d"])
        #expect(list.body["items"]?.arrayValue?.allSatisfy { $0["kind"] == "Widget" } == true)
        #expect(list.resourceVersion == String(api.server.store.resourceVersion))
        let everywhere = await api.request(.GET, "/apis/example.com/v1/widgets")
        #expect(names(everywhere).count == 4)
    }

    @Test func labelAndFieldSelectors() async throws {
        let api = try await APIServerHarness.withWidgets()
        await seed(api)
        #expect(names(await api.request(.GET, widgets + "?labelSelector=team%3Dred")) == ["a", "c"])
        #expect(names(await api.request(.GET, widgets + "?labelSelector=team%20in%20(blue,green)")) == ["b", "d"])
        #expect(names(await api.request(.GET, widgets + "?labelSelector=team!%3Dred")) == ["b", "d"])
        #expect(names(await api.request(.GET, widgets + "?fieldSelector=metadata.name%3Db")) == ["b"])
        let unsupported = await api.request(.GET, widgets + "?fieldSelector=spec.port%3D80")
        #expect(unsupported.status == 400)
        #expect(unsupported.body["message"] == "field label not supported: spec.port")
    }

    @Test func pagingFollowsContinueTokens() async throws {
        let api = try await APIServerHarness.withWidgets()
        await seed(api)
        let first = await api.request(.GET, widgets + "?limit=3")
        #expect(names(first) == ["a", "b", "c"])
        let token = try #require(first.body[path: ["metadata", "continue"]]?.stringValue)
        let encoded = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token
        let second = await api.request(.GET, widgets + "?limit=3&continue=\(encoded)")
        #expect(names(second) == ["d"])
        #expect(second.body[path: ["metadata", "continue"]] == nil)
        #expect(await api.request(.GET, widgets + "?continue=garbage!").status == 400)
    }

    @Test func tablesUsePrinterColumnsAndHumanAges() async throws {
        let api = try await APIServerHarness.withWidgets()
        await seed(api)
        _ = await api.request(.PATCH, widgets + "/a/status", body: ["status": ["conditions": [["type": "Ready", "status": "True"]]]], contentType: "application/merge-patch+json")
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        let table = await api.request(.GET, widgets + "?limit=500", accept: accept)
        #expect(table.body["kind"] == "Table")
        let columns = (table.body["columnDefinitions"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(columns == ["Name", "Port", "Ready", "Age"])
        let firstRow = try #require(table.body["rows"]?.arrayValue?.first)
        #expect(firstRow["cells"]?.arrayValue?.prefix(3) == ["a", 8080, "True"])
        let age = firstRow["cells"]?.arrayValue?.last?.stringValue ?? ""
        #expect(age.hasSuffix("s"), "age \(age)")
        #expect(firstRow["object"]?["kind"] == "PartialObjectMetadata")
        #expect(firstRow[path: ["object", "metadata", "labels", "team"]] == "red")
        #expect(table.body["rows"]?.arrayValue?[1]["cells"]?.arrayValue?[2] == .null)

        let withObjects = await api.request(.GET, widgets + "?includeObject=Object", accept: accept)
        #expect(withObjects.body["rows"]?.arrayValue?.first?[path: ["object", "spec", "port"]] == 8080)
        let single = await api.request(.GET, widgets + "/b", accept: accept)
        #expect(single.body["rows"]?.arrayValue?.count == 1)
    }

    @Test func watchResumesFromAResourceVersion() async throws {
        let api = try await APIServerHarness.withWidgets()
        let created = await api.request(.POST, widgets, body: APIServerHarness.widget("a"))
        _ = await api.request(.PATCH, widgets + "/a", body: ["spec": ["port": 1]], contentType: "application/merge-patch+json")
        _ = await api.request(.DELETE, widgets + "/a")
        let (events, stop) = await api.watch(widgets + "?watch=true&resourceVersion=\(created.resourceVersion!)")
        var iterator = events.makeAsyncIterator()
        let modified = await iterator.next()
        let deleted = await iterator.next()
        #expect(modified?["type"] == "MODIFIED")
        #expect(modified?[path: ["object", "kind"]] == "Widget")
        #expect(deleted?["type"] == "DELETED")
        #expect(Int64(deleted?[path: ["object", "metadata", "resourceVersion"]]?.stringValue ?? "") ?? 0 > Int64(created.resourceVersion!)!)
        stop()
    }

    @Test func watchFromZeroStartsWithTheCurrentObjects() async throws {
        let api = try await APIServerHarness.withWidgets()
        await seed(api)
        let (events, stop) = await api.watch(widgets + "?watch=true&resourceVersion=0")
        var iterator = events.makeAsyncIterator()
        var added: [String] = []
        for _ in 0..<4 {
            let event = await iterator.next()
            #expect(event?["type"] == "ADDED")
            added.append(event?[path: ["object", "metadata", "name"]]?.stringValue ?? "")
        }
        #expect(added == ["a", "b", "c", "d"])
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("e"))
        #expect(await iterator.next()?[path: ["object", "metadata", "name"]] == "e")
        stop()
    }

    @Test func aWatchFromBeforeTheHistoryIsExpired() async throws {
        let api = try await APIServerHarness.withWidgets(historyLimit: 3)
        for name in ["a", "b", "c", "d", "e"] { _ = await api.request(.POST, widgets, body: APIServerHarness.widget(name)) }
        let (events, _) = await api.watch(widgets + "?watch=true&resourceVersion=1")
        var iterator = events.makeAsyncIterator()
        let error = await iterator.next()
        #expect(error?["type"] == "ERROR")
        #expect(error?[path: ["object", "code"]] == 410)
        #expect(error?[path: ["object", "reason"]] == "Expired")
        #expect(error?[path: ["object", "message"]]?.stringValue?.hasPrefix("too old resource version: 1 (") == true)
        #expect(await iterator.next() == nil, "the stream ends after the error")
    }

    @Test func selectorWatchesReportObjectsEnteringAndLeaving() async throws {
        let api = try await APIServerHarness.withWidgets()
        let created = await api.request(.POST, widgets, body: APIServerHarness.widget("a"))
        let (events, stop) = await api.watch(widgets + "?watch=true&labelSelector=team%3Dred&resourceVersion=\(created.resourceVersion!)")
        _ = await api.request(.PATCH, widgets + "/a", body: ["metadata": ["labels": ["team": "red"]]], contentType: "application/merge-patch+json")
        _ = await api.request(.PATCH, widgets + "/a", body: ["spec": ["port": 2]], contentType: "application/merge-patch+json")
        _ = await api.request(.PATCH, widgets + "/a", body: ["metadata": ["labels": ["team": "blue"]]], contentType: "application/merge-patch+json")
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next()?["type"] == "ADDED")
        #expect(await iterator.next()?["type"] == "MODIFIED")
        let left = await iterator.next()
        #expect(left?["type"] == "DELETED")
        #expect(left?[path: ["object", "metadata", "labels", "team"]] == "blue")
        stop()
    }

    @Test func bookmarksAndTimeouts() async throws {
        let api = try await APIServerHarness.withWidgets(bookmarkInterval: .milliseconds(200))
        let list = await api.request(.GET, widgets)
        let started = ContinuousClock.now
        let (events, _) = await api.watch(widgets + "?watch=true&allowWatchBookmarks=true&timeoutSeconds=3&resourceVersion=\(list.resourceVersion!)")
        var kinds: [String] = []
        for await event in events { kinds.append(event["type"]?.stringValue ?? "") }
        // Every 200 ms for 3 s: at least two, even when a loaded machine delays some.
        #expect(kinds.count >= 2)
        #expect(Set(kinds) == ["BOOKMARK"])
        let elapsed = ContinuousClock.now - started
        #expect(elapsed >= .seconds(3) && elapsed < .seconds(30), "the watch ends at its timeout, not never")
        #expect(api.server.store.watcherCount == 0, "the watch is released")
    }

    @Test func tableWatchesSendColumnsOnce() async throws {
        let api = try await APIServerHarness.withWidgets()
        let list = await api.request(.GET, widgets)
        let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
        let (events, stop) = await api.watch(widgets + "?watch=true&resourceVersion=\(list.resourceVersion!)", accept: accept)
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("a"))
        _ = await api.request(.POST, widgets, body: APIServerHarness.widget("b"))
        var iterator = events.makeAsyncIterator()
        let first = await iterator.next()
        let second = await iterator.next()
        #expect(first?[path: ["object", "kind"]] == "Table")
        #expect(first?[path: ["object", "columnDefinitions"]] != nil)
        #expect(second?[path: ["object", "columnDefinitions"]] == nil)
        #expect(second?[path: ["object", "rows"]]?.arrayValue?.first?["cells"]?.arrayValue?.first == "b")
        stop()
    }

    @Test func aStoppedWatchIsReleased() async throws {
        let api = try await APIServerHarness.withWidgets()
        let (_, stop) = await api.watch(widgets + "?watch=true")
        #expect(api.server.store.watcherCount == 1)
        stop()
        for _ in 0..<100 where api.server.store.watcherCount > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(api.server.store.watcherCount == 0)
    }
}
