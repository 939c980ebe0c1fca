import Foundation
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Synchronization

/// Why Secrets that Routes and UpstreamAuths name are not in the controller's Secret cache, which holds only Secrets
/// labelled ``SecretLabel/key``: not there at all, or there without the label (or with the installation's).
///
/// A name the cache lacks is read by name (a GET, never cached: only whether it exists and how it is labelled is
/// kept, its data is dropped at once), so the condition can say which. That happens when a Route or UpstreamAuth
/// naming it appears (unless the name has an answer already) or its spec changes, when a labelled Secret of that
/// name is deleted (gone, or its label removed), and again every ``SecretLookupConfiguration/recheckInterval`` while
/// something names it and the cache does not hold it, since a Secret created or deleted without the label reaches
/// no cache. All lookups go one at a time, at most ``SecretLookupConfiguration/lookupsPerSecond``, and only on the
/// leader (the only replica that writes conditions): 10,000 Routes naming missing Secrets cost a bounded trickle of
/// GETs, never a storm, and none per config pass.
final class SecretReferences: Sendable {
    /// What a lookup found for a Secret the cache does not hold.
    enum Finding: Sendable, Hashable {
        /// It exists without ``SecretLabel/key``.
        case unlabelled
        /// It is one of the installation's own (``SecretLabel/installation``).
        case installation
    }

    private struct Answer {
        /// `nil`: not found.
        var finding: Finding?
    }

    private let answers = Mutex<[String: [String: Answer]]>([:])
    /// When the last lookup started, to keep to the rate.
    private let lastLookup = Mutex<ContinuousClock.Instant?>(nil)

    /// Why the Secret `name` of `namespace` cannot be read, for a Secret the cache does not hold.
    func problem(namespace: String, name: String) -> String {
        Self.message(name, answers.withLock { $0[namespace]?[name]?.finding })
    }

    /// The problems of the Secrets of `namespace` that lookups found but the cache does not hold, by name.
    func problems(in namespace: String) -> [String: String] {
        let found = answers.withLock { $0[namespace] ?? [:] }
        var problems: [String: String] = [:]
        for (name, answer) in found where answer.finding != nil { problems[name] = Self.message(name, answer.finding) }
        return problems
    }

    /// Whether `key` has no answer yet.
    func needsLookUp(_ key: ObjectKey) -> Bool {
        answers.withLock { $0[key.namespace]?[key.name] == nil }
    }

    /// Waits until a lookup may start: `lookupsPerSecond` at most, whoever asks.
    func pace(lookupsPerSecond: Double) async throws {
        let clock = ContinuousClock()
        let spacing = Duration.seconds(1 / max(lookupsPerSecond, 0.001))
        let start = lastLookup.withLock { last -> ContinuousClock.Instant in
            let start = max(clock.now, (last ?? clock.now - spacing) + spacing)
            last = start
            return start
        }
        try await clock.sleep(until: start)
    }

    /// Forgets `key`: the cache holds it now, nothing names it, or it must be looked up again.
    func forget(_ key: ObjectKey) {
        answers.withLock { answers in
            answers[key.namespace]?[key.name] = nil
            if answers[key.namespace]?.isEmpty == true { answers[key.namespace] = nil }
        }
    }

    /// Records what a lookup of `key` found (`finding` `nil`: not found).
    ///
    /// - Returns: Whether that changes what a condition says.
    @discardableResult
    func record(_ key: ObjectKey, _ finding: Finding?) -> Bool {
        answers.withLock { answers in
            let before = answers[key.namespace]?[key.name]?.finding
            answers[key.namespace, default: [:]][key.name] = Answer(finding: finding)
            return before != finding
        }
    }

    /// The message for a Secret the cache does not hold.
    static func message(_ name: String, _ finding: Finding?) -> String {
        switch finding {
        case nil: "Secret \"\(name)\" not found"
        case .unlabelled?:
            "Secret \"\(name)\" is not labelled \(SecretLabel.key); label it so the controller may read it"
        case .installation?:
            "Secret \"\(name)\" is labelled \(SecretLabel.key)=\(SecretLabel.installation), which only the installation's own "
                + "Secrets are; no reference may name it"
        }
    }

    /// What a lookup finds in a Secret the cache does not hold: `nil` when it is labelled (the cache has not caught
    /// up yet, and its event will bring it).
    static func finding(for secret: CoreV1.Secret) -> Finding? {
        switch secret.metadata.labels?[SecretLabel.key] {
        case nil: .unlabelled
        case SecretLabel.installation?: .installation
        default: nil
        }
    }

    /// The Secrets `auth` names (not the certificate Secret the controller issues into).
    static func names(of auth: UpstreamAuth) -> [String] {
        [
            auth.spec.azureAD?.credential.clientSecretRef?.name,
            auth.spec.oauth2ClientCredentials?.clientSecretRef?.name,
            auth.spec.mutualTLS?.secretRef?.name,
        ]
        .compactMap { $0 }
    }

    /// The Secrets `route` names.
    static func names(of route: Route) -> [String] {
        RouteReference.all(of: route).filter { $0.kind == .secret }.map(\.name)
    }
}
