import CoreMetrics
import Resilience

/// A route's request metrics. The handles are made once, when a config brings the route, never per
/// request; recording is an atomic add in the backend.
///
/// - `portcullis_gateway_requests_total{route, code}`: responses by status class (`2xx` …), the
///   gateway's own answers (problems, fallbacks) included.
/// - `portcullis_gateway_request_duration_seconds{route}`: from the request's head to the
///   response's head.
/// - `portcullis_gateway_retries_total{route}`, `portcullis_gateway_retry_budget_exhausted_total{route}`.
/// - `portcullis_gateway_circuit_breaker_transitions_total{route, to}` and
///   `portcullis_gateway_circuit_breaker_open{route}` (1 while open or half-open).
final class RouteMetrics: Sendable {
    private let responses: [Counter]
    private let duration: Timer
    private let retries: Counter
    private let budgetExhausted: Counter
    private let transitions: [Counter]
    private let breakerOpen: Gauge

    init(route: RouteKey, factory: any MetricsFactory) {
        let label = ("route", route.description)
        responses = ["1xx", "2xx", "3xx", "4xx", "5xx"].map {
            Counter(label: "portcullis_gateway_requests_total", dimensions: [label, ("code", $0)], factory: factory)
        }
        duration = Timer(label: "portcullis_gateway_request_duration_seconds", dimensions: [label], preferredDisplayUnit: .seconds, factory: factory)
        retries = Counter(label: "portcullis_gateway_retries_total", dimensions: [label], factory: factory)
        budgetExhausted = Counter(label: "portcullis_gateway_retry_budget_exhausted_total", dimensions: [label], factory: factory)
        transitions = [CircuitBreakerState.closed, .open, .halfOpen].map {
            Counter(label: "portcullis_gateway_circuit_breaker_transitions_total", dimensions: [label, ("to", $0.rawValue)], factory: factory)
        }
        breakerOpen = Gauge(label: "portcullis_gateway_circuit_breaker_open", dimensions: [label], factory: factory)
    }

    /// A response of `status` went to the client `elapsed` after the request arrived.
    func responded(status: Int, after elapsed: Duration) {
        responses[min(max(status / 100, 1), 5) - 1].increment()
        let (seconds, attoseconds) = elapsed.components
        duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A retry was admitted.
    func retried() { retries.increment() }

    /// The retry budget refused a retry.
    func retryRefusedByBudget() { budgetExhausted.increment() }

    /// The route's breaker changed state.
    func breaker(_ transition: CircuitBreakerTransition?) {
        guard let transition else { return }
        switch transition.to {
        case .closed:
            transitions[0].increment()
            breakerOpen.record(0)
        case .open:
            transitions[1].increment()
            breakerOpen.record(1)
        case .halfOpen:
            transitions[2].increment()
            breakerOpen.record(1)
        }
    }
}
