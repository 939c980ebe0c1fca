import Foundation
import Kubernetes
import Logging
import PortcullisTestSupport
import Prometheus
import Testing

@testable import KubernetesClient

@Suite struct LeaderElectionStateMachineTests {
    static let noon = Date(timeIntervalSince1970: 1_735_732_800)
    static func at(_ seconds: Double) -> MonotonicInstant {
        MonotonicInstant(offset: .milliseconds(Int64(seconds * 1000)))
    }

    static func lease(
        holder: String?,
        renew: String = "2025-01-01T11:59:59.000000Z",
        transitions: Int32 = 0,
        rv: String = "10"
    ) -> CoordinationV1.Lease {
        var lease = CoordinationV1.Lease(
            metadata: .init(name: "portcullis", namespace: "system"),
            spec: .init(
                holderIdentity: holder,
                leaseDurationSeconds: 15,
                acquireTime: "2025-01-01T11:00:00.000000Z",
                renewTime: renew,
                leaseTransitions: transitions
            )
        )
        lease.metadata.resourceVersion = rv
        return lease
    }

    @Test func createsAMissingLeaseHoldingIt() {
        var machine = LeaderElectionStateMachine(
            identity: "a",
            leaseDuration: .seconds(15),
            renewDeadline: .seconds(10)
        )
        let decision = machine.decide(lease: nil, now: .zero, wallClock: Self.noon)
        #expect(
            decision
                == .create(
                    .init(
                        holderIdentity: "a",
                        leaseDurationSeconds: 15,
                        acquireTime: "2025-01-01T12:00:00.000000Z",
                        renewTime: "2025-01-01T12:00:00.000000Z",
                        leaseTransitions: 0
                    )
                )
        )
    }

    @Test func waitsWhileAnotherHolderRenewsAndTakesOverWhenItStops() {
        var machine = LeaderElectionStateMachine(
            identity: "a",
            leaseDuration: .seconds(15),
            renewDeadline: .seconds(10)
        )
        expectEqual(
            machine.decide(lease: Self.lease(holder: "b"), now: Self.at(0), wallClock: Self.noon),
            .wait(holder: "b")
        )
        expectEqual(
            machine.decide(lease: Self.lease(holder: "b"), now: Self.at(14.9), wallClock: Self.noon),
            .wait(holder: "b")
        )
        // b renewed at 10 s: the 15 s count restarts from when a saw the change.
        let renewed = Self.lease(holder: "b", renew: "2025-01-01T12:00:09.000000Z", rv: "11")
        expectEqual(machine.decide(lease: renewed, now: Self.at(10), wallClock: Self.noon), .wait(holder: "b"))
        expectEqual(machine.decide(lease: renewed, now: Self.at(24.9), wallClock: Self.noon), .wait(holder: "b"))
        let takeover = machine.decide(lease: renewed, now: Self.at(25), wallClock: Self.noon.addingTimeInterval(25))
        #expect(
            takeover
                == .update(
                    .init(
                        holderIdentity: "a",
                        leaseDurationSeconds: 15,
                        acquireTime: "2025-01-01T12:00:25.000000Z",
                        renewTime: "2025-01-01T12:00:25.000000Z",
                        leaseTransitions: 1
                    ),
                    resourceVersion: "11"
                ),
            "a new holder bumps leaseTransitions and sets acquireTime"
        )
    }

    @Test func renewingKeepsAcquireTimeAndTransitions() {
        var machine = LeaderElectionStateMachine(
            identity: "a",
            leaseDuration: .seconds(15),
            renewDeadline: .seconds(10)
        )
        let mine = Self.lease(holder: "a", transitions: 4)
        guard case .update(let spec, let version) = machine.decide(lease: mine, now: .zero, wallClock: Self.noon) else {
            Issue.record("the holder renews")
            return
        }
        #expect(spec.acquireTime == "2025-01-01T11:00:00.000000Z")
        #expect(spec.renewTime == "2025-01-01T12:00:00.000000Z")
        #expect(spec.leaseTransitions == 4)
        #expect(version == "10")
        var written = mine
        written.spec = spec
        expectEqual(machine.written(written, now: .zero), true, "became leader")
        expectEqual(machine.written(written, now: Self.at(2)), false, "a renewal is not a new leadership")
        #expect(machine.isLeader)
    }

    @Test func leadershipEndsAtTheRenewDeadlineOnAConflictOrWhenReleased() {
        var machine = LeaderElectionStateMachine(
            identity: "a",
            leaseDuration: .seconds(15),
            renewDeadline: .seconds(10)
        )
        _ = machine.written(Self.lease(holder: "a"), now: Self.at(0))
        expectEqual(machine.checkDeadline(now: Self.at(9.9)), false)
        #expect(machine.renewDeadlineInstant == Self.at(10))
        expectEqual(machine.checkDeadline(now: Self.at(10)), true, "no renewal within 10 s: stop leading")
        #expect(!machine.isLeader)

        _ = machine.written(Self.lease(holder: "a"), now: Self.at(20))
        expectEqual(
            machine.writeFailed(conflict: false, now: Self.at(21)),
            false,
            "a failed renewal within the deadline keeps leading"
        )
        expectEqual(
            machine.writeFailed(conflict: true, now: Self.at(22)),
            true,
            "a 409 means another replica wrote: lost"
        )

        _ = machine.written(Self.lease(holder: "a", transitions: 3, rv: "40"), now: Self.at(30))
        let release = machine.release(wallClock: Self.noon)
        #expect(release?.0.holderIdentity == "")
        #expect(release?.0.leaseDurationSeconds == 1)
        #expect(release?.0.leaseTransitions == 3)
        #expect(release?.resourceVersion == "40")
        #expect(!machine.isLeader)
        let again = machine.release(wallClock: Self.noon)
        #expect(again == nil, "only a leader releases")
    }

    @Test func aReleasedLeaseIsTakenAtOnce() {
        var machine = LeaderElectionStateMachine(
            identity: "b",
            leaseDuration: .seconds(15),
            renewDeadline: .seconds(10)
        )
        guard
            case .update(let spec, _) = machine.decide(
                lease: Self.lease(holder: "", transitions: 2),
                now: .zero,
                wallClock: Self.noon
            )
        else {
            Issue.record("an empty holder is free")
            return
        }
        #expect(spec.holderIdentity == "b")
        #expect(spec.leaseTransitions == 3)
    }
}

