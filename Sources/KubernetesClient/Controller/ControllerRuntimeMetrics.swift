/// What the controller runtime's metrics need from a metrics backend.
///
/// The runtime records through swift-metrics, into the handler passed to ``WorkQueue``,
/// ``Controller``, ``Informer``, ``SharedInformerFactory`` and ``LeaderElector`` (the process's
/// `MetricsSystem.factory` by default). A backend's default histogram buckets suit request latencies;
/// the runtime's timers need these instead.
public enum ControllerRuntimeMetrics {
    /// Histogram buckets for the runtime's timers, by metric name: controller-runtime's for
    /// `controller_runtime_reconcile_time_seconds` (5 ms to 60 s), and ×10 steps from 10 ns to
    /// 1000 s for `workqueue_queue_duration_seconds` and `workqueue_work_duration_seconds`, as
    /// controller-runtime's work queue metrics use. For swift-prometheus:
    /// `factory.durationHistogramBuckets = ControllerRuntimeMetrics.durationHistogramBuckets`.
    public static let durationHistogramBuckets: [String: [Duration]] = [
        "controller_runtime_reconcile_time_seconds": reconcileTimeBuckets,
        "workqueue_queue_duration_seconds": workQueueBuckets,
        "workqueue_work_duration_seconds": workQueueBuckets,
    ]

    /// controller-runtime's, in milliseconds.
    private static let reconcileTimeBuckets: [Duration] = [
        5, 10, 25, 50, 100, 150, 200, 250, 300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 1250, 1500, 1750, 2000,
        2500, 3000, 3500, 4000, 4500, 5000, 6000, 7000, 8000, 9000, 10_000, 15_000, 20_000, 25_000, 30_000, 40_000,
        50_000, 60_000,
    ].map { Duration.milliseconds($0) }

    /// 10 ns, 100 ns, … 1000 s.
    private static let workQueueBuckets: [Duration] = (0..<12).map { exponent in
        var bucket = Duration.nanoseconds(10)
        for _ in 0..<exponent { bucket *= 10 }
        return bucket
    }
}
