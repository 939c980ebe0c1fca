import Kubernetes
import PortcullisAPI
import PortcullisTestSupport
import Testing

@Suite struct CustomResourceDefinitionTests {
    static let types: [any CustomResource.Type] = PortcullisAPIGroup.resourceTypes

    @Test(arguments: PortcullisAPIGroup.resourceTypes.map { $0.kind })
    func committedCRDsMatchTheSwiftTypes(kind: String) throws {
        let type = try #require(Self.types.first { $0.kind == kind })
        let file = "crds/" + PortcullisAPIGroup.crdFileName(for: type)
        let committed = try RepositoryFiles.text(file)
        #expect(
            committed == PortcullisAPIGroup.crdYAML(for: type),
            "\(file) is out of date: run `swift run portcullis crds --output-dir crds`"
        )
    }

    @Test(arguments: PortcullisAPIGroup.resourceTypes.map { $0.kind })
    func committedCRDsDecodeBackToTheGeneratedDefinition(kind: String) throws {
        let type = try #require(Self.types.first { $0.kind == kind })
        let yaml = try RepositoryFiles.text("crds/" + PortcullisAPIGroup.crdFileName(for: type))
        let decoded = try JSONValue(yaml: yaml).decode(as: CustomResourceDefinition.self)
        #expect(decoded == type.customResourceDefinition)
    }

    @Test(arguments: PortcullisAPIGroup.resourceTypes.map { $0.kind })
    func everyFieldIsDescribedTypedAndDefaultedValidly(kind: String) throws {
        let type = try #require(Self.types.first { $0.kind == kind })
        let schema = try #require(type.customResourceDefinition.spec.versions.first?.schema?.openAPIV3Schema)
        var problems: [String] = []
        func walk(_ schema: JSONSchemaProps, _ path: String) {
            if schema.description?.isEmpty ?? true { problems.append("\(path): no description") }
            if schema.type == nil && schema.xIntOrString != true { problems.append("\(path): no type (not structural)") }
            if let defaultValue = schema.default {
                let result = SchemaValidator(schema: schema).validate(defaultValue)
                if !result.errors.isEmpty { problems.append("\(path): default \(defaultValue) is invalid: \(result.errors)") }
            }
            if schema.xListType == "map" {
                for key in schema.xListMapKeys ?? [] where !(schema.items?.required ?? []).contains(key) {
                    problems.append("\(path): list-map key \(key) must be required")
                }
            }
            for (name, property) in schema.properties ?? [:] {
                if !(property.required ?? []).allSatisfy({ property.properties?[$0] != nil }) {
                    problems.append("\(path).\(name): requires a field it does not declare")
                }
                walk(property, "\(path).\(name)")
            }
            if let items = schema.items { walk(items, "\(path)[]") }
            if let values = schema.additionalProperties { walk(values, "\(path){}") }
        }
        walk(schema, kind)
        #expect(problems == [])
    }

    @Test(arguments: PortcullisAPIGroup.resourceTypes.map { $0.kind })
    func printerColumnsPointAtDeclaredFields(kind: String) throws {
        let type = try #require(Self.types.first { $0.kind == kind })
        let version = try #require(type.customResourceDefinition.spec.versions.first)
        let schema = try #require(version.schema?.openAPIV3Schema)
        for column in version.additionalPrinterColumns ?? [] {
            var node: JSONSchemaProps? = schema
            let path = column.jsonPath.replacing(/\[\?\(.*\)\]/, with: "")
            for segment in path.split(separator: ".") {
                if segment == "metadata" { node = nil; break }
                node = node?.properties?[String(segment)] ?? node?.items?.properties?[String(segment)]
                #expect(node != nil, "\(kind) column \(column.name): \(column.jsonPath) names no field")
            }
        }
    }

    /// Values the gateway cannot use are refused when applied, naming the field.
    @Test(arguments: [
        ("Route", "{upstream: {url: 'http://b'}, maxRequestBodyBytes: 0}", "spec.maxRequestBodyBytes"),
        ("Route", "{upstream: {url: 'http://b'}, fallback: {response: {contentType: \"text/plain\\r\\nX-Injected: yes\", body: x}}}", "spec.fallback.response.contentType"),
        ("UpstreamAuth", "{gatewayJWT: {}, header: {name: Authorization, prefix: \"Bearer\\nX-Injected: \"}}", "spec.header.prefix"),
    ])
    func theSchemaRefusesWhatTheGatewayCannotUse(kind: String, spec: String, field: String) throws {
        let type = try #require(Self.types.first { $0.kind == kind })
        let schema = try #require(type.customResourceDefinition.spec.versions.first?.schema?.openAPIV3Schema)
        let document = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: \(kind), metadata: {name: a, namespace: d}, spec: \(spec)}")
        let errors = SchemaValidator(schema: schema).validate(document).errors.map { "\($0)" }
        #expect(errors.count == 1 && errors.allSatisfy { $0.hasPrefix(field + ":") }, "\(errors)")
    }

    /// Identities that are not the namespace's to claim are refused when applied (a real cluster and the
    /// embedded API server answer 422), naming the field.
    @Test(arguments: [
        ("{gatewayJWT: {subject: 'portcullis:other-team:api'}}", "spec.gatewayJWT.subject"),
        ("{gatewayJWT: {issuer: 'https://gw.example.com'}}", "spec.gatewayJWT.issuer"),
        ("{azureAD: {tenantID: contoso.onmicrosoft.com, clientID: 0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d, scope: api://x/.default, credential: {federated: {subject: 'portcullis:finance:ledger'}}}}", "spec.azureAD.credential.federated.subject"),
        ("{mutualTLS: {dnsNames: [breaker-peer.portcullis.invalid]}}", "spec.mutualTLS.dnsNames[0]"),
        ("{mutualTLS: {dnsNames: [a.example.com, '*.invalid']}}", "spec.mutualTLS.dnsNames[1]"),
        ("{mutualTLS: {dnsNames: [invalid]}}", "spec.mutualTLS.dnsNames[0]"),
        ("{mutualTLS: {uris: ['https://example.com/gateway']}}", "spec.mutualTLS.uris[0]"),
        ("{mutualTLS: {uris: ['spiffe://cluster.local/sa/gateway']}}", "spec.mutualTLS.uris[0]"),
    ])
    func theSchemaRefusesIdentitiesOfOthers(spec: String, field: String) throws {
        let type = try #require(Self.types.first { $0.kind == "UpstreamAuth" })
        let schema = try #require(type.customResourceDefinition.spec.versions.first?.schema?.openAPIV3Schema)
        let document = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: UpstreamAuth, metadata: {name: a, namespace: d}, spec: \(spec)}")
        let result = SchemaValidator(schema: schema).validate(document)
        let problems = result.errors.map { "\($0)" } + result.unknownFields
        #expect(problems.count == 1 && problems.allSatisfy { $0.hasPrefix(field) }, "\(problems)")
    }

    /// Only the last label decides: `invalid` there is refused, anything else (longer, shorter, differing in one
    /// place, or `invalid` further left) is a DNS name like any other.
    @Test func theClientCertificateDNSNamePatternRefusesOnlyTheInvalidTopLevelDomain() throws {
        let type = try #require(Self.types.first { $0.kind == "UpstreamAuth" })
        let schema = try #require(type.customResourceDefinition.spec.versions.first?.schema?.openAPIV3Schema)
        func errors(_ name: String) throws -> [FieldError] {
            let document = try JSONValue(yaml: "{apiVersion: portcullis.io/v1alpha1, kind: UpstreamAuth, metadata: {name: a, namespace: d}, spec: {mutualTLS: {dnsNames: ['\(name)']}}}")
            return SchemaValidator(schema: schema).validate(document).errors
        }
        for refused in ["invalid", "x.invalid", "*.invalid", "breaker-peer.portcullis.invalid", "a.b.c.invalid", "Gateway.shop.svc", "-a.example", ""] {
            #expect(try !errors(refused).isEmpty, "\(refused)")
        }
        let allowed = [
            "gateway.shop.svc", "*.example.com", "invalid.example.com", "a", "invali", "invalidx", "invalic", "xnvalid", "inv-lid",
            "invalld", "in", "i", "invalid0", "0nvalid", "x.invalid-domain", "x.nvalid", "x.in-valid",
        ]
        for name in allowed { #expect(try errors(name).isEmpty, "\(name)") }
    }

    @Test func namesFollowKubernetesConventions() {
        for type in Self.types {
            let crd = type.customResourceDefinition
            #expect(crd.metadata.name == "\(type.plural).portcullis.io")
            #expect(crd.spec.names.singular == type.kind.lowercased())
            #expect(crd.spec.names.categories == ["portcullis"])
            #expect(crd.spec.scope == "Namespaced")
            #expect(crd.spec.versions.first?.subresources?.status == [:])
        }
    }
}