/// Two electors against one API server, with short durations.
extension IntegrationTests {
    @Suite struct LeaderElectorTests {
        static func elector(
            _ identity: String,
            client: KubernetesClient,
            lease: Duration = .seconds(1),
            release: Bool,
            metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
        ) -> LeaderElector {
            LeaderElector(
                client: client,
                configuration: .init(
                    leaseName: "portcullis-controller",
                    namespace: "default",
                    identity: identity,
                    leaseDuration: lease,
                    renewDeadline: .milliseconds(600),
                    retryPeriod: .milliseconds(200),
                    releaseOnShutdown: release
                ),
                logger: quietLogger,
                metricsFactory: PrometheusMetricsFactory(registry: metrics)
            )
        }

        static func lease(_ client: KubernetesClient) async throws -> CoordinationV1.LeaseSpec? {
            try await client.resources(CoordinationV1.Lease.self).get("portcullis-controller", namespace: "default")
                .spec
        }

        @Test func exactlyOneLeaderThenFailoverWhenItStopsRenewing() async throws {
            try await withServer { _, client in
                let metricsA = PrometheusCollectorRegistry()
                let metricsB = PrometheusCollectorRegistry()
                let a = Self.elector("a", client: client, release: false, metrics: metricsA)
                let b = Self.elector("b", client: client, release: false, metrics: metricsB)
                func leaderGauges() -> [Double?] {
                    [metricsA, metricsB].map { PrometheusText($0.emitToString()).value("portcullis_leader") }
                }
                let updates = a.leadershipUpdates()
                let observed = Task {
                    var seen: [Bool] = []
                    for await value in updates { seen.append(value) }
                    return seen
                }
                let taskA = Task { try await a.run() }
                let taskB = Task { try await b.run() }
                await eventually { a.isLeader || b.isLeader }
                for _ in 0..<30 {
                    #expect(!(a.isLeader && b.isLeader), "never two leaders")
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(a.isLeader != b.isLeader, "exactly one leader")
                let (leader, follower, leaderTask, followerTask) =
                    a.isLeader ? (a, b, taskA, taskB) : (b, a, taskB, taskA)
                #expect(leaderGauges() == (a.isLeader ? [1, 0] : [0, 1]), "portcullis_leader is 1 on the leader only")
                let spec = try await Self.lease(client)
                #expect(spec?.holderIdentity == leader.configuration.identity)
                #expect(spec?.leaseTransitions == 0)
                #expect(spec?.leaseDurationSeconds == 1)
                #expect(
                    spec?.renewTime.map { $0.count == "2025-01-01T12:00:00.000000Z".count && $0.hasSuffix("Z") }
                        == true,
                    "MicroTime"
                )
                #expect(follower.currentHolder == leader.configuration.identity)

                let clock = ContinuousClock()
                let stopped = clock.now
                leaderTask.cancel()
                try await leaderTask.value
                #expect(!leader.isLeader)
                await eventually("the follower takes over") { follower.isLeader }
                let takeover = clock.now - stopped
                #expect(
                    takeover >= .milliseconds(700),
                    "without a release the follower waits for the lease to expire (\(takeover))"
                )
                let after = try await Self.lease(client)
                #expect(after?.holderIdentity == follower.configuration.identity)
                #expect(after?.leaseTransitions == 1)
                #expect(leaderGauges() == (follower === a ? [1, 0] : [0, 1]), "portcullis_leader follows the failover")

                followerTask.cancel()
                try await followerTask.value
                let seen = await observed.value
                // a leads either first or after the failover, and stops when its task is cancelled.
                #expect(seen == [false, true, false], "a's stream reports its leadership changes")
            }
        }

