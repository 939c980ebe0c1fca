public import Kubernetes

/// Query parameters of a list.
public struct ListOptions: Sendable, Hashable {
    /// A label selector, e.g. `app=web,tier!=cache`.
    public var labelSelector: String?
    /// A field selector, e.g. `metadata.name=web`.
    public var fieldSelector: String?
    /// At most this many items per page; the answer's ``ObjectList/continueToken`` fetches the next.
    public var limit: Int?
    /// The token from the previous page.
    public var continueToken: String?
    /// `0` to allow a cached answer; `nil` for the most recent.
    public var resourceVersion: String?

    public init(
        labelSelector: String? = nil,
        fieldSelector: String? = nil,
        limit: Int? = nil,
        continueToken: String? = nil,
        resourceVersion: String? = nil
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }

    var queryItems: [(String, String)] {
        var items: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { items.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { items.append(("fieldSelector", fieldSelector)) }
        if let limit { items.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { items.append(("continue", continueToken)) }
        if let resourceVersion { items.append(("resourceVersion", resourceVersion)) }
        return items
    }
}

/// Query parameters of a watch.
public struct WatchOptions: Sendable, Hashable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Deliver changes after this version; `nil` or `"0"` first delivers every current object as ADDED.
    public var resourceVersion: String?
    /// Ask for BOOKMARK events, which carry only a newer resourceVersion.
    public var allowWatchBookmarks: Bool
    /// The server ends the stream cleanly after this long; clients re-watch from the last version seen.
    public var timeoutSeconds: Int?

    public init(
        labelSelector: String? = nil,
        fieldSelector: String? = nil,
        resourceVersion: String? = nil,
        allowWatchBookmarks: Bool = false,
        timeoutSeconds: Int? = nil
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.resourceVersion = resourceVersion
        self.allowWatchBookmarks = allowWatchBookmarks
        self.timeoutSeconds = timeoutSeconds
    }

    var queryItems: [(String, String)] {
        var items: [(String, String)] = [("watch", "true")]
        if let labelSelector, !labelSelector.isEmpty { items.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { items.append(("fieldSelector", fieldSelector)) }
        if let resourceVersion { items.append(("resourceVersion", resourceVersion)) }
        if allowWatchBookmarks { items.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { items.append(("timeoutSeconds", String(timeoutSeconds))) }
        return items
    }
}

/// Query parameters of create, update and patch.
public struct WriteOptions: Sendable, Hashable {
    /// Who owns the fields written (server-side apply requires one; others default to the client's).
    public var fieldManager: String?
    /// Validate and answer without storing.
    public var dryRun: Bool
    /// `Strict`, `Warn` or `Ignore`: what an unknown field causes.
    public var fieldValidation: String?

    public init(fieldManager: String? = nil, dryRun: Bool = false, fieldValidation: String? = nil) {
        self.fieldManager = fieldManager
        self.dryRun = dryRun
        self.fieldValidation = fieldValidation
    }

    func queryItems(defaultFieldManager: String) -> [(String, String)] {
        var items: [(String, String)] = [("fieldManager", fieldManager ?? defaultFieldManager)]
        if dryRun { items.append(("dryRun", "All")) }
        if let fieldValidation { items.append(("fieldValidation", fieldValidation)) }
        return items
    }
}

/// The body of a delete.
public struct DeleteOptions: Sendable, Hashable {
    /// What happens to dependents (objects whose ownerReferences name this one).
    public enum PropagationPolicy: String, Sendable, Hashable {
        /// Delete now; the garbage collector deletes dependents afterwards (kubectl's default).
        case background = "Background"
        /// Delete dependents first; the owner stays until they are gone.
        case foreground = "Foreground"
        /// Keep dependents, removing their owner references.
        case orphan = "Orphan"
    }

    public var propagationPolicy: PropagationPolicy?
    /// Delete only if the object still has this uid (409 Conflict otherwise).
    public var preconditionUID: String?
    /// Delete only if the object still has this resourceVersion (409 Conflict otherwise).
    public var preconditionResourceVersion: String?
    public var gracePeriodSeconds: Int?
    public var dryRun: Bool

    public init(
        propagationPolicy: PropagationPolicy? = nil,
        preconditionUID: String? = nil,
        preconditionResourceVersion: String? = nil,
        gracePeriodSeconds: Int? = nil,
        dryRun: Bool = false
    ) {
        self.propagationPolicy = propagationPolicy
        self.preconditionUID = preconditionUID
        self.preconditionResourceVersion = preconditionResourceVersion
        self.gracePeriodSeconds = gracePeriodSeconds
        self.dryRun = dryRun
    }

    var body: JSONValue {
        var body: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1"]
        if let propagationPolicy { body["propagationPolicy"] = .string(propagationPolicy.rawValue) }
        if preconditionUID != nil || preconditionResourceVersion != nil {
            var preconditions: JSONValue = [:]
            if let preconditionUID { preconditions["uid"] = .string(preconditionUID) }
            if let preconditionResourceVersion {
                preconditions["resourceVersion"] = .string(preconditionResourceVersion)
            }
            body["preconditions"] = preconditions
        }
        if let gracePeriodSeconds { body["gracePeriodSeconds"] = .integer(Int64(gracePeriodSeconds)) }
        if dryRun { body["dryRun"] = ["All"] }
        return body
    }
}

/// A patch and its type.
public enum Patch: Sendable, Hashable {
    /// RFC 7386 JSON merge patch (`application/merge-patch+json`): objects merge, `null` deletes, lists replace.
    case merge(JSONValue)
    /// RFC 6902 JSON patch (`application/json-patch+json`).
    case json(JSONPatch)
    /// Strategic merge patch (`application/strategic-merge-patch+json`); built-in kinds only (415 on custom resources).
    case strategicMerge(JSONValue)
    /// Server-side apply (`application/apply-patch+yaml`, sent as JSON): the fields this manager owns.
    /// `force` takes over fields other managers own instead of failing with 409.
    case apply(JSONValue, force: Bool = false)

    var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        case .apply: return "application/apply-patch+yaml"
        }
    }

    var body: JSONValue {
        switch self {
        case .merge(let value), .strategicMerge(let value), .apply(let value, _): return value
        case .json(let patch): return patch.document
        }
    }
}
