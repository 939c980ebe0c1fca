/// A label selector: requirements on an object's labels that must all hold (`k8s.io/apimachinery/pkg/labels`).
///
/// It comes as the `labelSelector` query parameter of list and watch requests, parsed with
/// ``init(parsing:)``:
///
/// | Syntax              | Holds when                                        |
/// |---------------------|---------------------------------------------------|
/// | `k=v`, `k==v`       | label `k` is `v`                                  |
/// | `k!=v`              | label `k` is absent or not `v`                    |
/// | `k in (a,b)`        | label `k` is `a` or `b`                           |
/// | `k notin (a,b)`     | label `k` is absent or neither `a` nor `b`        |
/// | `k`                 | label `k` is present                              |
/// | `!k`                | label `k` is absent                               |
/// | `k>5`, `k<5`        | label `k` is an integer greater (less) than 5     |
///
/// Requirements are separated by `,` (all must hold); whitespace around tokens is ignored. Or it
/// comes in the structured form of `metav1.LabelSelector` (`matchLabels`, `matchExpressions`),
/// read with ``init(structured:)``.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    /// One requirement on one label.
    public struct Requirement: Sendable, Hashable, CustomStringConvertible {
        /// The operators of `k8s.io/apimachinery/pkg/selection`.
        public enum Operator: String, Sendable, Hashable {
            case equals = "="
            case doubleEquals = "=="
            case notEquals = "!="
            case `in` = "in"
            case notIn = "notin"
            case exists = "exists"
            case doesNotExist = "!"
            case greaterThan = "gt"
            case lessThan = "lt"
        }

        /// The label key.
        public let key: String
        /// The operator.
        public let `operator`: Operator
        /// The values, sorted and without duplicates.
        public let values: [String]

        /// A requirement, validated as `labels.NewRequirement` validates it: a valid key, valid
        /// values, one value for `=`, `==`, `!=`, `gt` and `lt` (an integer for the last two), at
        /// least one for `in` and `notin`, none for `exists` and `!`.
        ///
        /// - Throws: ``SelectorError`` with ``SelectorError/Code/invalidSelector``, every problem in one message.
        public init(key: String, operator: Operator, values: [String] = []) throws(SelectorError) {
            var problems: [String] = []
            let keyErrors = LabelValidation.qualifiedNameErrors(key)
            if !keyErrors.isEmpty {
                problems.append("key: Invalid value: \(JSONValue.string(key)): \(keyErrors.joined(separator: "; "))")
            }
            let goValues = "[]string{" + values.map { JSONValue.string($0).description }.joined(separator: ", ") + "}"
            switch `operator` {
            case .in, .notIn:
                if values.isEmpty {
                    problems.append(
                        "values: Invalid value: \(goValues): for 'in', 'notin' operators, values set can't be empty"
                    )
                }
            case .equals, .doubleEquals, .notEquals:
                if values.count != 1 {
                    problems.append(
                        "values: Invalid value: \(goValues): exact-match compatibility requires one single value"
                    )
                }
            case .exists, .doesNotExist:
                if !values.isEmpty {
                    problems.append(
                        "values: Invalid value: \(goValues): values set must be empty for exists and does not exist"
                    )
                }
            case .greaterThan, .lessThan:
                if values.count != 1 {
                    problems.append(
                        "values: Invalid value: \(goValues): for 'Gt', 'Lt' operators, exactly one value is required"
                    )
                }
                for (index, value) in values.enumerated() where Int64(value) == nil {
                    problems.append(
                        "values[\(index)]: Invalid value: \(JSONValue.string(value)): for 'Gt', 'Lt' operators, the value must be an integer"
                    )
                }
            }
            for (index, value) in values.enumerated() {
                let valueErrors = LabelValidation.labelValueErrors(value)
                if !valueErrors.isEmpty {
                    problems.append(
                        "values[\(index)][\(key)]: Invalid value: \(JSONValue.string(value)): \(valueErrors.joined(separator: "; "))"
                    )
                }
            }
            if !problems.isEmpty {
                throw SelectorError(.invalidSelector, LabelSelector.aggregate(problems))
            }
            self.key = key
            self.operator = `operator`
            self.values = Array(Set(values)).sorted()
        }

        /// Whether the labels satisfy this requirement.
        public func matches(_ labels: [String: String]) -> Bool {
            let label = labels[key]
            switch `operator` {
            case .equals, .doubleEquals, .in:
                guard let label else { return false }
                return values.contains(label)
            case .notEquals, .notIn:
                guard let label else { return true }
                return !values.contains(label)
            case .exists:
                return label != nil
            case .doesNotExist:
                return label == nil
            case .greaterThan, .lessThan:
                guard let label, let labelValue = Int64(label), values.count == 1, let bound = Int64(values[0]) else {
                    return false
                }
                return `operator` == .greaterThan ? labelValue > bound : labelValue < bound
            }
        }

        /// The requirement in selector syntax: `k=v`, `k in (a,b)`, `!k`, `k>5`.
        public var description: String {
            switch `operator` {
            case .exists: return key
            case .doesNotExist: return "!" + key
            case .equals, .doubleEquals, .notEquals: return key + `operator`.rawValue + values.joined(separator: ",")
            case .greaterThan: return key + ">" + values.joined(separator: ",")
            case .lessThan: return key + "<" + values.joined(separator: ",")
            case .in, .notIn: return key + " " + `operator`.rawValue + " (" + values.joined(separator: ",") + ")"
            }
        }
    }

    /// The requirements, sorted by key; all must hold.
    public let requirements: [Requirement]
    private let selectsNothing: Bool

    /// The selector that matches every object (an empty selector).
    public static let everything = LabelSelector([])
    /// The selector that matches no object (a `null` structured selector).
    public static let nothing = LabelSelector(requirements: [], selectsNothing: true)

    private init(requirements: [Requirement], selectsNothing: Bool) {
        self.requirements = requirements
        self.selectsNothing = selectsNothing
    }

    /// A selector of requirements that must all hold.
    public init(_ requirements: [Requirement]) {
        self.init(
            requirements: requirements.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
                .map(\.element),
            selectsNothing: false
        )
    }

    /// A selector requiring each of `matchLabels`.
    ///
    /// - Throws: ``SelectorError`` for an invalid key or value.
    public init(matchLabels: [String: String]) throws(SelectorError) {
        var requirements: [Requirement] = []
        for (key, value) in matchLabels {
            requirements.append(try Requirement(key: key, operator: .equals, values: [value]))
        }
        self.init(requirements)
    }

    /// Whether this selector matches every object.
    public var isEverything: Bool { requirements.isEmpty && !selectsNothing }

    /// Whether the labels satisfy every requirement.
    public func matches(_ labels: [String: String]) -> Bool {
        !selectsNothing && requirements.allSatisfy { $0.matches(labels) }
    }

    /// The selector in its string syntax, requirements joined by `,` (empty for ``everything`` and ``nothing``).
    public var description: String {
        requirements.map(\.description).joined(separator: ",")
    }

    /// Go's `utilerrors.NewAggregate(...).Error()`: one message alone, several in brackets.
    static func aggregate(_ messages: [String]) -> String {
        var unique: [String] = []
        for message in messages where !unique.contains(message) { unique.append(message) }
        return unique.count == 1 ? unique[0] : "[" + unique.joined(separator: ", ") + "]"
    }
}

