import Atomics
import CoreMetrics
import Resilience

/// A route's request metrics. The handles are made once, on the route's first request (or breaker
/// transition), never per request: most of 10,000 routes may never see one, and a route's dozen
/// handles cost a few KiB in the backend. Recording is an atomic add in the backend.
///
/// - `portcullis_gateway_requests_total{route, code}`: responses by status class (`2xx` …), the
///   gateway's own answers (problems, fallbacks) included.
/// - `portcullis_gateway_request_duration_seconds{route}`: from the request's head to the
///   response's head.
/// - `portcullis_gateway_retries_total{route}`, `portcullis_gateway_retry_budget_exhausted_total{route}`.
/// - `portcullis_gateway_circuit_breaker_transitions_total{route, to}` and
///   `portcullis_gateway_circuit_breaker_open{route}` (1 while open or half-open).
final class RouteMetrics: Sendable {
    private final class Handles: Sendable {
        let responses: [Counter]
        let duration: Timer
        let retries: Counter
        let budgetExhausted: Counter
        let transitions: [Counter]
        let breakerOpen: Gauge

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
    }

    private let route: RouteKey
    private let factory: any MetricsFactory
    private let made = ManagedAtomicLazyReference<Handles>()

    init(route: RouteKey, factory: any MetricsFactory) {
        self.route = route
        self.factory = factory
    }

    /// The handles: one atomic load once made. Two threads making them at once both ask the backend,
    /// which returns the same series; one of the two objects is kept.
    private var handles: Handles {
        made.load() ?? made.storeIfNilThenLoad(Handles(route: route, factory: factory))
    }

    /// A response of `status` went to the client `elapsed` after the request arrived.
    func responded(status: Int, after elapsed: Duration) {
        let handles = self.handles
        handles.responses[min(max(status / 100, 1), 5) - 1].increment()
        let (seconds, attoseconds) = elapsed.components
        handles.duration.recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// A retry was admitted.
    func retried() { handles.retries.increment() }

    /// The retry budget refused a retry.
    func retryRefusedByBudget() { handles.budgetExhausted.increment() }

    /// The route's breaker changed state.
    func breaker(_ transition: CircuitBreakerTransition?) {
        guard let transition else { return }
        let handles = self.handles
        switch transition.to {
        case .closed:
            handles.transitions[0].increment()
            handles.breakerOpen.record(0)
        case .open:
            handles.transitions[1].increment()
            handles.breakerOpen.record(1)
        case .halfOpen:
            handles.transitions[2].increment()
            handles.breakerOpen.record(1)
        }
    }
}
