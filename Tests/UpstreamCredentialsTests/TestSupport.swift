import AsyncHTTPClient
import CredentialFakes
import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import Logging
import PKI
import Synchronization
import Testing
@testable import UpstreamCredentials

/// 2026-01-01T00:00:00Z.
let referenceTime = Date(timeIntervalSince1970: 1_767_225_600)

let testLogger = Logger(label: "credentials-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Keys are slow to generate (RSA): make them once for the whole run.
enum TestKeys {
    static let es256 = try! SigningKey.generate(.es256)
    static let rs256 = try! SigningKey.generate(.rs256)
    static let edDSA = try! SigningKey.generate(.edDSA)
    static let otherRS256 = try! SigningKey.generate(.rs256)
    static let otherES256 = try! SigningKey.generate(.es256)
}

/// A provider that answers from a script, counting calls; for cache tests that need no HTTP.
final class ScriptedProvider: TokenProvider {
    enum Step: Sendable {
        case token(lifetime: Duration)
        /// A token of an hour with this value.
        case value(String)
        case failure(CredentialError)
        /// Blocks until `release()`.
        case gate(lifetime: Duration)
    }

    private struct State {
        var steps: [Step]
        var calls = 0
        var gates: [CheckedContinuation<Void, Never>] = []
        var released = 0
    }

    private let state: Mutex<State>

    init(_ steps: [Step]) { state = Mutex(State(steps: steps)) }

    var calls: Int { state.withLock { $0.calls } }

    /// Lets one gated fetch finish.
    func release() {
        let gate = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.released += 1
            return state.gates.isEmpty ? nil : state.gates.removeFirst()
        }
        gate?.resume()
    }

    var waitingAtGate: Int { state.withLock { $0.gates.count } }

    func fetch(now: Date) async throws -> Token {
        let (step, call): (Step, Int) = state.withLock { state in
            state.calls += 1
            let step = state.steps.isEmpty ? Step.token(lifetime: .seconds(3600)) : state.steps.removeFirst()
            return (step, state.calls)
        }
        switch step {
        case .token(let lifetime):
            return Token(value: "token-\(call)", expiresAt: now.addingTimeInterval(lifetime.seconds), issuedAt: now)
        case .value(let value):
            return Token(value: value, expiresAt: now.addingTimeInterval(3600), issuedAt: now)
        case .failure(let error):
            throw error
        case .gate(let lifetime):
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.released > 0 {
                        state.released -= 1
                        return true
                    }
                    state.gates.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            return Token(value: "token-\(call)", expiresAt: now.addingTimeInterval(lifetime.seconds), issuedAt: now)
        }
    }
}

extension Duration {
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}

/// Polls `condition` every 5 ms for up to `timeout` of real time.
func eventually(
    _ what: String = "condition",
    timeout: Duration = .seconds(10),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            throw CancellationError()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

@discardableResult
/// Runs `body` with `cache.run()` going in the background, then stops it.
func withRunningCache<Key, T: Sendable>(_ cache: TokenCache<Key>, _ body: () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await cache.run() }
        defer { group.cancelAll() }
        return try await body()
    }
}

/// A seeded generator for reproducible jitter.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A generator that always returns the same value (0 → u = 0, max → u = 1).
struct ConstantGenerator: RandomNumberGenerator {
    var value: UInt64
    mutating func next() -> UInt64 { value }
}

/// Claims jwt-kit decodes after checking the signature; times are checked by the tests against their own clock.
struct TestClaims: JWTPayload {
    var iss: String
    var sub: String
    var aud: AudienceClaim
    var iat: Int
    var nbf: Int?
    var exp: Int
    var jti: String?
    var email: String?
    var email_verified: Bool?
    var azp: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verifies `token`'s signature with jwt-kit against `jwksJSON` and returns its claims.
func verifiedClaims(_ token: String, jwksJSON: String) async throws -> TestClaims {
    try await JWTKeyCollection().add(jwksJSON: jwksJSON).verify(token, as: TestClaims.self)
}

/// The header of a compact JWT as a JSON object.
func jwtHeader(_ token: String) throws -> [String: Any] {
    let part = try #require(token.split(separator: ".").first)
    var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    let data = try #require(Data(base64Encoded: base64))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// POSTs a raw body to a fake and returns status and JSON.
func rawPost(
    _ url: String,
    contentType: String = "application/x-www-form-urlencoded",
    headers: [(String, String)] = [],
    body: String
) async throws -> (status: Int, json: [String: Any]) {
    var request = HTTPClientRequest(url: url)
    request.method = .POST
    request.headers.add(name: "Content-Type", value: contentType)
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(string: body))
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let bytes = try await response.body.collect(upTo: 1 << 20)
    let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any] ?? [:]
    return (Int(response.status.code), json)
}

/// Every description an error offers, for secret-hygiene assertions.
func allDescriptions(of error: any Error) -> String {
    var text = "\(error)\n\(String(reflecting: error))\n\(error.localizedDescription)"
    if let error = error as? CredentialError { text += "\n\(error.message)\n\(error.debugDescription)" }
    var dumped = ""
    dump(error, to: &dumped)
    return text + "\n" + dumped
}
