import Kubernetes
import Testing

@Suite struct JSONValueTests {
    @Test func yamlScalarsResolveAsKubernetesToolingDoes() throws {
        let value = try JSONValue(
            yaml: """
                port: 8080
                ratio: 0.5
                enabled: true
                nothing: null
                quoted: "8080"
                when: 2025-01-01T00:00:00Z
                version: 1.10.0
                """
        )
        #expect(value["port"] == .integer(8080))
        #expect(value["ratio"] == .double(0.5))
        #expect(value["enabled"] == .bool(true))
        #expect(value["nothing"] == .null)
        #expect(value["quoted"] == .string("8080"))
        #expect(value["when"] == .string("2025-01-01T00:00:00Z"))
        #expect(value["version"] == .string("1.10.0"))
    }

    @Test func multiDocumentStreamsSkipEmptyDocuments() throws {
        let documents = try JSONValue.documents(yaml: "---\na: 1\n---\n# only a comment\n---\nb: [x, y]\n")
        #expect(documents == [["a": 1], ["b": ["x", "y"]]])
    }

    @Test func malformedYAMLIsAnError() {
        #expect(throws: YAMLError.self) { try JSONValue(yaml: "a: [1, 2") }
        #expect(throws: YAMLError.self) { try JSONValue(yaml: "a: 1\n---\nb: 2\n") }
    }

    @Test func yamlRoundTripKeepsTypesAndQuotesAmbiguousStrings() throws {
        let value: JSONValue = [
            "string": "true", "number": "8080", "empty": "", "text": "line one\nline two", "integer": 7, "flag": false,
            "list": [1, "two", nil], "nested": ["key": "value"],
        ]
        let yaml = value.yamlString()
        #expect(yaml.contains("string: \"true\""))
        #expect(yaml.contains("number: \"8080\""))
        #expect(try JSONValue(yaml: yaml) == value)
    }

    @Test func descriptionIsCompactSortedJSON() throws {
        let value: JSONValue = ["b": [1, 2.5, "x\"y"], "a": .null, "c": ["d": true]]
        #expect(value.description == #"{"a":null,"b":[1,2.5,"x\"y"],"c":{"d":true}}"#)
        #expect(try JSONValue(json: value.description) == value)
    }

    @Test func subscriptsReadAndWriteMembers() {
        var value: JSONValue = ["spec": ["retries": ["attempts": 3]]]
        #expect(value[path: ["spec", "retries", "attempts"]] == 3)
        #expect(value[path: ["spec", "missing", "attempts"]] == nil)
        value["status"] = ["ready": true]
        #expect(value["status"]?["ready"] == true)
    }
}
