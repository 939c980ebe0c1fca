import Kubernetes
import Testing

@Suite struct JSONPointerTests {
    /// RFC 6901 section 5.
    static let document: JSONValue = [
        "foo": ["bar", "baz"], "": 0, "a/b": 1, "c%d": 2, "e^f": 3, "g|h": 4, "i\\j": 5, "k\"l": 6, " ": 7, "m~n": 8,
    ]

    @Test(arguments: [
        ("/foo", ["bar", "baz"] as JSONValue), ("/foo/0", "bar"), ("/", 0), ("/a~1b", 1), ("/c%d", 2), ("/e^f", 3),
        ("/g|h", 4), ("/i\\j", 5), ("/k\"l", 6), ("/ ", 7), ("/m~0n", 8),
    ])
    func resolvesTheRFC6901Examples(pointer: String, expected: JSONValue) throws {
        let parsed = try JSONPointer(pointer)
        #expect(JSONPointerTests.document[pointer: parsed] == expected)
        #expect(parsed.description == pointer)
    }

    @Test func theEmptyPointerIsTheWholeDocument() throws {
        #expect(try JSONPointer("") == .root)
        #expect(JSONPointerTests.document[pointer: .root] == JSONPointerTests.document)
    }

    @Test func unescapesTildeOneBeforeTildeZero() throws {
        #expect(try JSONPointer("/~01").tokens == ["~1"])
        #expect(try JSONPointer("/a~1b/~0").tokens == ["a/b", "~"])
        #expect(JSONPointer(tokens: ["~1", "a/b"]).description == "/~01/a~1b")
    }

    @Test func arrayIndicesHaveNoLeadingZerosAndStayInBounds() throws {
        let value: JSONValue = ["list": ["a", "b"]]
        #expect(value[pointer: try JSONPointer("/list/1")] == "b")
        #expect(value[pointer: try JSONPointer("/list/01")] == nil)
        #expect(value[pointer: try JSONPointer("/list/2")] == nil)
        #expect(value[pointer: try JSONPointer("/list/-")] == nil)
        #expect(value[pointer: try JSONPointer("/list/0/x")] == nil)
    }

    @Test func rejectsMalformedPointers() {
        let missingSlash = #expect(throws: PatchError.self) { try JSONPointer("foo") }
        #expect(missingSlash?.message == #"invalid JSON pointer "foo": must be empty or start with "/""#)
        #expect(missingSlash?.code == .malformedPatch)
        let badEscape = #expect(throws: PatchError.self) { try JSONPointer("/a~2") }
        #expect(badEscape?.message == #"invalid JSON pointer "/a~2": "~" must be followed by "0" or "1""#)
        #expect(throws: PatchError.self) { try JSONPointer("/a~") }
    }
}

@Suite struct JSONPatchTests {
    func apply(_ patch: String, to document: String) throws -> JSONValue {
        try JSONPatch(json: patch).apply(to: JSONValue(json: document))
    }

