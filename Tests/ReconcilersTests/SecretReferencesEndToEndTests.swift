import Foundation
import Gateway
import Kubernetes
import KubernetesClient
import MetricsTestKit
import NIOSSL
import PKI
import PortcullisAPI
import PortcullisTestSupport
import Reconcilers
import Testing

/// The controller caches only Secrets labelled `portcullis.io/secret`; a reference to another Secret does not
/// resolve, and its condition says why, from one lookup by name.
@Suite struct SecretReferencesEndToEndTests {
    static let notLabelled = #"is not labelled portcullis.io/secret; label it so the controller may read it"#

    /// Sets or removes a Secret's `portcullis.io/secret` label.
    static func label(_ name: String, _ value: String?, namespace: String = "default", in installation: Installation) async throws {
        let labels: JSONValue = ["portcullis.io/secret": value.map(JSONValue.string) ?? .null]
        _ = try await installation.client.resources(.secrets, as: JSONValue.self).patch(name, namespace: namespace, .merge(["metadata": ["labels": labels]]))
    }

    @Test func anUnlabelledSecretIsNeitherCachedNorUsedAndTheConditionSaysToLabelIt() async throws {
        let installation = try await Installation(secretLookup: SecretLookupConfiguration(recheckInterval: .milliseconds(200)))
        let authority = try CertificateAuthority.generate(now: Date())
        let backend = try await HTTPSTestServer(authority: authority, maximumVersion: .tlsv13)
        func resolvedRefs() async throws -> Condition? {
            try await installation.client.resources(Route.self).get("secure", namespace: "default").status?.conditions?.first { $0.type == "ResolvedRefs" }
        }
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: backend-ca, namespace: default}
            data: {ca.crt: \(Data(try authority.trustAnchorPEM.utf8).base64EncodedString())}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: secure, namespace: default}
            spec: {upstream: {url: 'https://127.0.0.1:\(backend.port)', tls: {caSecretRef: {name: backend-ca}}}}
            """)
        try await eventually("the condition asks for the label") {
            try await resolvedRefs()?.message == #"spec.upstream.tls.caSecretRef.name: Secret "backend-ca" "# + Self.notLabelled
        }
        #expect(try await installation.get("/").status == 404, "the Route is not served: the Secret's CA was not read")
        #expect(!installation.state.describe().contains("secure"))

        // Labelled, the cache holds it: the Route is served through the CA it names.
        try await Self.label("backend-ca", SecretLabel.referenced, in: installation)
        try await eventually("served through the labelled Secret's CA") { try await installation.get("/").body == "ok" }
        #expect(try await resolvedRefs()?.status == .true)

        // The label removed, the Secret leaves the cache: the condition says so again, and the last good version serves.
        try await Self.label("backend-ca", nil, in: installation)
        try await eventually("the label is asked for again") { try await resolvedRefs()?.message.hasSuffix(Self.notLabelled) == true }
        #expect(try await installation.get("/").body == "ok")

        // Deleted: no cache sees an unlabelled Secret go; the next look finds it gone.
        try await installation.client.resources(.secrets).delete("backend-ca", namespace: "default")
        try await eventually("not found") { try await resolvedRefs()?.message == #"spec.upstream.tls.caSecretRef.name: Secret "backend-ca" not found"# }
        try await backend.stop()
        await installation.stop()
    }

    @Test func anUpstreamAuthNamingAnUnlabelledSecretSaysToLabelIt() async throws {
        let installation = try await Installation()
        let authority = try CertificateAuthority.generate(now: Date())
        let certificate = try authority.issue(.client(commonName: "team-a", duration: .seconds(3600)), now: Date())
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: client-tls, namespace: default}
            type: kubernetes.io/tls
            data: {tls.crt: \(Data(certificate.certificatePEM.utf8).base64EncodedString()), tls.key: \(Data(certificate.privateKeyPEM.utf8).base64EncodedString())}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: provided, namespace: default}
            spec: {mutualTLS: {secretRef: {name: client-tls}}}
            """)
        try await eventually("Ready=False asking for the label") {
            let ready = try await installation.condition("Ready", of: "provided")
            return ready?.reason == "RefNotResolved" && ready?.message == #"spec.mutualTLS.secretRef.name: Secret "client-tls" "# + Self.notLabelled
        }
        try await Self.label("client-tls", SecretLabel.referenced, in: installation)
        try await eventually("the certificate is used") { try await installation.condition("CredentialReady", of: "provided")?.reason == "CertificateProvided" }
        await installation.stop()
    }

    @Test func noReferenceResolvesToTheInstallationsOwnSecrets() async throws {
        let installation = try await Installation()
        let system = Installation.systemNamespace
        try await eventually("the installation CA") {
            try await installation.client.resources(CoreV1.Secret.self).get("portcullis-ca", namespace: system).metadata.labels?["portcullis.io/secret"]
                == SecretLabel.installation
        }
        // A kubernetes.io/tls Secret with the CA's key: presented as a client certificate, it would hand the CA out.
        try await installation.apply("""
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: borrowed, namespace: \(system)}
            spec: {mutualTLS: {secretRef: {name: portcullis-ca}}}
            """)
        try await eventually("Ready=False naming the installation's label") {
            let ready = try await installation.client.resources(UpstreamAuth.self).get("borrowed", namespace: system).status?.conditions?.first { $0.type == "Ready" }
            return ready?.message
                == #"spec.mutualTLS.secretRef.name: Secret "portcullis-ca" is labelled portcullis.io/secret=installation, which only the installation's own Secrets are; no reference may name it"#
        }
        await installation.stop()
    }

    @Test func issuedCertificatesAreLabelledOwnedAndASecretOfAnotherIsLeftAlone() async throws {
        let installation = try await Installation()
        try await installation.apply("""
            apiVersion: v1
            kind: Secret
            metadata: {name: theirs-client-tls, namespace: default}
            stringData: {note: not a certificate of ours}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: ours, namespace: default}
            spec: {mutualTLS: {duration: 2h}}
            ---
            apiVersion: portcullis.io/v1alpha1
            kind: UpstreamAuth
            metadata: {name: theirs, namespace: default}
            spec: {mutualTLS: {duration: 2h}}
            """)
        try await eventually("issued") { try await installation.condition("CredentialReady", of: "ours")?.reason == "CertificateIssued" }
        let secrets = installation.client.resources(CoreV1.Secret.self)
        #expect(try await secrets.get("ours-client-tls", namespace: "default").metadata.labels?[SecretLabel.key] == SecretLabel.owned)

        // A certificate Secret written before the label (here: the label removed) leaves the cache; the controller,
        // owning it, labels it again rather than failing to create it.
        try await Self.label("ours-client-tls", nil, in: installation)
        try await eventually("labelled again") { try await secrets.get("ours-client-tls", namespace: "default").metadata.labels?[SecretLabel.key] == SecretLabel.owned }
        #expect(try await installation.condition("CredentialReady", of: "ours")?.reason == "CertificateIssued")

        // A Secret of that name that is not the UpstreamAuth's is not overwritten.
        try await eventually("the conflict in status") {
            let ready = try await installation.condition("CredentialReady", of: "theirs")
            return ready?.reason == "SecretConflict"
                && ready?.message == "Secret default/theirs-client-tls exists and this UpstreamAuth does not own it, so no certificate is issued into it; delete it or rename the UpstreamAuth"
        }
        let theirs = try await secrets.get("theirs-client-tls", namespace: "default")
        #expect(theirs.data?["note"] != nil && theirs.data?["tls.crt"] == nil && theirs.metadata.ownerReferences == nil)
        await installation.stop()
    }

    /// A missing Secret is looked up once however many Routes name it (until the recheck, an hour here); a Route's
    /// spec change looks again.
    @Test func manyRoutesNamingAMissingSecretCostOneLookup() async throws {
        let metrics = TestMetrics()
        let installation = try await Installation(secretLookup: SecretLookupConfiguration(recheckInterval: .seconds(3600)), metricsFactory: metrics)
        func lookups() -> Int64 { metrics.counterTotal(label: "portcullis_secret_reference_lookups_total") }
        func route(_ index: Int, serverName: String = "a.example") -> String {
            """
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: r\(index), namespace: default}
            spec: {match: {path: {value: /r\(index)}}, upstream: {url: 'https://127.0.0.1:1', tls: {caSecretRef: {name: missing}, serverName: \(serverName)}}}
            """
        }
        func message(_ index: Int) async throws -> String? {
            try await installation.client.resources(Route.self).get("r\(index)", namespace: "default").status?.conditions?.first { $0.type == "ResolvedRefs" }?.message
        }
        try await installation.apply(route(0))
        try await eventually("the first lookup") { lookups() == 1 }
        try await installation.apply((1..<20).map { route($0) }.joined(separator: "\n---\n"))
        for index in 0..<20 {
            try await eventually("r\(index) not found") { try await message(index) == #"spec.upstream.tls.caSecretRef.name: Secret "missing" not found"# }
        }
        #expect(lookups() == 1, "twenty Routes, one GET")

        // A spec change looks again, once; the Secret created meanwhile without the label is found so.
        _ = try await installation.client.resources(.secrets, as: JSONValue.self).create(
            ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "missing", "namespace": "default"], "stringData": ["ca.crt": "x"]]
        )
        try await installation.apply(route(3, serverName: "b.example"))
        try await eventually("the changed Route's lookup") { lookups() == 2 }
        for index in 0..<20 {
            try await eventually("r\(index) asks for the label") { try await message(index)?.hasSuffix(Self.notLabelled) == true }
        }
        #expect(lookups() == 2)
        await installation.stop()
    }

    /// Lookups keep to their rate whatever asks for them, and each Secret is looked up again after the recheck
    /// interval while Routes name it, so one created without the label is noticed without any Route changing.
    @Test func lookupsKeepToTheirRateAndRecheck() async throws {
        let metrics = TestMetrics()
        let installation = try await Installation(
            secretLookup: SecretLookupConfiguration(recheckInterval: .milliseconds(300), lookupsPerSecond: 20), metricsFactory: metrics
        )
        func lookups() -> Int64 { metrics.counterTotal(label: "portcullis_secret_reference_lookups_total") }
        let routes = (0..<10).map { index in
            """
            apiVersion: portcullis.io/v1alpha1
            kind: Route
            metadata: {name: r\(index), namespace: default}
            spec: {match: {path: {value: /r\(index)}}, upstream: {url: 'https://127.0.0.1:1', tls: {caSecretRef: {name: missing-\(index)}}}}
            """
        }
        let start = ContinuousClock.now
        try await installation.apply(routes.joined(separator: "\n---\n"))
        try await eventually("ten lookups") { lookups() >= 10 }
        // Ten at 20 a second: the tenth starts at least 450 ms after the first.
        #expect(ContinuousClock.now - start >= .milliseconds(450))
        _ = try await installation.client.resources(.secrets, as: JSONValue.self).create(
            ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "missing-7", "namespace": "default"], "stringData": ["ca.crt": "x"]]
        )
        try await eventually("the recheck finds it unlabelled") {
            try await installation.client.resources(Route.self).get("r7", namespace: "default").status?.conditions?.first { $0.type == "ResolvedRefs" }?
                .message.hasSuffix(Self.notLabelled) == true
        }
        await installation.stop()
    }
}
