/// How an ``Informer`` lists and watches.
public struct InformerConfiguration: Sendable, Hashable {
    /// Only objects with these labels (`app=web`); `nil` for all.
    public var labelSelector: String?
    /// Only objects with these fields (`metadata.name=web`); `nil` for all.
    public var fieldSelector: String?
    /// Items per list page. Default 500 (what kubectl and client-go use).
    public var pageSize: Int
    /// A watch asks the server to end it after a random `minimumWatchTimeout…2·minimumWatchTimeout`,
    /// then re-watches from the last resourceVersion. Default 300 s (so 5–10 min).
    public var minimumWatchTimeout: Duration
    /// How often every cached object is re-delivered to the handlers as an update, so reconcilers
    /// re-check the world even without changes; `nil` disables resync. Default 10 min.
    public var resyncPeriod: Duration?
    /// The reconnect backoff. Default 200 ms doubling to 30 s, jitter 0.5.
    public var backoff: BackoffConfiguration
    /// A watch that outlives its `timeoutSeconds` by this much is presumed dead (a half-open connection)
    /// and is dropped and re-opened. Default 30 s.
    public var stallGrace: Duration

    public init(
        labelSelector: String? = nil,
        fieldSelector: String? = nil,
        pageSize: Int = 500,
        minimumWatchTimeout: Duration = .seconds(300),
        resyncPeriod: Duration? = .seconds(600),
        backoff: BackoffConfiguration = BackoffConfiguration(),
        stallGrace: Duration = .seconds(30)
    ) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.pageSize = pageSize
        self.minimumWatchTimeout = minimumWatchTimeout
        self.resyncPeriod = resyncPeriod
        self.backoff = backoff
        self.stallGrace = stallGrace
    }
}
