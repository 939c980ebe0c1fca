public import Kubernetes
import Foundation

/// A resource that could not be decoded into its typed form, with the field that failed.
public struct ResourceDecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The field path, e.g. `spec.timeouts.request`.
    public var field: String
    public var message: String

    public var description: String { "\(field): \(message)" }

    /// The error as a Kubernetes field error.
    public var fieldError: FieldError { FieldError(.invalid, field: field, detail: message) }
}

/// Turns unstructured JSON into the typed resources, reporting the failing field path.
enum ResourceDecoder {
    static func decode<Resource: Decodable>(_ type: Resource.Type, from json: JSONValue) throws -> Resource {
        do {
            return try json.decode(as: type)
        } catch let error as DecodingError {
            throw ResourceDecodingError(decodingError: error)
        }
    }
}

extension ResourceDecodingError {
    init(decodingError: DecodingError) {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += text.isEmpty ? key.stringValue : "." + key.stringValue
                }
            }
            return text
        }
        switch decodingError {
        case .typeMismatch(let type, let context):
            self.init(field: path(context.codingPath), message: "expected \(type): \(context.debugDescription)")
        case .valueNotFound(_, let context):
            self.init(field: path(context.codingPath), message: "Required value")
        case .keyNotFound(let key, let context):
            self.init(field: path(context.codingPath + [key]), message: "Required value")
        case .dataCorrupted(let context):
            self.init(field: path(context.codingPath), message: context.debugDescription)
        @unknown default:
            self.init(field: "", message: "\(decodingError)")
        }
    }
}
