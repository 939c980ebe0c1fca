/// How one attempt to reach the upstream ended, as the upstream pool observed it.
///
/// The circuit breaker classifies it into success, failure or ignored
/// (``CircuitBreakerConfiguration/classify(_:)``); the retry policy decides from it whether the request
/// may be tried again (``RetryPolicy/decide(after:attempt:request:remaining:budget:now:using:)``).
///
/// The first three cases provably never reached the upstream, so repeating the request cannot repeat
/// its effect (``neverReachedUpstream``). `reset` and `timeout` may have reached it.
public enum AttemptOutcome: Sendable, Hashable {
    /// The connection (TCP, and TLS if any) could not be established; nothing was sent.
    case connectFailure
    /// An HTTP/2 upstream refused the stream (`REFUSED_STREAM`); by RFC 9113 §8.7 it did not process it.
    case refusedStream
    /// The connection was reset before any byte of the request was written.
    case resetBeforeRequest
    /// The connection or stream was reset after some of the request was written.
    case reset
    /// The attempt hit its timeout (the per-try timeout, or the rest of the request deadline).
    case timeout
    /// The upstream answered with a response head.
    ///
    /// - Parameters:
    ///   - status: The response status code.
    ///   - retryAfter: The response's `Retry-After`, parsed with ``RetryAfter/parse(_:nowSecondsSince1970:)``,
    ///     if it had one and the caller needs it (see ``RetryPolicy/wantsRetryAfter(status:)``).
    case response(status: Int, retryAfter: Duration? = nil)

    /// Whether the upstream provably never saw the request: a connect failure, a refused stream, or a
    /// reset before anything was written.
    public var neverReachedUpstream: Bool {
        switch self {
        case .connectFailure, .refusedStream, .resetBeforeRequest: true
        case .reset, .timeout, .response: false
        }
    }
}
