import Metrics

extension WorkQueue {
    /// client-go's work queue metrics for one queue (`util/workqueue/metrics.go`), labelled `name`:
    ///
    /// | metric | type | recorded |
    /// |---|---|---|
    /// | `workqueue_depth` | gauge | keys pending (queued, or re-added while processing) |
    /// | `workqueue_adds_total` | counter | a key became pending |
    /// | `workqueue_queue_duration_seconds` | histogram | from add to being handed to a worker |
    /// | `workqueue_work_duration_seconds` | histogram | from being handed out to ``WorkQueue/done(_:)`` |
    /// | `workqueue_retries_total` | counter | ``WorkQueue/addRateLimited(_:)`` |
    /// | `workqueue_unfinished_work_seconds` | gauge | seconds spent by the keys in progress, summed |
    /// | `workqueue_longest_running_processor_seconds` | gauge | the longest of them |
    ///
    /// The handles are made once per queue, so every series exists (at zero, in Prometheus) from the start.
    /// The last two change with time alone: ``Controller`` refreshes them every 500 ms, as client-go does.
    struct Instruments: Sendable {
        let depth: Gauge
        let adds: Counter
        let queueDuration: Timer
        let workDuration: Timer
        let retries: Counter
        let unfinishedWork: Gauge
        let longestRunningProcessor: Gauge

        init(name: String, factory: any MetricsFactory) {
            let dimensions = [("name", name)]
            depth = Gauge(label: "workqueue_depth", dimensions: dimensions, factory: factory)
            adds = Counter(label: "workqueue_adds_total", dimensions: dimensions, factory: factory)
            queueDuration = Timer(label: "workqueue_queue_duration_seconds", dimensions: dimensions, factory: factory)
            workDuration = Timer(label: "workqueue_work_duration_seconds", dimensions: dimensions, factory: factory)
            retries = Counter(label: "workqueue_retries_total", dimensions: dimensions, factory: factory)
            unfinishedWork = Gauge(label: "workqueue_unfinished_work_seconds", dimensions: dimensions, factory: factory)
            longestRunningProcessor = Gauge(
                label: "workqueue_longest_running_processor_seconds",
                dimensions: dimensions,
                factory: factory
            )
        }
    }
}
