import Kubernetes
import Testing

@Suite struct SchemaValidatorTests {
    enum Keys: String, CodingKey, CaseIterable { case port, mode, name, tags, nested, labels, count, ratio, flag, portOrName }
    enum NestedKeys: String, CodingKey, CaseIterable { case port }

    static let schema: JSONSchemaProps = {
        var root = JSONSchemaProps(type: "object")
        root.properties = [
            "spec": .object(
                "A test spec.",
                keyedBy: Keys.self,
                required: [.port],
                [
                    .port: .integer("A port.", minimum: 1, maximum: 65535),
                    .mode: .string("A mode.", enum: ["basic", "bearer"], default: "basic"),
                    .name: .string("A name.", pattern: "^[a-z]+$", minLength: 2, maxLength: 5),
                    .tags: .array("Tags.", of: .string("A tag."), minItems: 1, maxItems: 2, listType: "set"),
                    .nested: .object("Nested.", keyedBy: NestedKeys.self, [.port: .integer("A port.", default: 80)]),
                    .labels: .map("Labels.", of: .string("A value.", maxLength: 3)),
                    .count: .integer("A count.", minimum: 0),
                    .ratio: {
                        var number = JSONSchemaProps(type: "number", description: "A ratio.")
                        number.maximum = 1
                        return number
                    }(),
                    .flag: .boolean("A flag."),
                    .portOrName: {
                        var schema = JSONSchemaProps(description: "A port number or name.")
                        schema.xIntOrString = true
                        return schema
                    }(),
                ]
            )
        ]
        return root
    }()

    func messages(_ spec: JSONValue) -> [String] {
        SchemaValidator(schema: Self.schema).validate(["apiVersion": "x/v1", "kind": "X", "metadata": ["name": "a"], "spec": spec])
            .errors.map(\.description)
    }

    @Test func aValidObjectHasNoErrorsAndGetsDefaults() {
        let result = SchemaValidator(schema: Self.schema).validate(["metadata": ["name": "a"], "spec": ["port": 443, "nested": [:]]])
        #expect(result.errors.isEmpty)
        #expect(result.value[path: ["spec", "mode"]] == "basic")
        #expect(result.value[path: ["spec", "nested", "port"]] == 80)
        #expect(result.value["metadata"] == ["name": "a"])
    }

    @Test func messagesAreWordedAsKubeAPIServerWordsThem() {
        #expect(messages(["port": 70000]) == ["spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535"])
        #expect(messages(["port": 0]) == ["spec.port: Invalid value: 0: spec.port in body should be greater than or equal to 1"])
        #expect(messages([:]) == ["spec.port: Required value"])
        #expect(messages(["port": "http"]) == [#"spec.port: Invalid value: "string": spec.port in body must be of type integer: "string""#])
        #expect(messages(["port": 1, "mode": "digest"]) == [#"spec.mode: Unsupported value: "digest": supported values: "basic", "bearer""#])
        #expect(messages(["port": 1, "name": "A1"]) == [#"spec.name: Invalid value: "A1": spec.name in body should match '^[a-z]+$'"#])
        #expect(messages(["port": 1, "name": "abcdef"]) == ["spec.name: Too long: may not be longer than 5"])
        #expect(
            messages(["port": 1, "name": "a"]) == [#"spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long"#]
        )
        #expect(messages(["port": 1, "tags": ["a", "b", "c"]]) == ["spec.tags: Too many: 3: must have at most 2 items"])
        #expect(messages(["port": 1, "tags": []]) == ["spec.tags: Invalid value: []: spec.tags in body should have at least 1 items"])
        #expect(messages(["port": 1, "tags": ["a", "a"]]) == [#"spec.tags[1]: Duplicate value: "a""#])
        #expect(messages(["port": 1, "labels": ["k": "long"]]) == ["spec.labels[k]: Too long: may not be longer than 3"])
        #expect(messages(["port": 1, "ratio": 1.5]) == ["spec.ratio: Invalid value: 1.5: spec.ratio in body should be less than or equal to 1"])
        #expect(messages(["port": 1, "flag": "yes"]) == [#"spec.flag: Invalid value: "string": spec.flag in body must be of type boolean: "string""#])
        #expect(messages(["port": 1, "count": nil]) == [#"spec.count: Invalid value: "null": spec.count in body must be of type integer: "null""#])
    }

    @Test func everyViolationIsCollectedInFieldOrder() {
        #expect(
            messages(["mode": "x", "name": "Z", "count": -1])
                == [
                    "spec.count: Invalid value: -1: spec.count in body should be greater than or equal to 0",
                    #"spec.mode: Unsupported value: "x": supported values: "basic", "bearer""#,
                    #"spec.name: Invalid value: "Z": spec.name in body should be at least 2 chars long"#,
                    #"spec.name: Invalid value: "Z": spec.name in body should match '^[a-z]+$'"#,
                    "spec.port: Required value",
                ]
        )
    }

    @Test func intOrStringAcceptsBothAndNothingElse() {
        #expect(messages(["port": 1, "portOrName": 8080]).isEmpty)
        #expect(messages(["port": 1, "portOrName": "http"]).isEmpty)
        #expect(
            messages(["port": 1, "portOrName": true])
                == [#"spec.portOrName: Invalid value: "boolean": spec.portOrName in body must be of type integer,string: "boolean""#]
        )
    }

    @Test func unknownFieldsArePrunedAndReported() {
        let result = SchemaValidator(schema: Self.schema).validate(["spec": ["port": 1, "bogus": 1, "nested": ["extra": true]], "other": 1])
        #expect(result.unknownFields == ["other", "spec.bogus", "spec.nested.extra"])
        #expect(result.value == ["spec": ["port": 1, "mode": "basic", "nested": ["port": 80]]])
    }

    @Test func preserveUnknownFieldsKeepsThem() {
        var schema = JSONSchemaProps(type: "object")
        var free = JSONSchemaProps(type: "object")
        free.xPreserveUnknownFields = true
        schema.properties = ["data": free]
        let result = SchemaValidator(schema: schema).validate(["data": ["anything": [1, 2]]])
        #expect(result.unknownFields.isEmpty)
        #expect(result.value == ["data": ["anything": [1, 2]]])
    }

    @Test func fieldErrorsCarryTheirKubernetesReason() {
        let error = FieldError(.notSupported, field: "spec.mode", value: "x", detail: #"supported values: "a""#)
        #expect(error.kind.rawValue == "FieldValueNotSupported")
        #expect(error.message == #"Unsupported value: "x": supported values: "a""#)
        #expect(FieldError(.forbidden, field: "spec.a", value: "secret", detail: "no").message == "Forbidden: no")
    }
}