        @Test func releaseOnShutdownHandsOverFast() async throws {
            try await withServer { _, client in
                let a = Self.elector("a", client: client, lease: .seconds(30), release: true)
                let taskA = Task { try await a.run() }
                await eventually { a.isLeader }
                let b = Self.elector("b", client: client, lease: .seconds(30), release: true)
                let taskB = Task { try await b.run() }
                try await Task.sleep(for: .milliseconds(500))
                #expect(!b.isLeader)

                let clock = ContinuousClock()
                let stopped = clock.now
                taskA.cancel()
                try await taskA.value
                #expect(!a.isLeader)
                await eventually("b takes over") { b.isLeader }
                #expect(
                    clock.now - stopped < .seconds(5),
                    "a released lease is taken within a retry period, not after the 30 s lease"
                )
                let spec = try await Self.lease(client)
                #expect(spec?.holderIdentity == "b")
                #expect(spec?.leaseTransitions == 1)
                taskB.cancel()
                try await taskB.value
                #expect(try await Self.lease(client)?.holderIdentity == "", "released on shutdown")
            }
        }

        @Test func aLeaderThatCannotRenewStopsLeadingAtTheRenewDeadline() async throws {
            try await withServer { server, client in
                let a = Self.elector("a", client: client, lease: .seconds(30), release: false)
                let task = Task { try await a.run() }
                await eventually { a.isLeader }
                let clock = ContinuousClock()
                let stopped = clock.now
                await server.stop()
                await eventually("leadership ends without the API server") { !a.isLeader }
                let elapsed = clock.now - stopped
                #expect(
                    elapsed < .seconds(4),
                    "at the 600 ms renew deadline (+ slack), long before the 10 s lease (\(elapsed))"
                )
                task.cancel()
                try await task.value
            }
        }
    }
}
