import Metrics

extension Informer {
    /// Why a watch ended and the reflector opened another (or relisted): the `reason` label of
    /// `portcullis_informer_watch_restarts_total`.
    enum WatchRestartReason: String, CaseIterable, Sendable {
        /// 410 Gone (HTTP or an ERROR event): the resourceVersion is older than the server keeps; a relist follows.
        case expired
        /// The server ended the stream: its `timeoutSeconds` passed, or it shut down.
        case closed
        /// An event did not decode; a relist follows.
        case invalidEvent = "invalid_event"
        /// A transport failure, another error status, or a watch that outlived its timeout.
        case error
    }

    /// The informer's metrics, labelled `resource` (`routes.portcullis.io`, `secrets`):
    ///
    /// | metric | type | recorded |
    /// |---|---|---|
    /// | `portcullis_informer_watch_restarts_total{reason}` | counter | a watch ended (see ``WatchRestartReason``) |
    /// | `portcullis_informer_relists_total` | counter | a list after the first one replaced the cache |
    ///
    /// The handles are made once per informer, every `reason` included, so each series exists (at zero,
    /// in Prometheus) from the start.
    struct Instruments: Sendable {
        let relists: Counter
        private let watchRestarts: [WatchRestartReason: Counter]

        init(resource: ResourceDescriptor, factory: any MetricsFactory) {
            let label = ("resource", resource.groupResource)
            relists = Counter(label: "portcullis_informer_relists_total", dimensions: [label], factory: factory)
            var watchRestarts: [WatchRestartReason: Counter] = [:]
            for reason in WatchRestartReason.allCases {
                watchRestarts[reason] = Counter(
                    label: "portcullis_informer_watch_restarts_total",
                    dimensions: [label, ("reason", reason.rawValue)],
                    factory: factory
                )
            }
            self.watchRestarts = watchRestarts
        }

        func watchRestarted(_ reason: WatchRestartReason) {
            watchRestarts[reason]?.increment()
        }
    }
}
