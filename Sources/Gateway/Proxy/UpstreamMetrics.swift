import CoreMetrics
import Synchronization

/// The connection metrics of one upstream origin (`scheme://host:port`), shared by every event
/// loop's pool: the backend aggregates the loops' increments and decrements atomically, so the pools
/// stay lock-free. HTTP/1.1 and HTTP/2 connections to the origin are counted together.
///
/// - `portcullis_upstream_connections{upstream, state}`: open connections; `active` carries a request
///   (HTTP/1.1) or at least one stream (HTTP/2), `idle` waits in the pool.
/// - `portcullis_upstream_connects_total{upstream, result}`: connection attempts, `success` or
///   `failure` (refused, timed out, or for HTTP/2 no h2 by ALPN or no SETTINGS from the upstream).
/// - `portcullis_upstream_connection_reuses_total{upstream}`: requests sent on a connection that was
///   already open (a pooled HTTP/1.1 connection, a new stream on an open HTTP/2 connection).
/// - `portcullis_upstream_ping_timeouts_total{upstream}`: HTTP/2 connections closed as dead because
///   nothing answered a keep-alive PING.
final class UpstreamMetrics: Sendable {
    let active: Meter
    let idle: Meter
    let connected: Counter
    let connectFailed: Counter
    let reused: Counter
    let pingTimeouts: Counter

    init(upstream: String, factory: any MetricsFactory) {
        let label = ("upstream", upstream)
        active = Meter(label: "portcullis_upstream_connections", dimensions: [label, ("state", "active")], factory: factory)
        idle = Meter(label: "portcullis_upstream_connections", dimensions: [label, ("state", "idle")], factory: factory)
        connected = Counter(label: "portcullis_upstream_connects_total", dimensions: [label, ("result", "success")], factory: factory)
        connectFailed = Counter(label: "portcullis_upstream_connects_total", dimensions: [label, ("result", "failure")], factory: factory)
        reused = Counter(label: "portcullis_upstream_connection_reuses_total", dimensions: [label], factory: factory)
        pingTimeouts = Counter(label: "portcullis_upstream_ping_timeouts_total", dimensions: [label], factory: factory)
    }

    /// How a connection is counted in the `portcullis_upstream_connections` gauge.
    enum Count {
        case uncounted
        case active
        case idle
    }

    /// Moves a connection from one count to another.
    func recount(from old: Count, to new: Count) {
        guard old != new else { return }
        switch old {
        case .active: active.decrement()
        case .idle: idle.decrement()
        case .uncounted: break
        }
        switch new {
        case .active: active.increment()
        case .idle: idle.increment()
        case .uncounted: break
        }
    }
}

/// The ``UpstreamMetrics`` of every origin, made the first time any loop's pool meets the origin and
/// cached by each pool after that: the lock here is taken once per origin and loop, never per request.
final class UpstreamMetricsRegistry: Sendable {
    private let factory: any MetricsFactory
    private let handles = Mutex<[String: UpstreamMetrics]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// The metrics of `upstream` (its `scheme://host:port`).
    func metrics(for upstream: String) -> UpstreamMetrics {
        handles.withLock { handles in
            if let metrics = handles[upstream] { return metrics }
            let metrics = UpstreamMetrics(upstream: upstream, factory: factory)
            handles[upstream] = metrics
            return metrics
        }
    }
}
