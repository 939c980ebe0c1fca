import Foundation
import Kubernetes
import NIOCore
import NIOHTTP1

/// Which objects a list or watch selects.
struct Selection: Sendable {
    var namespace: String?
    var labels: LabelSelector?
    var fields: FieldSelector?
    /// The fields a field selector may name for this type, as kube-apiserver allows them.
    let selectableFields: SelectableFields

    init(_ target: APIServer.ResourceRequest, query: [String: String]) throws {
        namespace = target.namespace
        selectableFields = SelectableFields.builtIn(group: target.type.group, kind: target.type.kind)
        do {
            if let text = query["labelSelector"], !text.isEmpty { labels = try LabelSelector(parsing: text) }
            if let text = query["fieldSelector"], !text.isEmpty {
                let selector = try FieldSelector(parsing: text)
                try selector.validate(against: selectableFields)
                fields = selector
            }
        } catch {
            throw APIError.badRequest(error.message)
        }
    }

    func matches(_ object: JSONValue) -> Bool {
        if let labels {
            var values: [String: String] = [:]
            for (key, value) in object[path: ["metadata", "labels"]]?.objectValue ?? [:] { values[key] = value.stringValue ?? "" }
            if !labels.matches(values) { return false }
        }
        if let fields, !fields.matches(object: object, fields: selectableFields) { return false }
        return true
    }
}

extension APIServer {
    /// Whether the client asked for a server-side Table.
    static func wantsTable(_ request: HTTPRequest) -> Bool {
        (request.headers.first(name: "accept") ?? "").contains("as=Table")
    }

    func get(_ target: ResourceRequest, name: String, request: HTTPRequest) throws -> HTTPResponse {
        let key = ObjectKey(namespace: target.namespace ?? "", name: name)
        guard let object = store.get(target.type.storageKey, key) else { throw APIError.notFound(target.type, name: name) }
        let served = Self.served(object, as: target.type)
        if Self.wantsTable(request) {
            return try json(table(target.type, objects: [served], resourceVersion: nil, request: request, includeColumns: true))
        }
        return try json(served)
    }

    func list(_ target: ResourceRequest, request: HTTPRequest) throws -> HTTPResponse {
        let selection = try Selection(target, query: request.query)
        var continued: ContinueToken?
        if let token = request.query["continue"], !token.isEmpty {
            guard let decoded = ContinueToken(token) else {
                throw APIError.badRequest("continue key is not valid: \(token)")
            }
            continued = decoded
        }
        let limit = request.query["limit"].flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        let page = store.list(
            target.type.storageKey,
            namespace: target.namespace,
            after: continued?.after,
            limit: limit,
            include: selection.matches
        )
        let resourceVersion = continued?.resourceVersion ?? page.resourceVersion
        let items = page.objects.map { Self.served($0.1, as: target.type) }
        let nextToken = page.more ? page.objects.last.map { ContinueToken(resourceVersion: resourceVersion, after: $0.0).description } : nil
        if Self.wantsTable(request) {
            var table = table(target.type, objects: items, resourceVersion: resourceVersion, request: request, includeColumns: true)
            if let nextToken { table["metadata"]?["continue"] = .string(nextToken) }
            return try json(table)
        }
        var metadata: JSONValue = ["resourceVersion": .string(String(resourceVersion))]
        if let nextToken { metadata["continue"] = .string(nextToken) }
        return try json([
            "kind": .string(target.type.listKind), "apiVersion": .string(target.type.apiVersion), "metadata": metadata, "items": .array(items),
        ])
    }

    /// The object as served at `type`'s version (custom resources may be served at several).
    static func served(_ object: JSONValue, as type: ResourceType) -> JSONValue {
        guard type.isCustom else { return object }
        var copy = object
        copy["apiVersion"] = .string(type.apiVersion)
        return copy
    }
}

/// The opaque `continue` token of a paged list: the list's resourceVersion and the last key returned.
struct ContinueToken: CustomStringConvertible {
    var resourceVersion: Int64
    var after: ObjectKey

    init(resourceVersion: Int64, after: ObjectKey) {
        self.resourceVersion = resourceVersion
        self.after = after
    }

    init?(_ token: String) {
        guard let data = Data(base64Encoded: token), let value = try? JSONDecoder().decode(JSONValue.self, from: data),
            let version = value["rv"]?.integerValue, let name = value["name"]?.stringValue
        else { return nil }
        resourceVersion = version
        after = ObjectKey(namespace: value["namespace"]?.stringValue ?? "", name: name)
    }

    var description: String {
        let value: JSONValue = ["rv": .integer(resourceVersion), "namespace": .string(after.namespace), "name": .string(after.name)]
        return Data(value.description.utf8).base64EncodedString()
    }
}