    /// RFC 6902 appendix A: the examples that succeed.
    @Test(arguments: [
        // A.1 Adding an Object Member
        (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux"}]"#, #"{"baz":"qux","foo":"bar"}"#),
        // A.2 Adding an Array Element
        (#"{"foo":["bar","baz"]}"#, #"[{"op":"add","path":"/foo/1","value":"qux"}]"#, #"{"foo":["bar","qux","baz"]}"#),
        // A.3 Removing an Object Member
        (#"{"baz":"qux","foo":"bar"}"#, #"[{"op":"remove","path":"/baz"}]"#, #"{"foo":"bar"}"#),
        // A.4 Removing an Array Element
        (#"{"foo":["bar","qux","baz"]}"#, #"[{"op":"remove","path":"/foo/1"}]"#, #"{"foo":["bar","baz"]}"#),
        // A.5 Replacing a Value
        (
            #"{"baz":"qux","foo":"bar"}"#, #"[{"op":"replace","path":"/baz","value":"boo"}]"#,
            #"{"baz":"boo","foo":"bar"}"#
        ),
        // A.6 Moving a Value
        (
            #"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            #"[{"op":"move","from":"/foo/waldo","path":"/qux/thud"}]"#,
            #"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#
        ),
        // A.7 Moving an Array Element
        (
            #"{"foo":["all","grass","cows","eat"]}"#, #"[{"op":"move","from":"/foo/1","path":"/foo/3"}]"#,
            #"{"foo":["all","cows","eat","grass"]}"#
        ),
        // A.8 Testing a Value: Success
        (
            #"{"baz":"qux","foo":["a",2,"c"]}"#,
            #"[{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}]"#,
            #"{"baz":"qux","foo":["a",2,"c"]}"#
        ),
        // A.10 Adding a Nested Member Object
        (
            #"{"foo":"bar"}"#, #"[{"op":"add","path":"/child","value":{"grandchild":{}}}]"#,
            #"{"foo":"bar","child":{"grandchild":{}}}"#
        ),
        // A.11 Ignoring Unrecognized Elements
        (#"{"foo":"bar"}"#, #"[{"op":"add","path":"/baz","value":"qux","xyz":123}]"#, #"{"foo":"bar","baz":"qux"}"#),
        // A.14 ~ Escape Ordering
        (#"{"/":9,"~1":10}"#, #"[{"op":"test","path":"/~01","value":10}]"#, #"{"/":9,"~1":10}"#),
        // A.16 Adding an Array Value
        (
            #"{"foo":["bar"]}"#, #"[{"op":"add","path":"/foo/-","value":["abc","def"]}]"#,
            #"{"foo":["bar",["abc","def"]]}"#
        ),
    ])
    func appliesTheRFC6902Examples(document: String, patch: String, expected: String) throws {
        #expect(try apply(patch, to: document) == JSONValue(json: expected))
    }

    @Test func rfcA9TestingAValueThatDiffersFails() throws {
        let error = #expect(throws: PatchError.self) {
            try self.apply(#"[{"op":"test","path":"/baz","value":"bar"}]"#, to: #"{"baz":"qux"}"#)
        }
        #expect(error?.code == .testFailed)
        #expect(error?.message == #"test operation failed: the value at path "/baz" is "qux", not "bar""#)
        #expect(error?.httpStatusCode == 422)
    }

    @Test func rfcA12AddingToANonexistentTargetFails() throws {
        let error = #expect(throws: PatchError.self) {
            try self.apply(#"[{"op":"add","path":"/baz/bat","value":"qux"}]"#, to: #"{"foo":"bar"}"#)
        }
        #expect(error?.code == .notApplicable)
        #expect(error?.message == #"add operation does not apply: doc is missing path: "/baz/bat""#)
    }

    @Test func rfcA13ADuplicateOpMemberIsNotAccepted() {
        let error = #expect(throws: PatchError.self) {
            try self.apply(#"[{"op":"add","path":"/baz","value":"qux","op":"remove"}]"#, to: #"{"foo":"bar"}"#)
        }
        #expect(error?.message == #"invalid JSON patch: duplicate member "op" in an object"#)
        #expect(error?.code == .malformedPatch)
    }

    @Test func duplicateNamesAreFoundThroughEscapesButNotAcrossObjects() {
        #expect(throws: PatchError.self) { try JSONPatch(json: #"[{"op":"remove","path":"/a","o\u0070":"add"}]"#) }
        #expect(throws: Never.self) {
            try JSONPatch(
                json: #"[{"op":"add","path":"/a","value":{"op":"x","path":["op","op"]}},{"op":"remove","path":"/a"}]"#
            )
        }
        #expect(throws: Never.self) { try JSONPatch(json: #"[{"op":"add","path":"/a\"","value":"\"op\": \"op\""}]"#) }
    }

    @Test func rfcA15StringsAndNumbersAreNotEqual() throws {
        let error = #expect(throws: PatchError.self) {
            try self.apply(#"[{"op":"test","path":"/~01","value":"10"}]"#, to: #"{"/":9,"~1":10}"#)
        }
        #expect(error?.message == #"test operation failed: the value at path "/~01" is 10, not "10""#)
    }

    @Test func testComparesNumbersByValueAndObjectsWithoutOrder() throws {
        let document: JSONValue = ["n": .integer(1), "o": ["a": 1, "b": [1, 2]]]
        let patch = JSONPatch([
            .test(path: try JSONPointer("/n"), value: .double(1.0)),
            .test(path: try JSONPointer("/o"), value: ["b": [1, 2], "a": .double(1)]),
        ])
        #expect(try patch.apply(to: document) == document)
        let reordered = JSONPatch([.test(path: try JSONPointer("/o/b"), value: [2, 1])])
        #expect(throws: PatchError.self) { try reordered.apply(to: document) }
    }

    @Test func kubectlManagedFieldsMigrationPatchApplies() throws {
        let object: JSONValue = [
            "metadata": [
                "name": "web", "resourceVersion": "109", "managedFields": [["manager": "kubectl-client-side-apply"]],
            ]
        ]
        let patch = try JSONPatch(
            json:
                #"[{"op":"replace","path":"/metadata/managedFields","value":[{"manager":"kubectl"}]},{"op":"replace","path":"/metadata/resourceVersion","value":"110"}]"#
        )
        #expect(
            try patch.apply(to: object)
                == ["metadata": ["name": "web", "resourceVersion": "110", "managedFields": [["manager": "kubectl"]]]]
        )
    }

    @Test func replacingTheRootReplacesTheDocument() throws {
        #expect(try apply(#"[{"op":"replace","path":"","value":[1]}]"#, to: #"{"a":1}"#) == [1])
        #expect(try apply(#"[{"op":"add","path":"","value":{"b":2}}]"#, to: #"{"a":1}"#) == ["b": 2])
    }

    @Test func copyDuplicatesAValue() throws {
        #expect(
            try apply(#"[{"op":"copy","from":"/a","path":"/b/-"}]"#, to: #"{"a":{"x":1},"b":[0]}"#)
                == ["a": ["x": 1], "b": [0, ["x": 1]]]
        )
    }

    @Test(arguments: [
        (#"[{"op":"remove","path":"/missing"}]"#, #"remove operation does not apply: doc is missing path: "/missing""#),
        (
            #"[{"op":"replace","path":"/missing","value":1}]"#,
            #"replace operation does not apply: doc is missing path: "/missing""#
        ),
        (
            #"[{"op":"remove","path":"/list/2"}]"#,
            #"remove operation does not apply: "2" is not a valid index for an array of 2 elements at path "/list/2""#
        ),
        (
            #"[{"op":"add","path":"/list/3","value":1}]"#,
            #"add operation does not apply: "3" is not a valid index for an array of 2 elements at path "/list/3""#
        ),
        (
            #"[{"op":"add","path":"/list/01","value":1}]"#,
            #"add operation does not apply: "01" is not a valid index for an array of 2 elements at path "/list/01""#
        ),
        (
            #"[{"op":"replace","path":"/list/-","value":1}]"#,
            #"replace operation does not apply: "-" is not a valid index for an array of 2 elements at path "/list/-""#
        ),
        (
            #"[{"op":"add","path":"/name/x","value":1}]"#,
            #"add operation does not apply: the parent of path "/name/x" is string, not an object or array"#
        ),
        (
            #"[{"op":"move","from":"/nope","path":"/x"}]"#,
            #"move operation does not apply: doc is missing from path: "/nope""#
        ),
        (
            #"[{"op":"move","from":"/list","path":"/list/0"}]"#,
            #"move operation does not apply: from path "/list" is an ancestor of path "/list/0""#
        ),
        (
            #"[{"op":"copy","from":"/nope","path":"/x"}]"#,
            #"copy operation does not apply: doc is missing from path: "/nope""#
        ),
        (#"[{"op":"test","path":"/nope","value":1}]"#, #"test operation does not apply: doc is missing path: "/nope""#),
        (#"[{"op":"remove","path":""}]"#, "remove operation does not apply: the whole document cannot be removed"),
    ])
    func operationsThatDoNotApplyNameTheOpAndPath(patch: String, message: String) throws {
        let error = #expect(throws: PatchError.self) { try self.apply(patch, to: #"{"name":"web","list":["a","b"]}"#) }
        #expect(error?.message == message)
        #expect(error?.httpStatusCode == 422)
    }

    @Test(arguments: [
        (#"{"op":"add"}"#, "invalid JSON patch: expected an array of operations, found object"),
        (#"[1]"#, "invalid JSON patch: operation 0 is integer, not an object"),
        (#"[{"path":"/a"}]"#, #"invalid JSON patch: operation 0 has no "op""#),
        (#"[{"op":5,"path":"/a"}]"#, #"invalid JSON patch: "op" of operation 0 must be a string"#),
        (
            #"[{"op":"remove","path":"/a"},{"op":"frobnicate","path":"/a"}]"#,
            #"invalid JSON patch: unsupported op "frobnicate" in operation 1; supported ops are add, remove, replace, move, copy and test"#
        ),
        (#"[{"op":"add","path":"/a"}]"#, #"invalid JSON patch: add operation 0 has no "value""#),
        (#"[{"op":"remove"}]"#, #"invalid JSON patch: remove operation 0 has no "path""#),
        (#"[{"op":"move","path":"/a"}]"#, #"invalid JSON patch: move operation 0 has no "from""#),
        (#"[{"op":"remove","path":3}]"#, #"invalid JSON patch: "path" of remove operation 0 must be a string"#),
        (
            #"[{"op":"remove","path":"a"}]"#,
            #"invalid JSON patch: remove operation 0: invalid JSON pointer "a": must be empty or start with "/""#
        ),
        (#"[{"op":"#, "invalid JSON patch: the body is not valid JSON"),
    ])
    func malformedDocumentsAreBadRequests(patch: String, message: String) {
        let error = #expect(throws: PatchError.self) { try JSONPatch(json: patch) }
        #expect(error?.message == message)
        #expect(error?.code == .malformedPatch)
        #expect(error?.httpStatusCode == 400)
    }

    @Test func anExplicitNullValueIsAValue() throws {
        #expect(try apply(#"[{"op":"add","path":"/a","value":null}]"#, to: "{}") == ["a": nil])
    }

    @Test func documentRoundTrips() throws {
        let text =
            #"[{"op":"add","path":"/a~1b","value":1},{"from":"/x","op":"move","path":"/y"},{"op":"remove","path":"/z/0"}]"#
        let patch = try JSONPatch(json: text)
        #expect(patch.document == (try JSONValue(json: text)))
        #expect(patch.operations.map(\.name) == ["add", "move", "remove"])
        #expect(patch.operations.map(\.path.description) == ["/a~1b", "/y", "/z/0"])
    }
}

@Suite struct JSONMergePatchTests {
    /// RFC 7386 appendix A.
    @Test(arguments: [
        (#"{"a":"b"}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"b"}"#, #"{"b":"c"}"#, #"{"a":"b","b":"c"}"#),
        (#"{"a":"b"}"#, #"{"a":null}"#, #"{}"#),
        (#"{"a":"b","b":"c"}"#, #"{"a":null}"#, #"{"b":"c"}"#),
        (#"{"a":["b"]}"#, #"{"a":"c"}"#, #"{"a":"c"}"#),
        (#"{"a":"c"}"#, #"{"a":["b"]}"#, #"{"a":["b"]}"#),
        (#"{"a":{"b":"c"}}"#, #"{"a":{"b":"d","c":null}}"#, #"{"a":{"b":"d"}}"#),
        (#"{"a":[{"b":"c"}]}"#, #"{"a":[1]}"#, #"{"a":[1]}"#),
        (#"["a","b"]"#, #"["c","d"]"#, #"["c","d"]"#),
        (#"{"a":"b"}"#, #"["c"]"#, #"["c"]"#),
        (#"{"a":"foo"}"#, "null", "null"),
        (#"{"a":"foo"}"#, #""bar""#, #""bar""#),
        (#"{"e":null}"#, #"{"a":1}"#, #"{"e":null,"a":1}"#),
        (#"[1,2]"#, #"{"a":"b","c":null}"#, #"{"a":"b"}"#),
        (#"{}"#, #"{"a":{"bb":{"ccc":null}}}"#, #"{"a":{"bb":{}}}"#),
    ])
    func appliesTheRFC7386Examples(original: String, patch: String, expected: String) throws {
        #expect(try JSONMergePatch(json: patch).apply(to: JSONValue(json: original)) == JSONValue(json: expected))
    }

    /// RFC 7386 section 3.
    @Test func appliesTheRFC7386Section3Example() throws {
        let original = try JSONValue(
            json:
                #"{"title":"Goodbye!","author":{"givenName":"John","familyName":"Doe"},"tags":["example","sample"],"content":"This will be unchanged"}"#
        )
        let patch = try JSONMergePatch(
            json:
                #"{"title":"Hello!","phoneNumber":"+01-123-456-7890","author":{"familyName":null},"tags":["example"]}"#
        )
        let expected = try JSONValue(
            json:
                #"{"title":"Hello!","author":{"givenName":"John"},"tags":["example"],"content":"This will be unchanged","phoneNumber":"+01-123-456-7890"}"#
        )
        #expect(patch.apply(to: original) == expected)
    }

    @Test func createsTheMinimalPatch() {
        let original: JSONValue = [
            "metadata": ["name": "web", "labels": ["app": "web", "tier": "front"]],
            "spec": ["upstream": ["port": 8080, "host": "a"], "hosts": ["x", "y"]],
        ]
        let modified: JSONValue = [
            "metadata": ["name": "web", "labels": ["app": "web", "team": "edge"]],
            "spec": ["upstream": ["port": 9090, "host": "a"], "hosts": ["x", "y"]],
        ]
        let patch = JSONMergePatch.create(from: original, to: modified)
        #expect(
            patch.patch == [
                "metadata": ["labels": ["tier": nil, "team": "edge"]], "spec": ["upstream": ["port": 9090]],
            ]
        )
        #expect(patch.apply(to: original) == modified)
    }

    @Test func createReplacesArraysAndTypeChangesWhole() {
        let patch = JSONMergePatch.create(
            from: ["a": [1, 2], "b": ["c": 1], "d": 1],
            to: ["a": [1], "b": "now a string", "d": .double(1)]
        )
        #expect(patch.patch == ["a": [1], "b": "now a string"])
    }

    @Test func createOfEqualObjectsIsEmptyAndOfNonObjectsIsTheTarget() {
        #expect(JSONMergePatch.create(from: ["a": 1], to: ["a": 1]).patch == [:])
        #expect(JSONMergePatch.create(from: ["a": 1], to: [1, 2]).patch == [1, 2])
        #expect(JSONMergePatch.create(from: "x", to: "x").patch == "x")
        #expect(JSONMergePatch.create(from: "x", to: "x").apply(to: "x") == "x")
        #expect(JSONMergePatch.create(from: [1], to: ["a": ["b": 1]]).apply(to: [1]) == ["a": ["b": 1]])
    }

    @Test func createThenApplyRoundTripsOverManyPairs() {
        let values: [JSONValue] = [
            [:], ["a": 1], ["a": 2, "b": ["c": "d"]], ["b": ["c": "e", "f": [1, 2]]], ["a": ["x": ["y": true]]],
            ["a": "s"],
            ["b": [1, ["k": "v"]]],
        ]
        for original in values {
            for modified in values {
                #expect(
                    JSONMergePatch.create(from: original, to: modified).apply(to: original) == modified,
                    "\(original) -> \(modified)"
                )
            }
        }
    }

    @Test func theStaticFormAppliesTheSame() {
        #expect(
            JSONMergePatch.apply(["a": nil, "b": ["c": 1]], to: ["a": 1, "b": ["d": 2]]) == ["b": ["c": 1, "d": 2]]
        )
    }

    @Test func invalidJSONIsABadRequest() {
        let error = #expect(throws: PatchError.self) { try JSONMergePatch(json: "{") }
        #expect(error?.message == "invalid JSON merge patch: the body is not valid JSON")
        #expect(error?.httpStatusCode == 400)
    }
}
