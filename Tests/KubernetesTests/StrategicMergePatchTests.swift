import Kubernetes
import Testing

@Suite struct StrategicMergePatchTests {
    typealias Schema = StrategicMergePatch.Schema

    /// The shape of `MergeItem`, the test type of Kubernetes' own strategic merge patch tests.
    static let mergeItem: Schema = {
        let inner: [String: Schema] = [
            "mergingList": .init(.merge(mergeKey: "name")), "mergingIntList": .init(.merge(mergeKey: nil)),
        ]
        return Schema(fields: [
            "mergingList": .init(.merge(mergeKey: "name"), fields: inner),
            "mergingIntList": .init(.merge(mergeKey: nil)),
            "replacingItem": .init(.replace),
            "retainKeysMap": .init(fields: inner),
            "retainKeysMergingList": .init(.merge(mergeKey: "name"), fields: inner),
        ])
    }()

    func apply(_ patch: String, to original: String, schema: Schema = mergeItem) throws -> JSONValue {
        try StrategicMergePatch(json: patch).apply(to: JSONValue(json: original), schema: schema)
    }

    /// Cases from `customStrategicMergePatchTestCaseData` and the raw cases in
    /// k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go (names are theirs).
    @Test(arguments: [
        // unique scalars when merging lists
        (#"{"mergingIntList":[1,2]}"#, #"{"mergingIntList":[2,3]}"#, #"{"mergingIntList":[1,2,3]}"#),
        // delete map from nested map
        (#"{"simpleMap":{"key1":1,"key2":1}}"#, #"{"simpleMap":{"$patch":"delete"}}"#, #"{"simpleMap":{}}"#),
        // delete all items from merging list
        (
            #"{"mergingList":[{"name":1},{"name":2}]}"#, #"{"mergingList":[{"$patch":"replace"}]}"#,
            #"{"mergingList":[]}"#
        ),
        // merge empty merging lists
        (#"{"mergingList":[]}"#, #"{"mergingList":[]}"#, #"{"mergingList":[]}"#),
        // delete all keys from map
        (#"{"name":1,"value":1}"#, #"{"$patch":"replace"}"#, #"{}"#),
        // add key and delete all keys from map
        (#"{"name":1,"value":1}"#, #"{"other":"a","$patch":"replace"}"#, #"{"other":"a"}"#),
        // delete all duplicate entries in a merging list
        (
            #"{"mergingList":[{"name":1},{"name":1},{"name":2,"value":"a"},{"name":3},{"name":3}]}"#,
            #"{"mergingList":[{"name":1,"$patch":"delete"},{"name":3,"$patch":"delete"}]}"#,
            #"{"mergingList":[{"name":2,"value":"a"}]}"#
        ),
        // retainKeys map can delete a field when no retainKeys directive present
        (
            #"{"retainKeysMap":{"name":"foo","value":"a"}}"#, #"{"retainKeysMap":{"value":null}}"#,
            #"{"retainKeysMap":{"name":"foo"}}"#
        ),
        // retainKeys list can change a field when no retainKeys directive present
        (
            #"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"a"}]}"#,
            #"{"retainKeysMergingList":[{"name":"foo","value":"b"}]}"#,
            #"{"retainKeysMergingList":[{"name":"bar"},{"name":"foo","value":"b"}]}"#
        ),
        // preserve the order from the patch in a merging list
        (
            #"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
            #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"other":"x"}]}"#,
            #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"},{"name":2,"value":"b","other":"x"}]}"#
        ),
        // preserve the order from the patch in a merging list 2
        (
            #"{"mergingList":[{"name":1},{"name":2,"value":"b"},{"name":3}]}"#,
            #"{"mergingList":[{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#,
            #"{"mergingList":[{"name":2,"value":"b"},{"name":3,"value":"c"},{"name":1,"value":"a"}]}"#
        ),
        // preserve the order from the patch in a merging int list
        (#"{"mergingIntList":[1,2,3]}"#, #"{"mergingIntList":[3,1,2]}"#, #"{"mergingIntList":[3,1,2]}"#),
        (#"{"mergingIntList":[1,2,3]}"#, #"{"mergingIntList":[3,1]}"#, #"{"mergingIntList":[2,3,1]}"#),
        // $setElementOrder contains item that is not present in the list to be merged
        (
            #"{"mergingList":[{"name":1},{"name":3}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":3},{"name":2},{"name":1}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
            #"{"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#
        ),
        // $setElementOrder contains item that is not present in the int list to be merged
        (#"{"mergingIntList":[1,3]}"#, #"{"$setElementOrder/mergingIntList":[3,2,1]}"#, #"{"mergingIntList":[3,1]}"#),
        // $deleteFromPrimitiveList of nonexistent item in primitive list should not add the item to the list
        (
            #"{"mergingIntList":[1,2]}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            #"{"mergingIntList":[1,2]}"#
        ),
        // $deleteFromPrimitiveList on empty primitive list should not add the item to the list
        (#"{"mergingIntList":null}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#, #"{"mergingIntList":null}"#),
        // $deleteFromPrimitiveList on nonexistent primitive list should not add the primitive list
        (#"{"foo":["bar"]}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[3]}"#, #"{"foo":["bar"]}"#),
        // $deleteFromPrimitiveList should delete item from a list with merge patch strategy
        (
            #"{"mergingIntList":[1,2,3]}"#, #"{"$deleteFromPrimitiveList/mergingIntList":[2]}"#,
            #"{"mergingIntList":[1,3]}"#
        ),
        // $deleteFromPrimitiveList should delete item from a list without merge patch strategy
        (
            #"{"nonMergingIntList":[1,2,3]}"#, #"{"$deleteFromPrimitiveList/nonMergingIntList":[2]}"#,
            #"{"nonMergingIntList":[1,3]}"#
        ),
        // delete items in lists of scalars (three-way patch on the current object)
        (
            #"{"mergingIntList":[1,2,3,4]}"#,
            #"{"$setElementOrder/mergingIntList":[1,2],"$deleteFromPrimitiveList/mergingIntList":[3]}"#,
            #"{"mergingIntList":[1,2,4]}"#
        ),
        // add and delete items in lists of scalars
        (
            #"{"mergingIntList":[1,2,3]}"#,
            #"{"$setElementOrder/mergingIntList":[1,2,4],"$deleteFromPrimitiveList/mergingIntList":[3],"mergingIntList":[4]}"#,
            #"{"mergingIntList":[1,2,4]}"#
        ),
        // merge lists of maps (three-way patch on the current object)
        (
            #"{"mergingList":[{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":4},{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":4,"value":4},{"name":3,"value":3}]}"#,
            #"{"mergingList":[{"name":4,"value":4},{"name":1,"other":"a"},{"name":2,"value":2,"other":"b"},{"name":3,"value":3}]}"#
        ),
        // nested patch merge with empty list (two-way patch on the original)
        (
            #"{"name":"hi"}"#, #"{"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#,
            #"{"name":"hi","mergingList":[{"name":"hello"}]}"#
        ),
        // nested patch merge with empty list (three-way patch on the current object)
        (
            #"{"name":"hi","mergingList":[{"name":"hello2"}]}"#,
            #"{"$setElementOrder/mergingList":[{"name":"hello"},{"name":"doesntexist"}],"mergingList":[{"name":"hello"},{"$patch":"delete","name":"doesntexist"}]}"#,
            #"{"name":"hi","mergingList":[{"name":"hello"},{"name":"hello2"}]}"#
        ),
        // defined null values should propagate removing original fields
        (
            #"{"name":"original-name","value":"original-value"}"#, #"{"name":"modified-name","value":null}"#,
            #"{"name":"modified-name"}"#
        ),
        // nested merging lists merge by their own key
        (
            #"{"mergingList":[{"name":"a","mergingList":[{"name":"x","value":1}]}]}"#,
            #"{"mergingList":[{"name":"a","mergingList":[{"name":"y","value":2}]}]}"#,
            #"{"mergingList":[{"name":"a","mergingList":[{"name":"y","value":2},{"name":"x","value":1}]}]}"#
        ),
    ])
    func appliesKubernetesTestVectors(original: String, patch: String, expected: String) throws {
        #expect(try apply(patch, to: original) == JSONValue(json: expected))
    }

    @Test func nonMergingListsAreReplaced() throws {
        #expect(
            try apply(
                #"{"nonMergingList":[{"name":1}]}"#,
                to: #"{"nonMergingList":[{"name":1,"value":"a"},{"name":2}]}"#
            )
                == ["nonMergingList": [["name": 1]]]
        )
        #expect(
            try apply(#"{"nonMergingIntList":[2,3]}"#, to: #"{"nonMergingIntList":[1,2]}"#) == [
                "nonMergingIntList": [2, 3]
            ]
        )
    }

    @Test func replaceStrategyReplacesObjectsWhole() throws {
        #expect(
            try apply(#"{"replacingItem":{"c":3}}"#, to: #"{"replacingItem":{"a":1,"b":2}}"#) == [
                "replacingItem": ["c": 3]
            ]
        )
        #expect(try apply(#"{"simpleMap":{"c":3}}"#, to: #"{"simpleMap":{"a":1}}"#) == ["simpleMap": ["a": 1, "c": 3]])
    }

    @Test func retainKeysClearsUnlistedMembersFirst() throws {
        #expect(
            try apply(
                #"{"retainKeysMap":{"$retainKeys":["name","value"],"value":"b"}}"#,
                to: #"{"retainKeysMap":{"name":"foo","value":"a","other":"x"}}"#
            ) == ["retainKeysMap": ["name": "foo", "value": "b"]]
        )
        #expect(
            try apply(#"{"retainKeysMap":{"$retainKeys":[],"other":null}}"#, to: #"{"retainKeysMap":{"name":"foo"}}"#)
                == ["retainKeysMap": [:]]
        )
    }

    @Test(arguments: [
        (#"{"retainKeysMap":{"$retainKeys":["name"],"value":"b"}}"#, "invalid patch format of retainKeys"),
        (#"{"retainKeysMap":{"$retainKeys":"name"}}"#, "invalid patch format of retainKeys"),
        (#"{"$deleteFromPrimitiveList":[1]}"#, "invalid patch format of primitive list"),
        (#"{"$deleteFromPrimitiveList/mergingIntList":1}"#, "invalid patch format of primitive list"),
        (#"{"$setElementOrder/mergingIntList":{"a":1}}"#, "invalid patch type of setElementOrder list"),
        (#"{"$setElementOrderX/mergingIntList":[1]}"#, "invalid patch type of setElementOrder list"),
        (#"{"simpleMap":{"$patch":"merge"}}"#, #"unknown patch type: "merge" in map: {"$patch":"merge"}"#),
        (#"{"mergingList":[{"name":1,"$patch":"merge"}]}"#, "merging lists cannot yet be specified in the patch"),
        (
            #"{"mergingList":[{"name":1,"$patch":"upsert"}]}"#,
            #"unknown patch type: "upsert" in map: {"$patch":"upsert","name":1}"#
        ),
        (
            #"{"$setElementOrder/mergingList":[{"name":1},{"name":2},{"name":3}],"mergingList":[{"name":3,"value":3},{"name":1,"value":1}]}"#,
            #"the order in patch list [{"name":3,"value":3},{"name":1,"value":1}] doesn't match $setElementOrder list [{"name":1},{"name":2},{"name":3}]"#
        ),
    ])
    func malformedDirectivesAreBadRequests(patch: String, message: String) throws {
        let error = #expect(throws: PatchError.self) {
            try self.apply(patch, to: #"{"mergingList":[{"name":1},{"name":3},{"name":2}],"simpleMap":{}}"#)
        }
        #expect(error?.message == message)
        #expect(error?.httpStatusCode == 400)
    }

    @Test(arguments: [
        (#"{"mergingList":[{"value":"b"}]}"#, #"map: {"value":"b"} does not contain declared merge key: name"#),
        (
            #"{"mergingList":[{"$patch":"delete"}]}"#,
            #"map: {"$patch":"delete"} does not contain declared merge key: name"#
        ),
        (#"{"mergingIntList":[[1]]}"#, "lists of lists are not supported"),
        (#"{"mergingIntList":["a"]}"#, #"list element types are not identical: [1,"a"]"#),
        (
            #"{"$deleteFromPrimitiveList/mergingList":[1]}"#,
            #"list element types are not identical: [{"name":1,"value":"a"},1]"#
        ),
        (
            #"{"$deleteFromPrimitiveList/mergingList":[{"name":1}]}"#,
            "$deleteFromPrimitiveList/mergingList applies to a list of scalars, not of objects"
        ),
        (
            #"{"retainKeysMap":{"mergingList":[{"name":1}]}}"#,
            #"map: {"value":"x"} does not contain declared merge key: name"#
        ),
    ])
    func patchesThatDoNotApplyAreUnprocessable(patch: String, message: String) throws {
        let error = #expect(throws: PatchError.self) {
            try self.apply(
                patch,
                to:
                    #"{"mergingList":[{"name":1,"value":"a"}],"mergingIntList":[1],"retainKeysMap":{"mergingList":[{"value":"x"}]}}"#
            )
        }
        #expect(error?.message == message)
        #expect(error?.httpStatusCode == 422)
    }

    @Test func aListOfObjectsWithoutAMergeKeyCannotBeMerged() {
        let schema = Schema(fields: ["metadata": .init(fields: ["finalizers": .init(.merge(mergeKey: nil))])])
        let error = #expect(throws: PatchError.self) {
            try self.apply(
                #"{"metadata":{"finalizers":[{"b":1}]}}"#,
                to: #"{"metadata":{"finalizers":[{"a":1}]}}"#,
                schema: schema
            )
        }
        #expect(error?.message == "cannot merge lists without merge key for metadata.finalizers")
    }

    @Test func aPatchMustBeAnObject() {
        let error = #expect(throws: PatchError.self) { try StrategicMergePatch(json: "[1]") }
        #expect(error?.message == "invalid strategic merge patch: expected a JSON object, found array")
        let invalid = #expect(throws: PatchError.self) { try StrategicMergePatch(json: "{") }
        #expect(invalid?.message == "invalid strategic merge patch: the body is not valid JSON")
    }

    @Test func addedValuesLoseTheirNullsAndDirectives() throws {
        #expect(
            try apply(#"{"metadata":{"labels":{"a":"1","b":null}},"x":[{"k":null}]}"#, to: "{}", schema: .metadataOnly)
                == ["metadata": ["labels": ["a": "1"]], "x": [[:]]]
        )
        #expect(try apply(#"{"a":{"$patch":"replace","b":1}}"#, to: #"{"a":"scalar"}"#) == ["a": ["b": 1]])
        #expect(try apply(#"{"a":{"x":1}}"#, to: #"{"a":[1]}"#) == ["a": ["x": 1]])
    }

    // MARK: The built-in kinds

    @Test func schemasExistOnlyForTheBuiltInKindsServed() {
        #expect(StrategicMergePatch.schema(group: "", kind: "ConfigMap") == .metadataOnly)
        #expect(StrategicMergePatch.schema(apiVersion: "v1", kind: "Secret") == .metadataOnly)
        #expect(StrategicMergePatch.schema(apiVersion: "v1", kind: "Event") == .metadataOnly)
        #expect(StrategicMergePatch.schema(apiVersion: "coordination.k8s.io/v1", kind: "Lease") == .metadataOnly)
        #expect(StrategicMergePatch.schema(apiVersion: "events.k8s.io/v1", kind: "Event") == .metadataOnly)
        #expect(StrategicMergePatch.schema(apiVersion: "v1", kind: "Namespace") == .namespace)
        #expect(StrategicMergePatch.schema(apiVersion: "v1", kind: "Service") == .service)
        #expect(StrategicMergePatch.schema(apiVersion: "portcullis.io/v1alpha1", kind: "Route") == nil)
        #expect(StrategicMergePatch.schema(apiVersion: "v1", kind: "Pod") == nil)
        #expect(StrategicMergePatch.schema(apiVersion: "coordination.k8s.io/v1", kind: "Secret") == nil)
    }

    @Test func applyingByKindFindsTheSchemaOrAnswers415() throws {
        let lease: JSONValue = ["spec": ["holderIdentity": "a"], "metadata": ["finalizers": ["x"]]]
        #expect(
            try StrategicMergePatch.apply(["metadata": ["finalizers": ["y"]]], to: lease, kind: "Lease")
                == ["spec": ["holderIdentity": "a"], "metadata": ["finalizers": ["y", "x"]]]
        )
        #expect(
            try StrategicMergePatch.apply(
                ["spec": ["ports": [["port": 80, "name": "b"]]]],
                to: ["spec": ["ports": [["port": 80, "name": "a"]]]],
                group: "",
                kind: "Service"
            )
                == ["spec": ["ports": [["port": 80, "name": "b"]]]]
        )
        let error = #expect(throws: PatchError.self) {
            try StrategicMergePatch.apply([:], to: [:], group: "portcullis.io", kind: "Route")
        }
        #expect(error?.code == .unsupportedMediaType)
        #expect(error?.httpStatusCode == 415)
        #expect(
            error?.message
                == "application/strategic-merge-patch+json is not supported by Route.portcullis.io: the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
        #expect(throws: PatchError.self) { try StrategicMergePatch.apply([:], to: [:], group: "", kind: "Lease") }
        #expect(throws: PatchError.self) { try StrategicMergePatch.apply([1], to: [:], kind: "Secret") }
    }

    @Test func kubectlApplyOfAConfigMapMergesDataAndAnnotations() throws {
        let live: JSONValue = [
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": [
                "name": "cfg",
                "annotations": ["kubectl.kubernetes.io/last-applied-configuration": "old", "keep": "me"],
            ],
            "data": ["a": "1", "b": "2"],
        ]
        let patch = try StrategicMergePatch(
            json:
                #"{"data":{"b":"3","c":null},"metadata":{"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"new"}}}"#
        )
        #expect(
            try patch.apply(to: live, schema: .metadataOnly)
                == [
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": [
                        "name": "cfg",
                        "annotations": ["kubectl.kubernetes.io/last-applied-configuration": "new", "keep": "me"],
                    ],
                    "data": ["a": "1", "b": "3"],
                ]
        )
    }

    @Test func ownerReferencesMergeByUID() throws {
        let live: JSONValue = [
            "metadata": [
                "ownerReferences": [
                    ["uid": "a", "name": "x", "kind": "Route"], ["uid": "b", "name": "y", "kind": "Route"],
                ]
            ]
        ]
        let patched = try StrategicMergePatch(
            json:
                #"{"metadata":{"ownerReferences":[{"uid":"b","controller":true},{"uid":"c","name":"z","kind":"Tunnel"}]}}"#
        ).apply(to: live, schema: .metadataOnly)
        #expect(
            patched
                == [
                    "metadata": [
                        "ownerReferences": [
                            ["uid": "a", "name": "x", "kind": "Route"],
                            ["uid": "b", "name": "y", "kind": "Route", "controller": true],
                            ["uid": "c", "name": "z", "kind": "Tunnel"],
                        ]
                    ]
                ]
        )
        let deleted = try StrategicMergePatch(
            json: #"{"metadata":{"ownerReferences":[{"uid":"a","$patch":"delete"}]}}"#
        )
        .apply(to: live, schema: .metadataOnly)
        #expect(deleted == ["metadata": ["ownerReferences": [["uid": "b", "name": "y", "kind": "Route"]]]])
    }

    @Test func finalizersMergeAsASetAndDeleteThroughTheDirective() throws {
        let live: JSONValue = ["metadata": ["finalizers": ["a", "b"]]]
        func patch(_ json: String) throws -> JSONValue {
            try StrategicMergePatch(json: json).apply(to: live, schema: .metadataOnly)
        }
        // New elements go first, as Kubernetes orders a merged list without $setElementOrder.
        #expect(try patch(#"{"metadata":{"finalizers":["c","a"]}}"#) == ["metadata": ["finalizers": ["c", "a", "b"]]])
        #expect(try patch(#"{"metadata":{"finalizers":["b","c"]}}"#) == ["metadata": ["finalizers": ["a", "b", "c"]]])
        #expect(try patch(#"{"metadata":{"finalizers":["c"]}}"#) == ["metadata": ["finalizers": ["c", "a", "b"]]])
        #expect(
            try patch(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"]}}"#) == [
                "metadata": ["finalizers": ["b"]]
            ]
        )
        #expect(
            try patch(#"{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]}}"#)
                == ["metadata": ["finalizers": ["c", "b"]]]
        )
        #expect(
            try patch(
                #"{"metadata":{"$setElementOrder/finalizers":["b","c"],"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["c"]}}"#
            )
                == ["metadata": ["finalizers": ["b", "c"]]]
        )
        #expect(try patch(#"{"metadata":{"finalizers":null}}"#) == ["metadata": [:]])
        #expect(try patch(#"{"metadata":{"finalizers":[]}}"#) == ["metadata": ["finalizers": ["a", "b"]]])
    }

    @Test func servicePortsMergeByPortAndOtherListsReplace() throws {
        let live: JSONValue = [
            "spec": [
                "ports": [["port": 80, "name": "http", "targetPort": 8080], ["port": 443, "name": "https"]],
                "externalIPs": ["10.0.0.1"],
            ]
        ]
        let patched = try StrategicMergePatch(
            json: #"{"spec":{"ports":[{"port":80,"targetPort":9090}],"externalIPs":["10.0.0.2"]}}"#
        )
        .apply(to: live, schema: .service)
        #expect(
            patched
                == [
                    "spec": [
                        "ports": [["port": 80, "name": "http", "targetPort": 9090], ["port": 443, "name": "https"]],
                        "externalIPs": ["10.0.0.2"],
                    ]
                ]
        )
    }

    @Test func namespaceFinalizersReplaceAndConditionsMergeByType() throws {
        let live: JSONValue = [
            "spec": ["finalizers": ["kubernetes"]],
            "status": [
                "phase": "Active", "conditions": [["type": "A", "status": "True"], ["type": "B", "status": "False"]],
            ],
        ]
        let patched = try StrategicMergePatch(
            json: #"{"spec":{"finalizers":[]},"status":{"conditions":[{"type":"B","status":"True"}]}}"#
        )
        .apply(to: live, schema: .namespace)
        #expect(
            patched
                == [
                    "spec": ["finalizers": []],
                    "status": [
                        "phase": "Active",
                        "conditions": [["type": "A", "status": "True"], ["type": "B", "status": "True"]],
                    ],
                ]
        )
    }

    @Test func mergeKeysCompareNumbersByValue() throws {
        let live: JSONValue = ["spec": ["ports": [["port": .integer(80), "name": "http"]]]]
        let patched = try StrategicMergePatch(["spec": ["ports": [["port": .double(80), "protocol": "TCP"]]]])
            .apply(to: live, schema: .service)
        #expect(patched["spec"]?["ports"]?.arrayValue?.count == 1)
        #expect(patched["spec"]?["ports"]?.arrayValue?.first?["protocol"] == "TCP")
    }
}
