/// One invalid field, shaped like Kubernetes' `field.Error`: a type, the field path, the offending
/// value and a detail. ``message`` is what kubectl prints after `* <field>: `.
public struct FieldError: Error, Sendable, Hashable {
    /// The cause reason Kubernetes reports in a Status' `details.causes[].reason`.
    public enum Kind: String, Sendable, Hashable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case typeInvalid = "FieldValueTypeInvalid"
        case notSupported = "FieldValueNotSupported"
        case forbidden = "FieldValueForbidden"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case duplicate = "FieldValueDuplicate"
        case notFound = "FieldValueNotFound"
    }

    public var kind: Kind
    /// The field path, `spec.retries.backoff.max` or `spec.authRefs[1].name`.
    public var field: String
    /// The offending value, omitted from the message for required, forbidden and too-long errors.
    public var value: JSONValue?
    public var detail: String

    public init(_ kind: Kind, field: String, value: JSONValue? = nil, detail: String = "") {
        self.kind = kind
        self.field = field
        self.value = value
        self.detail = detail
    }

    /// The message without the field path, as in a Status cause (`Invalid value: 11: must be ...`).
    public var message: String {
        var body: String
        switch kind {
        case .required: body = "Required value"
        case .forbidden: body = "Forbidden"
        case .tooLong: body = "Too long"
        case .invalid, .typeInvalid: body = "Invalid value: \(value?.description ?? "null")"
        case .notSupported: body = "Unsupported value: \(value?.description ?? "null")"
        case .tooMany: body = "Too many: \(value?.description ?? "null")"
        case .duplicate: body = "Duplicate value: \(value?.description ?? "null")"
        case .notFound: body = "Not found: \(value?.description ?? "null")"
        }
        if !detail.isEmpty { body += ": " + detail }
        return body
    }
}

extension FieldError: CustomStringConvertible {
    /// `<field>: <message>`, the line kubectl prints for each cause.
    public var description: String { "\(field): \(message)" }
}

/// A field path under construction: `spec`, `spec.retries`, `spec.authRefs[0]`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public private(set) var description: String

    public init(_ root: String) { description = root }

    /// The path of a member of this object.
    public func child(_ name: String) -> FieldPath {
        FieldPath(description.isEmpty ? name : description + "." + name)
    }

    /// The path of an element of this array.
    public func index(_ index: Int) -> FieldPath { FieldPath(description + "[\(index)]") }

    /// The path of a value of this map.
    public func key(_ key: String) -> FieldPath { FieldPath(description + "[\(key)]") }
}
