import Foundation
import Kubernetes
import PortcullisAPI
import PortcullisTestSupport
import Testing

@Suite struct ExamplesTests {
    static let files = RepositoryFiles.files(under: "examples", extensions: ["yaml", "yml"])

    @Test func thereAreExamplesForEveryKindAndAQuickstart() throws {
        var kinds = Set<String>()
        for file in Self.files {
            for document in try JSONValue.documents(yaml: String(contentsOf: file, encoding: .utf8)) {
                if let kind = document["kind"]?.stringValue { kinds.insert(kind) }
            }
        }
        #expect(kinds.isSuperset(of: ["Route", "UpstreamAuth", "Tunnel"]))
        #expect(Self.files.contains { $0.path.contains("/examples/quickstart/") })
    }

    @Test(arguments: files.map { $0.path.replacingOccurrences(of: RepositoryFiles.root.path + "/", with: "") })
    func everyExampleIsValid(file: String) throws {
        let documents = try JSONValue.documents(yaml: RepositoryFiles.text(file))
        #expect(!documents.isEmpty)
        for document in documents where document["apiVersion"]?.stringValue == PortcullisAPIGroup.apiVersion {
            let kind = try #require(document["kind"]?.stringValue)
            let type = try #require(PortcullisAPIGroup.resourceTypes.first { $0.kind == kind }, "unknown kind \(kind)")
            let name = document[path: ["metadata", "name"]]?.stringValue ?? "?"
            let schema = try #require(type.customResourceDefinition.spec.versions.first?.schema?.openAPIV3Schema)
            let result = SchemaValidator(schema: schema).validate(document)
            #expect(result.errors.map(\.description) == [], "\(file): \(kind) \(name)")
            #expect(result.unknownFields == [], "\(file): \(kind) \(name)")
            let semanticErrors = try Self.semanticErrors(of: type, in: result.value)
            #expect(semanticErrors == [], "\(file): \(kind) \(name)")
        }
    }

    static func semanticErrors<Resource: CustomResource>(of type: Resource.Type, in json: JSONValue) throws -> [String] {
        try Resource(json: json).validate().map(\.description)
    }
}
