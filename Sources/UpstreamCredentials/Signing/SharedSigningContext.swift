import Synchronization

/// The current ``SigningContext``, shared by every credential of the gateway and replaced by the controller when the
/// key ring's signing keys or the issuer change.
///
/// Reads take a `Mutex` for a struct copy; ``version`` is an atomic counter the gateway JWT cache compares per request
/// to notice a change without taking this lock.
public final class SharedSigningContext: Sendable {
    private let state: Mutex<(version: UInt64, context: SigningContext?)>
    private let atomicVersion = Atomic<UInt64>(0)

    /// - Parameter context: The initial context; `nil` until the controller has loaded the key ring (minting then
    ///   fails with ``CredentialError/Reason/signingKeyUnavailable``).
    public init(_ context: SigningContext? = nil) {
        self.state = Mutex((version: 0, context: context))
    }

    /// Replaces the context; cached gateway JWTs signed by a key that no longer signs are minted again.
    public func update(_ context: SigningContext) {
        state.withLock { state in
            state.version &+= 1
            state.context = context
            atomicVersion.store(state.version, ordering: .releasing)
        }
    }

    /// The current context, if any.
    public var current: SigningContext? { state.withLock { $0.context } }

    /// A counter that changes with every ``update(_:)``.
    var version: UInt64 { atomicVersion.load(ordering: .acquiring) }

    /// The context and its version, read together.
    func snapshot() -> (version: UInt64, context: SigningContext?) {
        state.withLock { ($0.version, $0.context) }
    }

    /// The current context.
    ///
    /// - Throws: ``CredentialError/Reason/signingKeyUnavailable`` before the first ``update(_:)``.
    func require() throws -> SigningContext {
        guard let context = current else {
            throw CredentialError(.signingKeyUnavailable, "the gateway's signing keys are not loaded yet")
        }
        return context
    }
}
