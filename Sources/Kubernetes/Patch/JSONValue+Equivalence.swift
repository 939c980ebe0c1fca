extension JSONValue {
    /// Whether two values are the same JSON value: numbers compare by value (`1` and `1.0` are
    /// equivalent), objects without regard to member order, arrays element by element.
    ///
    /// This is the equality RFC 6902 prescribes for the `test` operation, and the one the patch
    /// algorithms use to compare scalars and merge keys. `==` instead tells `.integer(1)` and
    /// `.double(1)` apart.
    public func isEquivalent(to other: JSONValue) -> Bool {
        switch (self, other) {
        case (.integer(let left), .integer(let right)):
            return left == right
        case (.integer, .double), (.double, .integer), (.double, .double):
            // Two integers compare exactly above; a double takes part here.
            return doubleValue! == other.doubleValue!
        case (.array(let left), .array(let right)):
            guard left.count == right.count else { return false }
            return zip(left, right).allSatisfy { $0.isEquivalent(to: $1) }
        case (.object(let left), .object(let right)):
            guard left.count == right.count else { return false }
            for (key, value) in left {
                guard let otherValue = right[key], value.isEquivalent(to: otherValue) else { return false }
            }
            return true
        default:
            return self == other
        }
    }

    /// Whether this is a scalar (`null`, a boolean, a number or a string) rather than an array or object.
    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }
}
