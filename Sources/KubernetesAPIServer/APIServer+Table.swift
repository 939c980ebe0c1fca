import Foundation
import Kubernetes

extension APIServer {
    /// A column of a server-side Table, and how its cell is computed from an object.
    struct TableColumn {
        var name: String
        var type: String
        var format: String = ""
        var description: String = ""
        var priority: Int = 0
        var cell: (JSONValue, Date) -> JSONValue

        var definition: JSONValue {
            [
                "name": .string(name), "type": .string(type), "format": .string(format), "description": .string(description),
                "priority": .integer(Int64(priority)),
            ]
        }
    }

    /// The `meta.k8s.io/v1` Table kubectl asks for with `Accept: ...;as=Table;...`: NAME, then the
    /// type's columns, one row per object carrying its metadata (or the whole object with
    /// `includeObject=Object`, which `--sort-by` needs).
    func table(_ type: ResourceType, objects: [JSONValue], resourceVersion: Int64?, request: HTTPRequest, includeColumns: Bool) -> JSONValue {
        let columns = Self.columns(for: type)
        let now = Date()
        let includeObject = request.query["includeObject"] ?? "Metadata"
        let rows: [JSONValue] = objects.map { object in
            var cells: [JSONValue] = [object[path: ["metadata", "name"]] ?? ""]
            cells += columns.map { $0.cell(object, now) }
            let rowObject: JSONValue
            switch includeObject {
            case "Object": rowObject = object
            case "None": rowObject = .null
            default:
                rowObject = ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": object["metadata"] ?? [:]]
            }
            var row: JSONValue = ["cells": .array(cells)]
            if rowObject != .null { row["object"] = rowObject }
            return row
        }
        var metadata: JSONValue = [:]
        if let resourceVersion { metadata["resourceVersion"] = .string(String(resourceVersion)) }
        var table: JSONValue = ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "rows": .array(rows)]
        if includeColumns {
            let name: JSONValue = [
                "name": "Name", "type": "string", "format": "name", "priority": 0,
                "description": "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated.",
            ]
            table["columnDefinitions"] = .array([name] + columns.map(\.definition))
        }
        return table
    }

    static func columns(for type: ResourceType) -> [TableColumn] {
        func path(_ keys: String...) -> (JSONValue, Date) -> JSONValue { { object, _ in object[path: keys] ?? .null } }
        func age(_ keys: String...) -> (JSONValue, Date) -> JSONValue {
            { object, now in Self.humanAge(object[path: keys], now: now) }
        }
        let ageColumn = TableColumn(name: "Age", type: "date", cell: age("metadata", "creationTimestamp"))
        func count(_ fields: String...) -> (JSONValue, Date) -> JSONValue {
            { object, _ in .integer(Int64(fields.reduce(0) { $0 + (object[$1]?.objectValue?.count ?? 0) })) }
        }
        switch type.builtinTable {
        case .secret:
            return [TableColumn(name: "Type", type: "string", cell: path("type")), TableColumn(name: "Data", type: "string", cell: count("data")), ageColumn]
        case .configMap:
            return [TableColumn(name: "Data", type: "string", cell: count("data", "binaryData")), ageColumn]
        case .namespace:
            return [TableColumn(name: "Status", type: "string", cell: path("status", "phase")), ageColumn]
        case .lease:
            return [TableColumn(name: "Holder", type: "string", cell: path("spec", "holderIdentity")), ageColumn]
        case .customResourceDefinition:
            return [TableColumn(name: "Created At", type: "date", cell: path("metadata", "creationTimestamp"))]
        case .service:
            return [
                TableColumn(name: "Type", type: "string", cell: path("spec", "type")),
                TableColumn(name: "Cluster-IP", type: "string", cell: { object, _ in object[path: ["spec", "clusterIP"]] ?? "None" }),
                TableColumn(name: "External-IP", type: "string", cell: { object, _ in
                    let addresses = (object[path: ["spec", "externalIPs"]]?.arrayValue ?? []).compactMap(\.stringValue)
                    return .string(addresses.isEmpty ? "<none>" : addresses.joined(separator: ","))
                }),
                TableColumn(name: "Port(s)", type: "string", cell: { object, _ in
                    let ports = (object[path: ["spec", "ports"]]?.arrayValue ?? []).map {
                        "\($0["port"]?.integerValue.map(String.init) ?? "")/\($0["protocol"]?.stringValue ?? "TCP")"
                    }
                    return .string(ports.isEmpty ? "<none>" : ports.joined(separator: ","))
                }),
                ageColumn,
            ]
        case .event, .eventsV1:
            let v1 = type.builtinTable == .eventsV1
            return [
                TableColumn(name: "Last Seen", type: "string", cell: { object, now in
                    humanAge(object["lastTimestamp"] ?? object["eventTime"] ?? object[path: ["series", "lastObservedTime"]] ?? object["deprecatedLastTimestamp"], now: now)
                }),
                TableColumn(name: "Type", type: "string", cell: path("type")),
                TableColumn(name: "Reason", type: "string", cell: path("reason")),
                TableColumn(name: "Object", type: "string", cell: { object, _ in
                    let involved = object[v1 ? "regarding" : "involvedObject"] ?? [:]
                    return .string("\((involved["kind"]?.stringValue ?? "").lowercased())/\(involved["name"]?.stringValue ?? "")")
                }),
                TableColumn(name: "Message", type: "string", cell: path(v1 ? "note" : "message")),
            ]
        case nil:
            if type.printerColumns.isEmpty { return [ageColumn] }
            return type.printerColumns.map { column in
                let expression = try? JSONPath(parsing: column.jsonPath)
                return TableColumn(
                    name: column.name,
                    type: column.type,
                    format: column.format ?? "",
                    description: column.description ?? "",
                    priority: column.priority ?? 0,
                    cell: { object, now in expression?.tableCell(for: object, type: column.type, now: now) ?? .null }
                )
            }
        }
    }

    /// A timestamp as kubectl shows ages ("4s", "3m2s", "5d"); `<unknown>` when absent.
    static func humanAge(_ timestamp: JSONValue?, now: Date) -> JSONValue {
        .string(HumanDuration.age(ofTimestamp: timestamp?.stringValue ?? "", now: now))
    }
}
