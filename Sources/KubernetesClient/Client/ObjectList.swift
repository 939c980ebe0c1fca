/// One page of a list: the items, the resourceVersion the list is consistent with (where a watch
/// starts), and the token for the next page.
public struct ObjectList<Object: Sendable>: Sendable {
    public var items: [Object]
    public var resourceVersion: String
    /// Non-nil when more items remain; pass it as ``ListOptions/continueToken``.
    public var continueToken: String?
    public var remainingItemCount: Int64?

    public init(
        items: [Object],
        resourceVersion: String,
        continueToken: String? = nil,
        remainingItemCount: Int64? = nil
    ) {
        self.items = items
        self.resourceVersion = resourceVersion
        self.continueToken = continueToken
        self.remainingItemCount = remainingItemCount
    }
}

/// The wire shape of a list (`{"metadata":{...},"items":[...]}`), decoded straight from the body.
struct ListBody<Object: Decodable>: Decodable {
    struct ListMeta: Decodable {
        var resourceVersion: String?
        var `continue`: String?
        var remainingItemCount: Int64?
    }

    var metadata: ListMeta?
    var items: [Object]?
}
