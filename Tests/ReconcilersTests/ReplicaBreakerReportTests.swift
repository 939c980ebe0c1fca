import Gateway
import PortcullisAPI
import Resilience
import Testing

@testable import Reconcilers

/// A replica's report of its breakers that are not Closed, as its Lease carries it, and how the leader
/// counts the reports into Route status.
@Suite struct ReplicaBreakerReportTests {
    static func key(_ name: String, _ namespace: String = "default") -> RouteKey { RouteKey(namespace: namespace, name: name) }

    @Test func theAnnotationListsOpenAndHalfOpenRoutesInOrderAndReadsBack() throws {
        let report = ReplicaBreakerReport(states: [Self.key("b"): .open, Self.key("a"): .open, Self.key("c", "shop"): .halfOpen, Self.key("d"): .closed])
        #expect(report.annotation == #"{"halfOpen":["shop/c"],"open":["default/a","default/b"]}"#)
        #expect(try ReplicaBreakerReport(annotation: report.annotation) == report)
        #expect(ReplicaBreakerReport(states: [:]).annotation == "{}")
        #expect(report.entry(Self.key("a")) == .known(.open))
        #expect(report.entry(Self.key("c", "shop")) == .known(.halfOpen))
        #expect(report.entry(Self.key("d")) == .known(.closed))
    }

    @Test func aReportTooLongIsCutInRouteOrderAndSaysWhere() throws {
        var states: [RouteKey: CircuitBreakerState] = [:]
        for index in 0..<5000 { states[Self.key("route-\(String(index + 10000))")] = .open }
        let report = ReplicaBreakerReport(states: states)
        let annotation = report.annotation
        #expect(annotation.utf8.count <= ReplicaBreakerReport.maximumBytes)
        #expect(annotation.utf8.count > ReplicaBreakerReport.maximumBytes / 2, "the room is used")
        let last = try #require(report.truncatedAfter)
        #expect(report.open.count < 5000 && report.open.contains(last))
        #expect(report.open.allSatisfy { $0 <= last }, "routes are kept in order")
        #expect(report.entry(Self.key("route-14999")) == .unknown)
        #expect(report.entry(Self.key("route-10000")) == .known(.open))
        #expect(report.entry(Self.key("a-route-before-the-cut")) == .known(.closed))
        #expect(try ReplicaBreakerReport(annotation: annotation) == report)
    }

    @Test func anUnreadableAnnotationNamesWhatIsWrong() {
        #expect(throws: ReplicaBreakerReport.Invalid(description: "open holds \"orders\", which is not namespace/name")) {
            try ReplicaBreakerReport(annotation: #"{"open":["orders"]}"#)
        }
        #expect(throws: ReplicaBreakerReport.Invalid.self) { try ReplicaBreakerReport(annotation: "Open") }
    }

    @Test func theLeaderCountsItselfAndTheOtherReplicas() {
        let orders = Self.key("orders")
        let others = [
            "b": ReplicaBreakerReport(open: [orders]),
            "c": ReplicaBreakerReport(halfOpen: [orders]),
            "d": ReplicaBreakerReport(open: [Self.key("a")], truncatedAfter: Self.key("a")),
            "e": ReplicaBreakerReport(),
        ]
        var status = CircuitBreakerStatus(state: .open)
        GatewayController.countReplicas(of: orders, leader: .open, others: others, into: &status)
        #expect(status.openReplicas == 2)
        #expect(status.halfOpenReplicas == 1)
        #expect(status.replicas == 5)
        #expect(status.unreportedReplicas == 1, "d's list ends before orders")

        var closed = CircuitBreakerStatus(state: .closed)
        GatewayController.countReplicas(of: Self.key("billing"), leader: .closed, others: ["e": ReplicaBreakerReport()], into: &closed)
        #expect(closed.openReplicas == 0 && closed.halfOpenReplicas == 0)
        #expect(closed.replicas == nil, "not written while every breaker is Closed")
        #expect(closed.unreportedReplicas == nil)
    }
}
