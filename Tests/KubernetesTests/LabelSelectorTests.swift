import Kubernetes
import Testing

@Suite struct LabelSelectorTests {
    static let nameRegexHint =
        "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let valueRegexHint =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

    @Test(arguments: [
        ("app=web", "app=web"), ("app==web", "app==web"), ("app!=web", "app!=web"), ("app", "app"), ("!app", "!app"),
        ("app in (b,a)", "app in (a,b)"), ("app notin (a)", "app notin (a)"), ("n>5", "n>5"), ("n<5", "n<5"),
        ("  tier in ( front , back ) ,  !legacy , app = web , env  ", "app=web,env,!legacy,tier in (back,front)"),
        ("a in (,b)", "a in (,b)"), ("a in ()", "a in ()"), ("a=", "a="), ("in=notin", "in=notin"),
        ("app.kubernetes.io/name=web", "app.kubernetes.io/name=web"), ("a in (b,b,a)", "a in (a,b)"), ("", ""),
        ("   ", ""),
    ])
    func parsesAndPrintsTheStringSyntax(text: String, normalized: String) throws {
        let selector = try LabelSelector(parsing: text)
        #expect(selector.description == normalized)
        #expect(try LabelSelector(parsing: normalized) == selector)
    }

    @Test func parsesIntoRequirements() throws {
        let selector = try LabelSelector(parsing: "tier in (front,back),!legacy")
        #expect(selector.requirements.map(\.key) == ["legacy", "tier"])
        #expect(selector.requirements.map(\.operator) == [.doesNotExist, .in])
        #expect(selector.requirements.map(\.values) == [[], ["back", "front"]])
    }

    @Test(
        arguments: [
            ("app=web", ["app": "web"], true), ("app=web", ["app": "api"], false), ("app=web", [:], false),
            ("app==web", ["app": "web"], true), ("app!=web", [:], true), ("app!=web", ["app": "api"], true),
            ("app!=web", ["app": "web"], false), ("app in (a,b)", ["app": "b"], true),
            ("app in (a,b)", ["app": "c"], false),
            ("app in (a,b)", [:], false), ("app notin (a,b)", [:], true), ("app notin (a,b)", ["app": "a"], false),
            ("app notin (a,b)", ["app": "c"], true), ("app", ["app": ""], true), ("app", [:], false),
            ("!app", [:], true),
            ("!app", ["app": "x"], false), ("n>5", ["n": "6"], true), ("n>5", ["n": "5"], false),
            ("n>5", ["n": "x"], false),
            ("n>5", [:], false), ("n<5", ["n": "-1"], true), ("n<5", ["n": "5"], false), ("a=", ["a": ""], true),
            ("a=", [:], false), ("a in (,b)", ["a": ""], true), ("app=web,tier", ["app": "web"], false),
            ("app=web,tier", ["app": "web", "tier": "x"], true), ("", ["anything": "x"], true),
        ] as [(String, [String: String], Bool)]
    )
    func matchesLabels(selector: String, labels: [String: String], expected: Bool) throws {
        #expect(try LabelSelector(parsing: selector).matches(labels) == expected)
    }

