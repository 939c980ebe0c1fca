public import Foundation

extension JSONPath {
    /// The Table cell of a CRD printer column (`additionalPrinterColumns`) for one object, computed
    /// as kube-apiserver's CRD table convertor computes it.
    ///
    /// Only the first value the path selects is used (as upstream: `.spec.ports[*].port` shows the
    /// first port); no value gives `null`, which kubectl prints as an empty cell. Then, by column type:
    ///
    /// | `type`    | Cell                                                                                  |
    /// |-----------|---------------------------------------------------------------------------------------|
    /// | `string`  | a string as it is; an integer, number or boolean as Go prints it (`8080`, `0.5`, `true`); an object or array as compact JSON |
    /// | `integer` | an integer (a number is truncated); anything else `null`                              |
    /// | `number`  | a number (an integer becomes a double); anything else `null`                          |
    /// | `boolean` | a boolean; anything else `null`                                                       |
    /// | `date`    | the ``HumanDuration`` age of an RFC 3339 string relative to `now` (`4s`, `2d5h`), `<unknown>` for `""`, `<invalid>` for a string that is not a timestamp; anything else `null` |
    /// | other     | `null`                                                                                |
    ///
    /// A JSON `null` value gives a `null` cell whatever the type.
    ///
    /// - Parameters:
    ///   - object: The object of the row.
    ///   - type: The column's `type`.
    ///   - now: The time the table is made, for `date` columns.
    /// - Returns: The cell.
    public func tableCell(for object: JSONValue, type: String, now: Date) -> JSONValue {
        guard let value = evaluate(object).first, value != .null else { return .null }
        switch (type, value) {
        case ("string", .string): return value
        case ("string", _): return .string(JSONPath.text(value))
        case ("integer", .integer): return value
        case ("integer", .double(let double)):
            guard double.isFinite else { return .null }
            return .integer(Int64(exactly: double.rounded(.towardZero)) ?? (double < 0 ? .min : .max))
        case ("number", .integer(let integer)): return .double(Double(integer))
        case ("number", .double): return value
        case ("boolean", .bool): return value
        case ("date", .string(let timestamp)): return .string(HumanDuration.age(ofTimestamp: timestamp, now: now))
        default: return .null
        }
    }
}
