import Kubernetes

/// An error answered as a Kubernetes `Status` object, worded as kube-apiserver words it so that
/// kubectl renders it the same way.
struct APIError: Error, Sendable {
    var code: Int
    var reason: String
    var message: String
    var details: JSONValue?

    /// The Status body.
    var status: JSONValue {
        var body: JSONValue = [
            "kind": "Status", "apiVersion": "v1", "metadata": [:], "status": "Failure", "message": .string(message),
            "reason": .string(reason), "code": .integer(Int64(code)),
        ]
        if let details { body["details"] = details }
        return body
    }

    static func notFound(_ type: ResourceType, name: String) -> APIError {
        APIError(
            code: 404,
            reason: "NotFound",
            message: "\(type.qualifiedName) \"\(name)\" not found",
            details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)]
        )
    }

    static func namespaceNotFound(_ namespace: String) -> APIError {
        APIError(
            code: 404,
            reason: "NotFound",
            message: "namespaces \"\(namespace)\" not found",
            details: ["name": .string(namespace), "kind": "namespaces"]
        )
    }

    /// No such path, group or resource.
    static let unknownPath = APIError(code: 404, reason: "NotFound", message: "the server could not find the requested resource")

    static func alreadyExists(_ type: ResourceType, name: String) -> APIError {
        APIError(
            code: 409,
            reason: "AlreadyExists",
            message: "\(type.qualifiedName) \"\(name)\" already exists",
            details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)]
        )
    }

    static func conflict(_ type: ResourceType, name: String, _ detail: String = "the object has been modified; please apply your changes to the latest version and try again") -> APIError {
        APIError(
            code: 409,
            reason: "Conflict",
            message: "Operation cannot be fulfilled on \(type.qualifiedName) \"\(name)\": \(detail)",
            details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.plural)]
        )
    }

    /// 422 with every cause; kubectl prints `* <field>: <message>` for each.
    static func invalid(_ type: ResourceType, name: String, _ errors: [FieldError]) -> APIError {
        let summary = errors.count == 1 ? errors[0].description : "[" + errors.map(\.description).joined(separator: ", ") + "]"
        let causes: [JSONValue] = errors.map {
            ["reason": .string($0.kind.rawValue), "message": .string($0.message), "field": .string($0.field)]
        }
        return APIError(
            code: 422,
            reason: "Invalid",
            message: "\(type.kind)\(type.group.isEmpty ? "" : "." + type.group) \"\(name)\" is invalid: \(summary)",
            details: ["name": .string(name), "group": .string(type.group), "kind": .string(type.kind), "causes": .array(causes)]
        )
    }

    static func badRequest(_ message: String) -> APIError {
        APIError(code: 400, reason: "BadRequest", message: message)
    }

    static func unsupportedMediaType(_ contentType: String, _ type: ResourceType, accepted: [String]) -> APIError {
        APIError(
            code: 415,
            reason: "UnsupportedMediaType",
            message: "\(contentType) is not supported by \(type.group.isEmpty ? "" : type.group + "/")\(type.version), Kind=\(type.kind): the body of the request was in an unknown format - accepted media types include: \(accepted.joined(separator: ", "))"
        )
    }

    static func methodNotAllowed(_ method: String) -> APIError {
        APIError(code: 405, reason: "MethodNotAllowed", message: "the server does not allow this method on the requested resource")
    }

    static let notAcceptable = APIError(
        code: 406,
        reason: "NotAcceptable",
        message: "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )

    static let unauthorized = APIError(code: 401, reason: "Unauthorized", message: "Unauthorized")

    static let requestTooLarge = APIError(code: 413, reason: "RequestEntityTooLarge", message: "Request entity too large: limit is 3145728")

    static func expired(_ message: String) -> APIError {
        APIError(code: 410, reason: "Expired", message: message)
    }

    static func internalError(_ message: String) -> APIError {
        APIError(code: 500, reason: "InternalError", message: "Internal error occurred: \(message)")
    }
}