    @Test(arguments: [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a,", "found '', expected: identifier after ','"),
        ("a,,b", "found ',', expected: identifier after ','"),
        ("=b", "found '=', expected: !, identifier, or 'end of string'"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("!a=b", "found '=', expected: ',' or 'end of string'"),
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a in b", "unable to parse requirement: found 'b' expected: '('"),
        ("a=(b)", "unable to parse requirement: found '(', expected: identifier"),
        ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
        ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
        ("!(a)", "unable to parse requirement: found '(', expected: identifier"),
        ("-a=b", "unable to parse requirement: key: Invalid value: \"-a\": name part " + nameRegexHint),
        ("a=b$", "unable to parse requirement: values[0][a]: Invalid value: \"b$\": " + valueRegexHint),
        ("a in (ok,-x-)", "unable to parse requirement: values[1][a]: Invalid value: \"-x-\": " + valueRegexHint),
        (
            "x>a",
            "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer"
        ),
        ("/a", "unable to parse requirement: key: Invalid value: \"/a\": prefix part must be non-empty"),
    ])
    func parseErrorsUseKubernetesWording(text: String, message: String) {
        let error = #expect(throws: SelectorError.self) { try LabelSelector(parsing: text) }
        #expect(error?.message == message)
        #expect(error?.code == .invalidSelector)
        #expect(error?.httpStatusCode == 400)
    }

    @Test func labelKeysAreQualifiedNames() {
        #expect(LabelValidation.qualifiedNameErrors("app.kubernetes.io/name") == [])
        #expect(LabelValidation.qualifiedNameErrors("A_b.c-9") == [])
        #expect(LabelValidation.qualifiedNameErrors(String(repeating: "a", count: 63)) == [])
        #expect(
            LabelValidation.qualifiedNameErrors(String(repeating: "a", count: 64)) == [
                "name part must be no more than 63 characters"
            ]
        )
        #expect(
            LabelValidation.qualifiedNameErrors("") == [
                "name part must be non-empty", "name part " + LabelSelectorTests.nameRegexHint,
            ]
        )
        #expect(
            LabelValidation.qualifiedNameErrors("a/") == [
                "name part must be non-empty", "name part " + LabelSelectorTests.nameRegexHint,
            ]
        )
        #expect(
            LabelValidation.qualifiedNameErrors("a/b/c") == [
                "a qualified name " + LabelSelectorTests.nameRegexHint
                    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ]
        )
        #expect(
            LabelValidation.qualifiedNameErrors("Example.com/a") == [
                #"prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#
            ]
        )
        let longPrefix = Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: ".")  // 255 bytes
        #expect(
            LabelValidation.qualifiedNameErrors(longPrefix + "/a") == [
                "prefix part must be no more than 253 characters"
            ]
        )
        #expect(LabelValidation.dns1123SubdomainErrors("a.b-c.d") == [])
        #expect(LabelValidation.dns1123SubdomainErrors("a..b").count == 1)
        #expect(LabelValidation.dns1123SubdomainErrors("a-.b").count == 1)
    }

    @Test func labelValuesMayBeEmptyAndAtMost63Characters() {
        #expect(LabelValidation.labelValueErrors("") == [])
        #expect(LabelValidation.labelValueErrors("v1.2_3-x") == [])
        #expect(
            LabelValidation.labelValueErrors(String(repeating: "v", count: 64)) == [
                "must be no more than 63 characters"
            ]
        )
        #expect(LabelValidation.labelValueErrors("_x") == [LabelSelectorTests.valueRegexHint])
        #expect(LabelValidation.labelValueErrors("é") == [LabelSelectorTests.valueRegexHint])
    }

    @Test func readsTheStructuredForm() throws {
        let selector = try LabelSelector(
            structured: try JSONValue(
                json:
                    #"{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["b","a"]},{"key":"legacy","operator":"DoesNotExist"},{"key":"env","operator":"NotIn","values":["dev"]},{"key":"team","operator":"Exists","values":null}]}"#
            )
        )
        #expect(selector.description == "app=web,env notin (dev),!legacy,team,tier in (a,b)")
        #expect(selector.matches(["app": "web", "tier": "a", "team": "x"]))
        #expect(!selector.matches(["app": "web", "tier": "a", "team": "x", "legacy": "1"]))
        #expect(!selector.matches(["app": "web", "tier": "a", "team": "x", "env": "dev"]))
    }

    @Test func aNullStructuredSelectorSelectsNothingAndAnEmptyOneEverything() throws {
        let nothing = try LabelSelector(structured: nil)
        #expect(nothing == .nothing)
        #expect(!nothing.matches([:]))
        #expect(!nothing.isEverything)
        let everything = try LabelSelector(structured: [:])
        #expect(everything == .everything)
        #expect(everything.isEverything)
        #expect(everything.matches(["a": "b"]))
        #expect(try LabelSelector(structured: ["matchLabels": [:], "matchExpressions": []]).isEverything)
    }

    @Test(arguments: [
        (#"{"matchExpressions":[{"key":"a","operator":"Foo"}]}"#, #""Foo" is not a valid label selector operator"#),
        (
            #"{"matchExpressions":[{"key":"a","operator":"In","values":[]}]}"#,
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        ),
        (
            #"{"matchExpressions":[{"key":"a","operator":"Exists","values":["x","y"]}]}"#,
            #"values: Invalid value: []string{"x", "y"}: values set must be empty for exists and does not exist"#
        ),
        (
            #"{"matchExpressions":[{"key":"-a","operator":"In"}]}"#,
            #"[key: Invalid value: "-a": name part "# + nameRegexHint
                + ", values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty]"
        ),
        (#"{"matchLabels":{"a":"b c"}}"#, #"values[0][a]: Invalid value: "b c": "# + valueRegexHint),
        (#"{"matchLabels":{"a":1}}"#, "matchLabels[a] must be a string, not integer"),
        (#"{"matchLabels":["a"]}"#, "matchLabels must be an object, not array"),
        (#"{"matchExpressions":{}}"#, "matchExpressions must be an array, not object"),
        (#"{"matchExpressions":[{"operator":"In"}]}"#, "matchExpressions[0].key must be a string"),
        (
            #"{"matchExpressions":[{"key":"a","operator":"In","values":"x"}]}"#,
            "matchExpressions[0].values must be an array of strings"
        ),
        (#""app=web""#, "a label selector must be an object, not string"),
    ])
    func structuredFormErrors(json: String, message: String) throws {
        let value = try JSONValue(json: json)
        let error = #expect(throws: SelectorError.self) { try LabelSelector(structured: value) }
        #expect(error?.message == message)
    }

    @Test func buildsFromMatchLabels() throws {
        let selector = try LabelSelector(matchLabels: ["b": "2", "a": "1"])
        #expect(selector.description == "a=1,b=2")
        #expect(selector.matches(["a": "1", "b": "2", "c": "3"]))
        #expect(!selector.matches(["a": "1"]))
        #expect(throws: SelectorError.self) { try LabelSelector(matchLabels: ["a": "not valid"]) }
    }
}

@Suite struct FieldSelectorTests {
    @Test(arguments: [
        ("metadata.name=web", "metadata.name=web"), ("metadata.name==web", "metadata.name=web"),
        ("metadata.name!=web", "metadata.name!=web"),
        (
            "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Route",
            "involvedObject.kind=Route,involvedObject.name=web,involvedObject.namespace=default"
        ),
        (#"a=x\,y\=z\\"#, #"a=x\,y\=z\\"#), ("a=", "a="), ("", ""), ("a=b,,c=d", "a=b,c=d"),
    ])
    func parsesAndPrints(text: String, normalized: String) throws {
        let selector = try FieldSelector(parsing: text)
        #expect(selector.description == normalized)
        #expect(try FieldSelector(parsing: normalized) == selector)
    }

    @Test func unescapesValues() throws {
        let selector = try FieldSelector(parsing: #"a=x\,y\=z\\,b!=c"#)
        #expect(
            selector.requirements == [
                .init(field: "a", isEqual: true, value: #"x,y=z\"#), .init(field: "b", isEqual: false, value: "c"),
            ]
        )
        #expect(selector.fields == ["a", "b"])
        #expect(FieldSelector.escape(#"x,y=z\"#) == #"x\,y\=z\\"#)
    }

    @Test(arguments: [
        ("a", "invalid selector: 'a'; can't understand 'a'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: ="),
        (#"a=b\x"#, #"invalid field selector: invalid escape sequence: \x"#),
        (#"a=b\"#, #"invalid field selector: invalid escape sequence: \"#),
    ])
    func parseErrors(text: String, message: String) {
        let error = #expect(throws: SelectorError.self) { try FieldSelector(parsing: text) }
        #expect(error?.message == message)
        #expect(error?.code == .invalidSelector)
    }

    @Test func matchesThroughAFieldFunction() throws {
        let selector = try FieldSelector(parsing: "metadata.name=web,metadata.namespace!=kube-system")
        let values = ["metadata.name": "web", "metadata.namespace": "default"]
        #expect(selector.matches { values[$0] })
        #expect(!selector.matches { ["metadata.name": "api"][$0] })
        #expect(selector.matches { ["metadata.name": "web"][$0] })
        #expect(try FieldSelector(parsing: "metadata.namespace=").matches { _ in nil })
        #expect(FieldSelector.everything.matches { _ in nil })
        #expect(selector.requiredValue(of: "metadata.name") == "web")
        #expect(selector.requiredValue(of: "metadata.namespace") == nil)
    }

    @Test func unsupportedFieldsAreRejected() throws {
        let selector = try FieldSelector(parsing: "metadata.name=web,spec.host=x")
        let error = #expect(throws: SelectorError.self) { try selector.validate(against: .objectMeta) }
        #expect(error?.message == "field label not supported: spec.host")
        #expect(error?.code == .unsupportedField)
        #expect(throws: Never.self) {
            try FieldSelector(parsing: "metadata.namespace=a").validate(against: .objectMeta)
        }
        #expect(throws: Never.self) {
            try selector.validate(against: SelectableFields.objectMeta.adding(jsonPaths: [".spec.host"]))
        }
    }

    @Test func coreEventsAreSelectableByTheirInvolvedObject() throws {
        let fields = SelectableFields.builtIn(group: "", kind: "Event")
        #expect(
            fields.names == [
                "involvedObject.apiVersion", "involvedObject.fieldPath", "involvedObject.kind", "involvedObject.name",
                "involvedObject.namespace", "involvedObject.resourceVersion", "involvedObject.uid", "metadata.name",
                "metadata.namespace", "reason", "reportingComponent", "source", "type",
            ]
        )
        let event: JSONValue = [
            "metadata": ["name": "web.17a2", "namespace": "default"],
            "involvedObject": [
                "apiVersion": "portcullis.io/v1alpha1", "kind": "Route", "name": "web", "namespace": "default",
                "uid": "u-1",
            ],
            "reason": "Programmed", "type": "Normal", "reportingComponent": "portcullis-controller",
        ]
        let describe = try FieldSelector(
            parsing:
                "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Route,involvedObject.uid=u-1"
        )
        try describe.validate(against: fields)
        #expect(describe.matches(object: event, fields: fields))
        #expect(!(try FieldSelector(parsing: "involvedObject.uid=u-2")).matches(object: event, fields: fields))
        #expect(try FieldSelector(parsing: "type=Normal,reason=Programmed").matches(object: event, fields: fields))
        #expect(try FieldSelector(parsing: "involvedObject.fieldPath=").matches(object: event, fields: fields))
        // `source` falls back to reportingComponent when source.component is empty.
        #expect(fields.value(of: "source", in: event) == "portcullis-controller")
        var withSource = event
        withSource["source"] = ["component": "kubelet"]
        #expect(fields.value(of: "source", in: withSource) == "kubelet")
        withSource["source"] = ["component": ""]
        #expect(fields.value(of: "source", in: withSource) == "portcullis-controller")
    }

    @Test func perKindFields() throws {
        #expect(
            SelectableFields.builtIn(group: "", kind: "Secret").names == [
                "metadata.name", "metadata.namespace", "type",
            ]
        )
        #expect(
            SelectableFields.builtIn(group: "", kind: "Namespace").names == [
                "metadata.name", "metadata.namespace", "status.phase",
            ]
        )
        #expect(SelectableFields.builtIn(group: "", kind: "ConfigMap") == .objectMeta)
        #expect(SelectableFields.builtIn(group: "coordination.k8s.io", kind: "Lease") == .objectMeta)
        #expect(SelectableFields.builtIn(group: "portcullis.io", kind: "Route") == .objectMeta)
        let secret: JSONValue = ["metadata": ["name": "creds"], "type": "Opaque"]
        #expect(
            try FieldSelector(parsing: "type=Opaque").matches(
                object: secret,
                fields: .builtIn(group: "", kind: "Secret")
            )
        )
    }

    @Test func customResourceSelectableFieldsReadScalars() {
        let fields = SelectableFields.objectMeta.adding(jsonPaths: [".spec.color", ".spec.size", ".spec.enabled"])
        let object: JSONValue = ["spec": ["color": "red", "size": 3, "enabled": false]]
        #expect(fields.value(of: "spec.color", in: object) == "red")
        #expect(fields.value(of: "spec.size", in: object) == "3")
        #expect(fields.value(of: "spec.enabled", in: object) == "false")
        #expect(fields.value(of: "metadata.name", in: object) == nil)
        #expect(fields.value(of: "spec.unknown", in: object) == nil)
    }
}
