import KubernetesClient
import Metrics
import Prometheus

/// The process's metrics: one Prometheus registry as swift-metrics' backend, which the admin port
/// renders at `/metrics`.
enum ProcessMetrics {
    /// Makes a new registry the process's metrics backend, with the controller runtime's histogram
    /// buckets. Call it once per process, before anything records a metric.
    ///
    /// - Returns: What renders the registry in the Prometheus text format, for `AdminServer`.
    static func bootstrap() -> @Sendable () -> String {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = ControllerRuntimeMetrics.durationHistogramBuckets
        MetricsSystem.bootstrap(factory)
        return { registry.emitToString() }
    }
}
