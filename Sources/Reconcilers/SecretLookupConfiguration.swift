/// How the controller looks up Secrets that Routes and UpstreamAuths name but its cache does not hold (see
/// `SecretReferences`): a GET by name, so a condition can tell a missing Secret from one without the
/// `portcullis.io/secret` label.
public struct SecretLookupConfiguration: Sendable, Hashable {
    /// How often such a Secret is looked up again while something names it, so that one created or deleted without
    /// the label is noticed (no cache sees it). Default 10 s.
    public var recheckInterval: Duration
    /// The most lookups a second over all Secrets. Default 5: 10,000 Routes naming 10,000 missing Secrets are
    /// looked up in about half an hour, never in a burst, and a few are looked up every `recheckInterval`.
    public var lookupsPerSecond: Double

    public init(recheckInterval: Duration = .seconds(10), lookupsPerSecond: Double = 5) {
        self.recheckInterval = recheckInterval
        self.lookupsPerSecond = lookupsPerSecond
    }
}
