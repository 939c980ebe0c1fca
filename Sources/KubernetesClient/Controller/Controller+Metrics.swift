import Metrics

extension Controller {
    /// controller-runtime's controller metrics for one controller (`pkg/internal/controller/metrics`),
    /// labelled `controller`:
    ///
    /// | metric | type | recorded |
    /// |---|---|---|
    /// | `controller_runtime_reconcile_total{result}` | counter | each reconcile, by outcome: `success`, `error`, `requeue`, `requeue_after` |
    /// | `controller_runtime_reconcile_errors_total` | counter | each reconcile that threw (terminal errors included) |
    /// | `controller_runtime_terminal_reconcile_errors_total` | counter | each ``TerminalError`` |
    /// | `controller_runtime_reconcile_time_seconds` | histogram | each reconcile's duration |
    /// | `controller_runtime_active_workers` | gauge | reconciles running now |
    /// | `controller_runtime_max_concurrent_reconciles` | gauge | ``Configuration/workers`` |
    ///
    /// The handles are made once per controller, so every series, each `result` included, exists
    /// (at zero, in Prometheus) before the first reconcile.
    struct Instruments: Sendable {
        let success: Counter
        let error: Counter
        let requeue: Counter
        let requeueAfter: Counter
        let errors: Counter
        let terminalErrors: Counter
        let reconcileTime: Timer
        let activeWorkers: Meter

        init(configuration: Configuration, factory: any MetricsFactory) {
            let controller = ("controller", configuration.name)
            func total(_ result: String) -> Counter {
                Counter(
                    label: "controller_runtime_reconcile_total",
                    dimensions: [controller, ("result", result)],
                    factory: factory
                )
            }
            success = total("success")
            error = total("error")
            requeue = total("requeue")
            requeueAfter = total("requeue_after")
            errors = Counter(label: "controller_runtime_reconcile_errors_total", dimensions: [controller], factory: factory)
            terminalErrors = Counter(
                label: "controller_runtime_terminal_reconcile_errors_total",
                dimensions: [controller],
                factory: factory
            )
            reconcileTime = Timer(label: "controller_runtime_reconcile_time_seconds", dimensions: [controller], factory: factory)
            activeWorkers = Meter(label: "controller_runtime_active_workers", dimensions: [controller], factory: factory)
            Gauge(label: "controller_runtime_max_concurrent_reconciles", dimensions: [controller], factory: factory)
                .record(configuration.workers)
        }
    }
}
