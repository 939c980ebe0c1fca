/// A JSONPath expression in the subset kubectl and kube-apiserver use (`k8s.io/client-go/util/jsonpath`):
/// CRD `additionalPrinterColumns[].jsonPath`, `kubectl wait --for=jsonpath=...` and `kubectl get -o jsonpath=...`.
///
/// | Syntax                                   | Selects                                                  |
/// |------------------------------------------|----------------------------------------------------------|
/// | `$`, or nothing                          | the root                                                 |
/// | `.name`, `['name']`, `["a","b"]`         | members of objects (names may escape `.` as `\.`)        |
/// | `.*`, `[*]`                              | every element of an array, every member value of an object (by name) |
/// | `..name`                                 | `name` at any depth                                      |
/// | `[0]`, `[-1]`, `[0,2]`                   | array elements by index (negative counts from the end)   |
/// | `[1:3]`, `[:2]`, `[::2]`                 | array slices, as in Python                               |
/// | `[?(@.type=="Ready")]`                   | array elements passing a filter: `==`, `!=`, `<`, `<=`, `>`, `>=` comparing `@`/`$` paths, quoted strings, numbers, `true`, `false`, `null`; or `[?(@.name)]` for presence |
///
/// An expression may stand alone (`.spec.host`, the printer-column form) or inside a template
/// (`{.metadata.name}{"\n"}`, the `kubectl -o jsonpath` form): text outside braces is copied and
/// `{"..."}` is a quoted string. `range`/`end` and the regular-expression filter `=~` are not supported.
///
/// Evaluation never fails: a missing member, an index out of range or a filter on something that is
/// not an array selects nothing, as kube-apiserver's printer columns (`AllowMissingKeys(true)`) see it.
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let description: String
    let segments: [Segment]

    enum Segment: Sendable, Hashable {
        case text(String)
        case path(Path)
    }

    struct Path: Sendable, Hashable {
        enum Root: Sendable, Hashable {
            case document, current
        }

        var root: Root
        var steps: [Step]
    }

    indirect enum Step: Sendable, Hashable {
        case members([String])
        case wildcard
        case descendants
        case indices([Int])
        case slice(start: Int?, end: Int?, step: Int?)
        case filter(Filter)
    }

    indirect enum Operand: Sendable, Hashable {
        case path(Path)
        case literal(JSONValue)
    }

    struct Filter: Sendable, Hashable {
        var left: Operand
        /// The comparison with a right operand; `nil` for a presence test (`[?(@.name)]`).
        var comparison: Comparison?
        var right: Operand?
    }

    enum Comparison: String, Sendable, Hashable {
        case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    /// Parses an expression (`.status.conditions[?(@.type=="Ready")].status`) or a template
    /// (`{.metadata.name}{"\t"}{.spec.host}`).
    ///
    /// - Throws: ``JSONPathError`` naming the offending offset.
    public init(parsing expression: String) throws(JSONPathError) {
        var parser = JSONPathParser(expression)
        self.description = expression
        self.segments = try parser.parseTemplate()
    }

    /// The values the expression selects, in document order (object members by name when a
    /// wildcard or `..` enumerates them). For a template, the values of each `{}` in turn.
    public func evaluate(_ document: JSONValue) -> [JSONValue] {
        segments.flatMap { segment -> [JSONValue] in
            guard case .path(let path) = segment else { return [] }
            return JSONPath.evaluate(path, on: document, root: document)
        }
    }

    /// What `kubectl get -o jsonpath=<template>` prints for `document`: the template's text, and for
    /// each `{}` its values separated by spaces, strings as they are, numbers and booleans as in
    /// Go, objects and arrays as compact JSON.
    public func render(_ document: JSONValue) -> String {
        var output = ""
        for segment in segments {
            switch segment {
            case .text(let text):
                output += text
            case .path(let path):
                output += JSONPath.evaluate(path, on: document, root: document).map(JSONPath.text).joined(
                    separator: " "
                )
            }
        }
        return output
    }

    /// A value as kubectl's JSONPath printer writes it (`jsonpath.PrintResults`).
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let string): return string
        case .integer(let integer): return String(integer)
        case .double(let double): return GoFloat.format(double)
        case .bool(let bool): return bool ? "true" : "false"
        case .null: return "null"
        case .array, .object: return value.description
        }
    }

    static func evaluate(_ path: Path, on current: JSONValue, root: JSONValue) -> [JSONValue] {
        var values = [path.root == .document ? root : current]
        for step in path.steps {
            values = values.flatMap { apply(step, to: $0, root: root) }
            if values.isEmpty { break }
        }
        return values
    }

    private static func apply(_ step: Step, to value: JSONValue, root: JSONValue) -> [JSONValue] {
        switch step {
        case .members(let names):
            guard case .object(let members) = value else { return [] }
            return names.compactMap { members[$0] }
        case .wildcard:
            switch value {
            case .object(let members): return members.keys.sorted().map { members[$0]! }
            case .array(let elements): return elements
            default: return []
            }
        case .descendants:
            var collected: [JSONValue] = []
            collectDescendants(of: value, into: &collected)
            return collected
        case .indices(let indices):
            guard case .array(let elements) = value else { return [] }
            // Not `compactMap`: a `nil` literal would become `JSONValue.null` there.
            return indices.map { $0 < 0 ? elements.count + $0 : $0 }.filter(elements.indices.contains).map {
                elements[$0]
            }
        case .slice(let start, let end, let step):
            guard case .array(let elements) = value else { return [] }
            return slice(elements, start: start, end: end, step: step ?? 1)
        case .filter(let filter):
            guard case .array(let elements) = value else { return [] }
            return elements.filter { passes(filter, element: $0, root: root) }
        }
    }

    private static func collectDescendants(of value: JSONValue, into collected: inout [JSONValue]) {
        collected.append(value)
        switch value {
        case .object(let members):
            for key in members.keys.sorted() { collectDescendants(of: members[key]!, into: &collected) }
        case .array(let elements):
            for element in elements { collectDescendants(of: element, into: &collected) }
        default:
            break
        }
    }

    private static func slice(_ elements: [JSONValue], start: Int?, end: Int?, step: Int) -> [JSONValue] {
        let count = elements.count
        guard step != 0, count > 0 else { return [] }
        func resolve(_ index: Int) -> Int { index < 0 ? index + count : index }
        var result: [JSONValue] = []
        if step > 0 {
            var index = max(0, min(count, resolve(start ?? 0)))
            let stop = max(0, min(count, resolve(end ?? count)))
            while index < stop {
                result.append(elements[index])
                index += step
            }
        } else {
            var index = max(-1, min(count - 1, resolve(start ?? count - 1)))
            let stop = end.map { max(-1, min(count - 1, resolve($0))) } ?? -1
            while index > stop {
                result.append(elements[index])
                index += step
            }
        }
        return result
    }

    private static func passes(_ filter: Filter, element: JSONValue, root: JSONValue) -> Bool {
        let left = operandValues(filter.left, element: element, root: root)
        guard let op = filter.comparison, let rightOperand = filter.right else { return !left.isEmpty }
        let right = operandValues(rightOperand, element: element, root: root)
        guard left.count == 1, right.count == 1 else { return false }
        return compare(left[0], op, right[0])
    }

    private static func operandValues(_ operand: Operand, element: JSONValue, root: JSONValue) -> [JSONValue] {
        switch operand {
        case .literal(let value): return [value]
        case .path(let path): return evaluate(path, on: element, root: root)
        }
    }

    private static func compare(_ left: JSONValue, _ op: Comparison, _ right: JSONValue) -> Bool {
        switch op {
        case .equal: return left.isEquivalent(to: right)
        case .notEqual: return !left.isEquivalent(to: right)
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let order: Bool?
            if let l = left.doubleValue, let r = right.doubleValue {
                switch op {
                case .less: order = l < r
                case .lessOrEqual: order = l <= r
                case .greater: order = l > r
                default: order = l >= r
                }
            } else if case .string(let l) = left, case .string(let r) = right {
                switch op {
                case .less: order = l < r
                case .lessOrEqual: order = l <= r
                case .greater: order = l > r
                default: order = l >= r
                }
            } else {
                order = nil
            }
            return order ?? false
        }
    }
}
