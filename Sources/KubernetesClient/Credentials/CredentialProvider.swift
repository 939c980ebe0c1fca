import Foundation
import Synchronization

/// Supplies the credential of every request: a fixed token, a token file re-read at most every
/// `rereadInterval` and after a 401, or an exec plugin re-run when its credential expires or is
/// rejected. Concurrent requests share one read or one plugin run.
final class CredentialProvider: Sendable {
    private typealias Machine = CredentialCacheStateMachine<
        Credential, ContinuousClock.Instant, CheckedContinuation<Credential?, any Error>
    >

    private let authentication: KubernetesClient.Configuration.Authentication
    private let staticIdentity: Credential
    private let machine = Mutex(Machine())
    private let clock = ContinuousClock()

    init(configuration: KubernetesClient.Configuration) {
        self.authentication = configuration.authentication
        var identity = Credential()
        if case .bearerToken(let token) = configuration.authentication { identity.bearerToken = token }
        self.staticIdentity = identity
    }

    /// Whether a 401 may be cured by fetching the credential again.
    var isRefreshable: Bool {
        switch authentication {
        case .tokenFile, .exec: return true
        case .none, .bearerToken: return false
        }
    }

    /// The credential to send now.
    func current() async throws -> Credential {
        guard isRefreshable else { return staticIdentity }
        while true {
            let action = machine.withLock { $0.acquire(now: clock.now) }
            switch action {
            case .use(let credential):
                return credential
            case .fetch:
                do {
                    let (credential, refreshAt) = try await fetch()
                    let waiters = machine.withLock { $0.succeeded(credential, refreshAt: refreshAt) }
                    for waiter in waiters { waiter.resume(returning: credential) }
                    return credential
                } catch {
                    let waiters = machine.withLock { $0.failed() }
                    for waiter in waiters { waiter.resume(throwing: error) }
                    throw error
                }
            case .wait:
                let credential: Credential? = try await withCheckedThrowingContinuation { continuation in
                    let queued = machine.withLock { $0.enqueue(continuation) }
                    if !queued { continuation.resume(returning: nil) }
                }
                if let credential { return credential }
            }
        }
    }

    /// The server answered 401 to a request made with `credential`.
    func invalidate(_ credential: Credential) {
        machine.withLock { $0.invalidate(credential) }
    }

    private func fetch() async throws -> (Credential, ContinuousClock.Instant?) {
        switch authentication {
        case .none, .bearerToken:
            return (staticIdentity, nil)
        case .tokenFile(let path, let interval):
            let text = try Kubeconfig.readFile(path, what: "token file")
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else {
                throw ConfigurationError(.invalidField, "token file: \(path) is empty")
            }
            return (Credential(bearerToken: token), clock.now.advanced(by: interval))
        case .exec(let configuration):
            let credential = try await ExecCredentialPlugin.run(configuration)
            let refreshAt = credential.expiration.map { expiration in
                let remaining = expiration.timeIntervalSinceNow
                return clock.now.advanced(by: .milliseconds(Int64(max(0, remaining) * 1000)))
            }
            return (credential, refreshAt)
        }
    }
}
