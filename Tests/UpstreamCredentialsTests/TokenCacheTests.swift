import AsyncHTTPClient
import CredentialFakes
import Foundation
import PKI
import Testing
@testable import UpstreamCredentials

@Suite struct TokenCacheTests {
    @Test func fiftyConcurrentColdRequestsShareOneFetchAtTheTokenEndpoint() async throws {
        let clock = ManualClock()
        let server = try await FakeOAuth2Server.start(clock: clock)
        defer { Task { await server.stop() } }
        server.setClient(.init(clientID: "gw", secret: "s3cr3t-value", methods: [.clientSecretBasic]))
        server.core.updateFaults { $0.latency = .milliseconds(200) }
        let provider = OAuth2ClientCredentialsProvider(
            configuration: try .init(tokenURL: server.tokenURL, clientID: "gw", clientAuthentication: .clientSecretBasic(ClientSecret("s3cr3t-value"))),
            signing: SharedSigningContext(),
            httpClient: .shared,
            logger: testLogger
        )
        let cache = TokenCache<String>(clock: clock, logger: testLogger)
        try await withThrowingTaskGroup(of: Token.self) { callers in
            // The callers queue before the loop starts: they must still share one fetch.
            let entry = cache.register("api", provider: provider)
            for _ in 0..<50 { callers.addTask { try await entry.token() } }
            try await withRunningCache(cache) {
                var values: Set<String> = []
                for try await token in callers { values.insert(token.value) }
                #expect(values.count == 1)
            }
        }
        #expect(server.core.requests.count == 1)
        #expect(server.issuedTokens.count == 1)
    }

