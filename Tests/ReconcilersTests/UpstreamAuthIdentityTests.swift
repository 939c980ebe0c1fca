import Foundation
import Kubernetes
import PKI
import PortcullisAPI
@testable import Reconcilers
import Testing
import UpstreamCredentials

/// What the installation signs and issues for an UpstreamAuth says its own namespace, whatever the tenant writes
/// (docs/security.md, boundary 2).
@Suite struct UpstreamAuthIdentityTests {
    static func translate(_ spec: String, namespace: String = "team-a", name: String = "api", policy: TenancyPolicy = TenancyPolicy()) throws
        -> UpstreamAuthTranslator.Outcome
    {
        let object = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: UpstreamAuth, metadata: {name: \(name), namespace: \(namespace)}, spec: \(spec)}")
        let schema = UpstreamAuth.customResourceDefinition.spec.versions[0].schema!.openAPIV3Schema
        let auth = try UpstreamAuth(json: SchemaValidator(schema: schema).validate(object).value)
        return UpstreamAuthTranslator.translate(auth, secrets: [:], policy: policy)
    }

    static func token(_ outcome: UpstreamAuthTranslator.Outcome) throws -> UpstreamCredentialConfiguration.Source {
        guard case .plan(.token(let configuration)) = outcome else {
            Issue.record("expected a token plan, got \(outcome)")
            throw CancellationError()
        }
        return configuration.source
    }

    static func certificateRequest(_ outcome: UpstreamAuthTranslator.Outcome) throws -> CertificateRequest {
        guard case .plan(.issuedCertificate(_, let request)) = outcome else {
            Issue.record("expected a certificate plan, got \(outcome)")
            throw CancellationError()
        }
        return request
    }

    static let entra = "{azureAD: {tenantID: contoso.onmicrosoft.com, clientID: 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, scope: api://x/.default"
    static let provider = "projects/123/locations/global/workloadIdentityPools/pool-a/providers/prov-a"

    @Test func everySubjectIsPrefixedWithTheUpstreamAuthsOwnNamespace() throws {
        guard case .gatewayJWT(let named) = try Self.token(Self.translate("{gatewayJWT: {subject: orders-reader}}")) else { throw CancellationError() }
        #expect(named.subject == "portcullis:team-a:orders-reader")
        guard case .gatewayJWT(let unnamed) = try Self.token(Self.translate("{gatewayJWT: {}}")) else { throw CancellationError() }
        #expect(unnamed.subject == "portcullis:team-a:api")

        guard case .entraID(let entra) = try Self.token(Self.translate(Self.entra + ", credential: {federated: {subject: ledger}}}}")),
            case .federated(let assertion) = entra.credential
        else { throw CancellationError() }
        #expect(assertion.subject == "portcullis:team-a:ledger")
        guard case .entraID(let defaulted) = try Self.token(Self.translate(Self.entra + ", credential: {federated: {}}}}")),
            case .federated(let defaultAssertion) = defaulted.credential
        else { throw CancellationError() }
        #expect(defaultAssertion.subject == "portcullis:team-a:api")

        guard case .gcpWorkloadIdentity(let gcp) = try Self.token(Self.translate("{gcpWorkloadIdentity: {provider: \(Self.provider)}}")),
            case .gatewayJWT(let subjectToken) = gcp.subjectToken
        else { throw CancellationError() }
        #expect(subjectToken.subject == "portcullis:team-a:api")

        #expect(try Self.certificateRequest(Self.translate("{mutualTLS: {}}")).commonName == "portcullis:team-a:api")
    }

    @Test func aSubjectNamingAnotherNamespaceIsInvalid() throws {
        for spec in ["{gatewayJWT: {subject: 'portcullis:team-b:api'}}", Self.entra + ", credential: {federated: {subject: 'portcullis:team-b:api'}}}}"] {
            guard case .invalid(let errors) = try Self.translate(spec) else {
                Issue.record("\(spec) was not refused")
                continue
            }
            #expect(errors.map(\.description).allSatisfy { $0.contains("subject: Invalid value: \"portcullis:team-b:api\"") }, "\(errors)")
        }
    }

    @Test func privateKeyJWTAssertionsAreSignedWithTheNamespacesKey() throws {
        let outcome = try Self.translate("{oauth2ClientCredentials: {tokenURL: 'https://login.microsoftonline.com/t/token', clientID: team-b-client, clientAuth: private_key_jwt}}")
        guard case .oauth2ClientCredentials(let oauth2) = try Self.token(outcome), case .privateKeyJWT(let assertion) = oauth2.clientAuthentication else {
            throw CancellationError()
        }
        #expect(assertion.namespace == "team-a")
        guard case .plan(let plan) = outcome else { throw CancellationError() }
        #expect(UpstreamAuthTranslator.signingAlgorithms(of: plan) == [.es256], "derived from the installation's ES256 keys")
    }

    /// One refused client certificate identity: the spec and the fields named.
    struct Refusal: Sendable, CustomTestStringConvertible {
        var spec: String
        var fields: [String]
        var testDescription: String { spec }
    }

    @Test(arguments: [
        Refusal(spec: "{dnsNames: [breaker-peer.portcullis.invalid]}", fields: ["spec.mutualTLS.dnsNames[0]"]),
        Refusal(spec: "{dnsNames: [a.example.com, orders.team-b.svc]}", fields: ["spec.mutualTLS.dnsNames[1]"]),
        Refusal(spec: "{dnsNames: [orders.team-b.svc.cluster.local, '*.team-b.svc', team-b.svc]}", fields: ["spec.mutualTLS.dnsNames[0]", "spec.mutualTLS.dnsNames[1]", "spec.mutualTLS.dnsNames[2]"]),
        Refusal(spec: "{dnsNames: ['*.svc', svc, svc.cluster.local, '*.svc.cluster.local']}", fields: ["spec.mutualTLS.dnsNames[0]", "spec.mutualTLS.dnsNames[1]", "spec.mutualTLS.dnsNames[2]", "spec.mutualTLS.dnsNames[3]"]),
        Refusal(spec: "{uris: ['spiffe://cluster.local/ns/team-b/sa/gateway']}", fields: ["spec.mutualTLS.uris[0]"]),
        Refusal(spec: "{uris: ['spiffe://other.domain/ns/team-a/sa/gateway']}", fields: ["spec.mutualTLS.uris[0]"]),
        Refusal(spec: "{uris: ['spiffe://cluster.local/ns/team-a/../team-b/sa/x', 'spiffe://cluster.local/ns/team-a-2/sa/x']}", fields: ["spec.mutualTLS.uris[0]", "spec.mutualTLS.uris[1]"]),
        Refusal(spec: "{dnsNames: [x.invalid], uris: ['spiffe://cluster.local/ns/team-a']}", fields: ["spec.mutualTLS.dnsNames[0]", "spec.mutualTLS.uris[0]"]),
    ])
    func aClientCertificateCannotNameWhatIsNotItsNamespaces(_ refusal: Refusal) throws {
        // Straight from the store (as an object written before the schema refused these): the controller refuses.
        let auth = UpstreamAuth(
            metadata: ObjectMeta(name: "api", namespace: "team-a"),
            spec: UpstreamAuthSpec(mutualTLS: try JSONValue(yaml: refusal.spec).decode(as: MutualTLS.self))
        )
        guard case .notAllowed(let reason, let errors) = UpstreamAuthTranslator.translate(auth, secrets: [:], policy: TenancyPolicy()) else {
            Issue.record("not refused: \(refusal.spec)")
            return
        }
        #expect(reason == "IdentityNotAllowed")
        #expect(errors.map(\.field) == refusal.fields, "\(errors)")
        #expect(errors.allSatisfy { $0.kind == .forbidden })
    }

    @Test func theNamespacesOwnNamesAndSPIFFEIDsAreIssued() throws {
        let request = try Self.certificateRequest(
            Self.translate(
                "{mutualTLS: {dnsNames: [gateway.team-a.svc, gateway.team-a.svc.cluster.local, team-a.svc, api.example.com, '*.svc.example.com'], uris: ['spiffe://cluster.local/ns/team-a/sa/gateway']}}"
            )
        )
        #expect(request.dnsNames == ["gateway.team-a.svc", "gateway.team-a.svc.cluster.local", "team-a.svc", "api.example.com", "*.svc.example.com"])
        #expect(request.uris == ["spiffe://cluster.local/ns/team-a/sa/gateway"])
        // The admin's trust domain.
        var policy = TenancyPolicy()
        policy.spiffeTrustDomain = "prod.example.com"
        let other = try Self.certificateRequest(Self.translate("{mutualTLS: {uris: ['spiffe://prod.example.com/ns/team-a/gateway']}}", policy: policy))
        #expect(other.uris == ["spiffe://prod.example.com/ns/team-a/gateway"])
        guard case .notAllowed = try Self.translate("{mutualTLS: {uris: ['spiffe://cluster.local/ns/team-a/gateway']}}", policy: policy) else {
            Issue.record("the default trust domain is not the admin's")
            return
        }
    }

    @Test func theRefusalNamesTheRule() throws {
        guard case .notAllowed(_, let errors) = try Self.translate("{mutualTLS: {dnsNames: [orders.team-b.svc], uris: ['spiffe://cluster.local/ns/team-b/x']}}") else {
            throw CancellationError()
        }
        #expect(errors.map(\.description) == [
            "spec.mutualTLS.dnsNames[0]: Forbidden: orders.team-b.svc: a Service name outside namespace team-a: only <service>.team-a.svc[.cluster.local] names are this namespace's",
            "spec.mutualTLS.uris[0]: Forbidden: spiffe://cluster.local/ns/team-b/x: URI SANs must be SPIFFE IDs of this namespace, spiffe://cluster.local/ns/team-a/<path>",
        ])
    }
}