extension LabelSelector {
    /// Reads the structured form, a `metav1.LabelSelector` as JSON, as
    /// `metav1.LabelSelectorAsSelector` does: `null` selects nothing, `{}` everything;
    /// `matchLabels` entries become `=` requirements; `matchExpressions` operators are `In`,
    /// `NotIn`, `Exists` and `DoesNotExist`.
    ///
    /// - Parameter structured: `{"matchLabels": {...}, "matchExpressions": [{"key", "operator", "values"}]}` or `null`.
    /// - Throws: ``SelectorError`` for a value of the wrong shape, an unknown operator or an invalid requirement.
    public init(structured: JSONValue) throws(SelectorError) {
        if structured == .null {
            self = .nothing
            return
        }
        guard case .object(let members) = structured else {
            throw SelectorError(.invalidSelector, "a label selector must be an object, not \(structured.typeName)")
        }
        var requirements: [Requirement] = []
        switch members["matchLabels"] {
        case nil, .null?:
            break
        case .object(let labels)?:
            for (key, value) in labels {
                guard case .string(let string) = value else {
                    throw SelectorError(.invalidSelector, "matchLabels[\(key)] must be a string, not \(value.typeName)")
                }
                requirements.append(try Requirement(key: key, operator: .equals, values: [string]))
            }
        case let other?:
            throw SelectorError(.invalidSelector, "matchLabels must be an object, not \(other.typeName)")
        }
        switch members["matchExpressions"] {
        case nil, .null?:
            break
        case .array(let expressions)?:
            for (index, expression) in expressions.enumerated() {
                requirements.append(try LabelSelector.requirement(from: expression, index: index))
            }
        case let other?:
            throw SelectorError(.invalidSelector, "matchExpressions must be an array, not \(other.typeName)")
        }
        self.init(requirements)
    }

    private static func requirement(from expression: JSONValue, index: Int) throws(SelectorError) -> Requirement {
        guard case .object(let members) = expression else {
            throw SelectorError(
                .invalidSelector,
                "matchExpressions[\(index)] must be an object, not \(expression.typeName)"
            )
        }
        guard case .string(let key)? = members["key"] else {
            throw SelectorError(.invalidSelector, "matchExpressions[\(index)].key must be a string")
        }
        guard case .string(let operatorName)? = members["operator"] else {
            throw SelectorError(.invalidSelector, "matchExpressions[\(index)].operator must be a string")
        }
        var values: [String] = []
        switch members["values"] {
        case nil, .null?:
            break
        case .array(let elements)?:
            for element in elements {
                guard case .string(let value) = element else {
                    throw SelectorError(.invalidSelector, "matchExpressions[\(index)].values must be strings")
                }
                values.append(value)
            }
        case .some:
            throw SelectorError(.invalidSelector, "matchExpressions[\(index)].values must be an array of strings")
        }
        let op: Requirement.Operator
        switch operatorName {
        case "In": op = .in
        case "NotIn": op = .notIn
        case "Exists": op = .exists
        case "DoesNotExist": op = .doesNotExist
        default:
            throw SelectorError(
                .invalidSelector,
                "\(JSONValue.string(operatorName)) is not a valid label selector operator"
            )
        }
        return try Requirement(key: key, operator: op, values: values)
    }
}