    @Test func allWaitersGetTheSameError() async throws {
        let provider = ScriptedProvider([.failure(CredentialError(.invalidClient, "bad secret"))])
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            let results = await withTaskGroup(of: CredentialError.Reason?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await entry.token()
                            return nil
                        } catch let error as CredentialError {
                            return error.reason
                        } catch { return nil }
                    }
                }
                return await group.reduce(into: [CredentialError.Reason?]()) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(results.allSatisfy { $0 == .invalidClient })
        }
        #expect(provider.calls == 1)
        #expect(entry.status().consecutiveFailures == 1)
        #expect(entry.status().reason == "InvalidClient")
    }

    /// A token is written into a request header as it is, so one that would end the header line (and let the
    /// token service add headers of its own) is refused, and so is any other byte outside printable ASCII.
    @Test(arguments: ["ya29.abc\r\nX-Injected: yes", "abc\ndef", "abc\u{0}", "caf\u{e9}", ""])
    func aTokenAHeaderCannotCarryIsRefused(value: String) async throws {
        let provider = ScriptedProvider([.value(value)])
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            let error = await #expect(throws: CredentialError.self) { _ = try await entry.token() }
            #expect(error?.reason == .malformedResponse)
            #expect(error.map { "\($0)" }?.contains("X-Injected") == false, "the message names no part of the token")
        }
        #expect(entry.status().reason == "MalformedResponse")
        #expect(Token.isValidValue("ya29.a0-_~+/= with space"))
    }

    @Test func refreshesAheadOfExpiryByTheInjectedClockAndServesTheOldTokenMeanwhile() async throws {
        let clock = ManualClock()
        let provider = ScriptedProvider([.token(lifetime: .seconds(3600)), .gate(lifetime: .seconds(3600))])
        let cache = TokenCache<String>(clock: clock, logger: testLogger)
        let entry = cache.register("api", provider: provider, header: CredentialHeader(name: "X-Serverless-Authorization"))
        try await withRunningCache(cache) {
            let first = try await entry.token()
            #expect(first.value == "token-1")
            #expect(entry.currentHeaderValue(now: clock.now()) == "Bearer token-1")
            let refreshAt = try #require(entry.status().nextRefreshTime)
            // max(5 min, 20 % of 1 h) = 12 min before expiry, up to 10 % of that earlier.
            let ahead = first.expiresAt.timeIntervalSince(refreshAt)
            #expect(ahead >= 720 && ahead <= 792)
            // Just before: no fetch.
            try await eventually("the loop sleeps") { clock.sleeperCount > 0 }
            clock.advance(to: refreshAt.addingTimeInterval(-1))
            try await Task.sleep(for: .milliseconds(50))
            #expect(provider.calls == 1)
            // At refreshAt the second fetch starts and hangs at the gate; the old token is still served.
            clock.advance(to: refreshAt)
            try await eventually("the refresh started") { provider.waitingAtGate == 1 }
            #expect(entry.currentToken(now: clock.now())?.value == "token-1")
            #expect(try await entry.token().value == "token-1")
            provider.release()
            try await eventually("the new token") { entry.currentToken(now: clock.now())?.value == "token-2" }
            #expect(entry.currentHeaderValue(now: clock.now()) == "Bearer token-2")
            #expect(entry.status().lastRefreshTime == refreshAt)
        }
        #expect(provider.calls == 2)
    }

    @Test func anExpiredTokenIsNeverHandedOut() async throws {
        let clock = ManualClock()
        let denied = CredentialError(.permissionDenied, "Permission 'iam.serviceAccounts.getAccessToken' denied")
        var steps: [ScriptedProvider.Step] = [.token(lifetime: .seconds(600))]
        steps += Array(repeating: .failure(denied), count: 200)
        let provider = ScriptedProvider(steps)
        let cache = TokenCache<String>(clock: clock, logger: testLogger)
        // A fetch timeout longer than the test's span of manual time, so only the script's answers count.
        let entry = cache.register("api", provider: provider, refresh: TokenRefreshConfiguration(fetchTimeout: .seconds(7200)))
        try await withRunningCache(cache) {
            let token = try await entry.token()
            // Move time in steps past expiry, letting the failing refresh rounds run.
            while clock.now() < token.expiresAt.addingTimeInterval(10) {
                clock.advance(by: .seconds(15))
                try await Task.sleep(for: .milliseconds(5))
                if clock.now() < token.expiresAt.addingTimeInterval(-5) {
                    #expect(entry.currentToken(now: clock.now()) == token)
                }
            }
            #expect(provider.calls > 1)
            #expect(entry.currentToken(now: clock.now()) == nil)
            #expect(entry.currentHeaderValue(now: clock.now()) == nil)
            await #expect(throws: CredentialError(.permissionDenied)) { try await entry.token() }
            let status = entry.status()
            #expect(!status.ready)
            #expect(status.consecutiveFailures > 0)
            #expect(status.lastError?.description.contains("getAccessToken") == true)
        }
    }

    @Test func invalidateAfterAnUpstream401FetchesANewToken() async throws {
        let clock = ManualClock()
        let provider = ScriptedProvider([])
        let cache = TokenCache<String>(clock: clock, logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            let first = try await entry.token()
            // A 401 for a token that is no longer current changes nothing.
            entry.invalidate(token: "something-else")
            #expect(entry.currentToken(now: clock.now()) == first)
            cache.invalidate("api", token: first.value)
            let second = try await entry.token()
            #expect(second.value != first.value)
        }
        #expect(provider.calls == 2)
    }

    @Test func transientFailuresAreRetriedWithinTheRound() async throws {
        let clock = ManualClock()
        let server = try await FakeOAuth2Server.start(clock: clock)
        defer { Task { await server.stop() } }
        server.setClient(.init(clientID: "gw", secret: "pw-123456", methods: [.clientSecretPost]))
        server.core.updateFaults { faults in
            faults.failNext = 2
            faults.failureStatus = 503
        }
        let provider = OAuth2ClientCredentialsProvider(
            configuration: try .init(tokenURL: server.tokenURL, clientID: "gw", clientAuthentication: .clientSecretPost(ClientSecret("pw-123456"))),
            signing: SharedSigningContext(),
            httpClient: .shared,
            logger: testLogger
        )
        let cache = TokenCache<String>(clock: clock, logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            async let token = entry.token()
            // Two 503s, each followed by a jittered wait on the manual clock, then success.
            for attempt in 1...2 {
                try await eventually("attempt \(attempt) failed") { entry.status().consecutiveFailures == attempt }
                #expect(entry.status().lastError?.reason == .serverError)
                let wait = try #require(entry.status().nextRefreshTime).timeIntervalSince(clock.now())
                let base = 0.25 * pow(2, Double(attempt - 1))
                #expect(wait >= base / 2 - 0.001 && wait <= base + 0.001, "attempt \(attempt) waited \(wait)")
                clock.advance(by: .seconds(wait))
            }
            let value = try await token
            #expect(server.issuedTokens[value.value] == "gw")
        }
        #expect(server.core.requests.count == 3)
        #expect(entry.status().consecutiveFailures == 0)
    }

    @Test func aSlowTokenEndpointTimesOut() async throws {
        let server = try await FakeOAuth2Server.start()
        defer { Task { await server.stop() } }
        server.setClient(.init(clientID: "gw", secret: "pw-123456", methods: [.clientSecretPost]))
        server.core.updateFaults { $0.latency = .seconds(20) }
        let provider = OAuth2ClientCredentialsProvider(
            configuration: try .init(tokenURL: server.tokenURL, clientID: "gw", clientAuthentication: .clientSecretPost(ClientSecret("pw-123456"))),
            signing: SharedSigningContext(),
            httpClient: .shared,
            logger: testLogger
        )
        // Long enough that each attempt reaches the fake even on a loaded machine.
        var refresh = TokenRefreshConfiguration(fetchTimeout: .seconds(1), maxAttempts: 2)
        refresh.retryBackoff = .init(base: .milliseconds(10), max: .milliseconds(10))
        // No second round during the test.
        refresh.failureBackoff = .init(base: .seconds(600), max: .seconds(600))
        let cache = TokenCache<String>(logger: testLogger)
        let entry = cache.register("api", provider: provider, refresh: refresh)
        try await withRunningCache(cache) {
            let started = ContinuousClock.now
            await #expect(throws: CredentialError(.timeout)) { try await entry.token() }
            // Two attempts of 1 s each, not the endpoint's 20 s.
            #expect(ContinuousClock.now - started < .seconds(10))
        }
        #expect(server.core.requests.count == 2)
        #expect(entry.status().lastError?.reason == .timeout)
    }

    @Test func stoppingTheCacheFailsWaitersAndLaterRequests() async throws {
        let provider = ScriptedProvider([.gate(lifetime: .seconds(3600))])
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let entry = cache.register("api", provider: provider)
        let runner = Task { await cache.run() }
        let waiter = Task { try await entry.token() }
        try await eventually("the fetch started") { provider.waitingAtGate == 1 }
        runner.cancel()
        provider.release()
        await runner.value
        await #expect(throws: CredentialError.self) { try await waiter.value }
        await #expect(throws: CredentialError(.shutdown)) { try await entry.token() }
    }

    @Test func aCancelledWaiterLeavesTheFetchToTheOthers() async throws {
        let provider = ScriptedProvider([.gate(lifetime: .seconds(3600))])
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let entry = cache.register("api", provider: provider)
        try await withRunningCache(cache) {
            let impatient = Task { try await entry.token() }
            let patient = Task { try await entry.token() }
            try await eventually("the fetch started") { provider.waitingAtGate == 1 }
            impatient.cancel()
            await #expect(throws: CancellationError.self) { try await impatient.value }
            provider.release()
            #expect(try await patient.value.value == "token-1")
        }
        #expect(provider.calls == 1)
    }

    @Test func registeringReplacesTheEntryAndRemoveFailsItsWaiters() async throws {
        let cache = TokenCache<String>(clock: ManualClock(), logger: testLogger)
        let gated = ScriptedProvider([.gate(lifetime: .seconds(60))])
        let old = cache.register("api", provider: gated)
        try await withRunningCache(cache) {
            let waiter = Task { try await old.token() }
            try await eventually("the fetch started") { gated.waitingAtGate == 1 }
            let replacement = cache.register("api", provider: ScriptedProvider([]))
            await #expect(throws: CredentialError(.shutdown)) { try await waiter.value }
            #expect(try await replacement.token().value == "token-1")
            #expect(cache.entry(for: "api") === replacement)
            cache.remove("api")
            #expect(cache.entry(for: "api") == nil)
            await #expect(throws: CredentialError(.invalidConfiguration)) { try await cache.token(for: "api") }
            gated.release()
        }
    }
}
