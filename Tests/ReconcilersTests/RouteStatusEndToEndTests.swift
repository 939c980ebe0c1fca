import CredentialFakes
import Foundation
import Gateway
import PKI
import Kubernetes
import KubernetesClient
import PortcullisAPI
import Testing

/// What a Route's status and Events tell a user, end to end.
@Suite struct RouteStatusEndToEndTests {
    @Test func anOpenCircuitBreakerReachesStatusAndEvents() async throws {
        let installation = try await Installation()
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: flaky, namespace: default}
            spec:
              upstream: {url: 'http://127.0.0.1:1'}
              retries: {attempts: 1}
              circuitBreaker: {consecutiveFailures: 2, openDuration: 1m}
            """)
        try await eventually("the route serves") { try await installation.get("/").status == 502 }
        _ = try await installation.get("/")
        #expect(try await installation.get("/").status == 503, "the breaker opened after two failures")
        try await eventually("Open in status", timeout: .seconds(5)) {
            try await installation.client.resources(Route.self).get("flaky", namespace: "default").status?.circuitBreaker?.state == .open
        }
        let breaker = try await installation.client.resources(Route.self).get("flaky", namespace: "default").status?.circuitBreaker
        #expect(breaker?.trips == 1)
        #expect(breaker?.since != nil)

        try await eventually("the Events", timeout: .seconds(10)) {
            let events = try await installation.client.resources(CoreV1.Event.self).list(namespace: "default").items
                .filter { $0.involvedObject.name == "flaky" }
            return Set(events.compactMap(\.reason)).isSuperset(of: ["Serving", "CircuitBreakerOpen"])
        }
        await installation.stop()
    }

    @Test func aServicePortsAppProtocolReachesTheRoute() async throws {
        let installation = try await Installation()
        // kubernetes.io/h2c is HTTP/2 without TLS; a Route that asks for https to that port must say which it means.
        try await installation.apply("""
            apiVersion: v1
            kind: Service
            metadata: {name: grpc, namespace: default}
            spec:
              clusterIP: 10.96.0.42
              ports: [{name: grpc, port: 8080, protocol: TCP, appProtocol: kubernetes.io/h2c}]
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: grpc, namespace: default}
            spec:
              upstream: {service: {name: grpc, port: 8080, scheme: https}}
            """)
        let expected = #"spec.upstream.service.scheme: Service "grpc" port 8080 has appProtocol kubernetes.io/h2c (HTTP/2 without TLS), and the scheme is https; set spec.upstream.protocol to say which to speak"#
        try await eventually("ResolvedRefs=False naming the port's appProtocol") {
            let condition = try await installation.client.resources(Route.self).get("grpc", namespace: "default").status?.conditions?.first { $0.type == "ResolvedRefs" }
            return condition?.status == .false && condition?.message == expected
        }
        await installation.stop()
    }

    @Test func theGatewayServesTheCertificateOfItsTLSSecretAsItChanges() async throws {
        let authority = try CertificateAuthority.generate(now: Date())
        let first = try authority.issue(.loopbackServer(), now: Date())
        let second = try authority.issue(.loopbackServer(), now: Date())
        let tls = try GatewayTLS(certificateChainPEM: first.certificatePEM, privateKeyPEM: first.privateKeyPEM)
        let installation = try await Installation(gatewayTLS: (ObjectKey(namespace: "default", name: "gateway-tls"), tls))
        func secret(_ issued: IssuedCertificate) -> String {
            """
            apiVersion: v1
            kind: Secret
            metadata: {name: gateway-tls, namespace: default}
            type: kubernetes.io/tls
            data: {tls.crt: \(Data(issued.certificatePEM.utf8).base64EncodedString()), tls.key: \(Data(issued.privateKeyPEM.utf8).base64EncodedString())}
            """
        }
        try await installation.apply(secret(first))
        #expect(tls.certificateChainPEM == first.certificatePEM)
        try await installation.apply(secret(second))
        try await eventually("the new certificate") { tls.certificateChainPEM == second.certificatePEM }
        await installation.stop()
    }

    @Test func aChangeReachesTheRoutesThatReferToItAndNoOthers() async throws {
        let installation = try await Installation()
        let backend = try await FakeHTTPServer.start { _ in .text(200, "backend") }
        func condition(_ type: String) async throws -> Condition? {
            try await installation.client.resources(Route.self).get("api", namespace: "default").status?.conditions?.first { $0.type == type }
        }
        func service(ports: [Int]) -> String {
            """
            apiVersion: v1
            kind: Service
            metadata: {name: backend, namespace: default}
            spec: {clusterIP: 127.0.0.1, ports: [\(ports.map { "{port: \($0)}" }.joined(separator: ", "))]}
            """
        }
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: api, namespace: default}
            spec: {upstream: {service: {name: backend, port: \(backend.port)}}}
            """)
        try await eventually("the missing Service in status") { try await condition("ResolvedRefs")?.reason == "RefNotResolved" }

        // The Service appearing re-translates the Route that names it.
        try await installation.apply(service(ports: [backend.port]))
        try await eventually("the route serves") { try await installation.get("/").body == "backend" }
        try await eventually("Ready") { try await condition("Ready")?.status == .true }

        // Objects no Route names change nothing the gateway serves: no new config. (The PKI's issuer
        // documents, made at start beside the Routes, are a change of their own: wait until they are served.)
        try await eventually("the issuer's documents are served") { installation.state.describe().contains("\"issuer\"") }
        let generation = installation.state.generation
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: unrelated, namespace: default, labels: {portcullis.io/secret: referenced}}
            stringData: {key: value}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: unrelated, namespace: default}
            spec: {clusterIP: 127.0.0.2, ports: [{port: 80}]}
            """)
        try await Task.sleep(for: .seconds(1))
        #expect(installation.state.generation == generation, "a change no Route refers to rebuilt the config")

        // The Service losing the port: the Route says so and keeps serving its last good version.
        try await installation.apply(service(ports: [9]))
        try await eventually("the lost port in status") { try await condition("ResolvedRefs")?.message.contains("has no port \(backend.port)") == true }
        #expect(try await condition("Ready")?.reason == "ServingPreviousGeneration")
        #expect(try await installation.get("/").body == "backend")
        await backend.stop()
        await installation.stop()
    }
}
