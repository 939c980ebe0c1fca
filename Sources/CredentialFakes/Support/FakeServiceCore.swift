import Foundation
import Synchronization

/// Failures a fake injects before its own logic runs.
public struct FakeFaults: Sendable, Hashable {
    /// Wall-clock delay before answering (real time: AsyncHTTPClient and the cache's timeout see it).
    public var latency: Duration = .zero
    /// Answer the next this many requests with ``failureStatus`` and the service's own 5xx body.
    public var failNext: Int = 0
    /// 500 by default; 503 and 429 are the other interesting ones.
    public var failureStatus: Int = 500
    /// Answer the next this many requests with 200 and a body that is not JSON.
    public var malformedNext: Int = 0

    public init() {}
}

/// What every fake shares: the request log and fault injection.
public final class FakeServiceCore: Sendable {
    private let log = Mutex<[FakeHTTPRequest]>([])
    private let faultState = Mutex(FakeFaults())

    public init() {}

    /// Every request received, oldest first.
    public var requests: [FakeHTTPRequest] { log.withLock { $0 } }

    /// Forgets the recorded requests.
    public func clearRequests() { log.withLock { $0.removeAll() } }

    /// The current fault settings.
    public var faults: FakeFaults {
        get { faultState.withLock { $0 } }
        set { faultState.withLock { $0 = newValue } }
    }

    /// Changes the fault settings in place.
    public func updateFaults(_ body: (inout FakeFaults) -> Void) { faultState.withLock { body(&$0) } }

    /// Records `request`, applies latency and injected failures, then runs `logic`.
    ///
    /// - Parameters:
    ///   - request: The request.
    ///   - failureBody: The service's own body for an injected 5xx.
    ///   - logic: The service.
    func handle(
        _ request: FakeHTTPRequest,
        failureBody: @Sendable (Int) -> FakeHTTPResponse,
        logic: @Sendable (FakeHTTPRequest) async -> FakeHTTPResponse
    ) async -> FakeHTTPResponse {
        log.withLock { $0.append(request) }
        enum Injected { case fail(Int), malformed }
        let (latency, injected): (Duration, Injected?) = faultState.withLock { faults in
            if faults.failNext > 0 {
                faults.failNext -= 1
                return (faults.latency, .fail(faults.failureStatus))
            }
            if faults.malformedNext > 0 {
                faults.malformedNext -= 1
                return (faults.latency, .malformed)
            }
            return (faults.latency, nil)
        }
        if latency > .zero { try? await Task.sleep(for: latency) }
        switch injected {
        case .fail(let status): return failureBody(status)
        case .malformed: return .text(200, "<html>not json</html>")
        case nil: return await logic(request)
        }
    }
}

/// Random identifiers for fake tokens, trace IDs and keys.
enum FakeRandom {
    static func token(prefix: String, bytes: Int = 24) -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        return prefix + String((0..<bytes).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }

    static func uuid() -> String { UUID().uuidString.lowercased() }
}
