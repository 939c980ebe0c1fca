import Kubernetes

/// Why a Tunnel cannot be configured yet, for its `Ready` condition.
struct TunnelProblem: Error {
    var readiness: Condition.Status = .false
    var reason: String
    var message: String
}
