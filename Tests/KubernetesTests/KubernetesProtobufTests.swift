import Kubernetes
import Testing

/// A protobuf writer for building test bodies by hand.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    mutating func key(_ field: Int, _ wireType: UInt8) { varint(UInt64(field) << 3 | UInt64(wireType)) }

    mutating func bytes(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }

    mutating func string(_ field: Int, _ value: String) { bytes(field, Array(value.utf8)) }

    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        bytes(field, inner.bytes)
    }

    mutating func mapEntry(_ field: Int, _ key: String, _ value: [UInt8]) {
        message(field) {
            $0.string(1, key)
            $0.bytes(2, value)
        }
    }

    /// A whole request body: the magic number and a `runtime.Unknown`.
    static func body(apiVersion: String = "v1", kind: String, _ build: (inout ProtobufWriter) -> Void) -> [UInt8] {
        var unknown = ProtobufWriter()
        unknown.message(1) {
            $0.string(1, apiVersion)
            $0.string(2, kind)
        }
        unknown.message(2, build)
        unknown.string(3, "")
        unknown.string(4, "")
        return KubernetesProtobuf.magic + unknown.bytes
    }
}

@Suite struct KubernetesProtobufTests {
    @Test func decodesASecretWithDataLabelsAnnotationsAndType() throws {
        let body = ProtobufWriter.body(kind: "Secret") { secret in
            secret.message(1) { meta in
                meta.string(1, "creds")
                meta.string(2, "")
                meta.string(3, "default")
                meta.message(8) { _ in }  // the zero creationTimestamp kubectl sends
                meta.mapEntry(11, "app", Array("web".utf8))
                meta.mapEntry(11, "tier", Array("front".utf8))
                meta.mapEntry(12, "note", Array("a \"quoted\" note".utf8))
            }
            secret.mapEntry(2, "token", Array("s3cr3t".utf8))
            secret.mapEntry(2, "binary", [0x00, 0xFF, 0x10])
            secret.string(3, "Opaque")
        }
        #expect(
            try KubernetesProtobuf.decode(body)
                == [
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": [
                        "name": "creds", "namespace": "default", "labels": ["app": "web", "tier": "front"],
                        "annotations": ["note": "a \"quoted\" note"],
                    ],
                    "data": ["token": "czNjcjN0", "binary": "AP8Q"],
                    "type": "Opaque",
                ]
        )
    }

    /// The bytes kubectl 1.32 sends for `kubectl create secret generic creds --from-literal=token=s3cr3t`.
    @Test func decodesAHexLiteralBodyAsKubectlSendsIt() throws {
        // magic, typeMeta{v1, Secret}, raw (40 bytes): metadata{name, generateName "", namespace "",
        // creationTimestamp {}}, data{token: s3cr3t}, type Opaque; then empty contentEncoding and contentType.
        let hex =
            "6b387300" + "0a0c0a0276311206536563726574" + "1228" + "0a0d0a05637265647312001a004200"
            + "120f0a05746f6b656e1206733363723374" + "1a064f7061717565" + "1a002200"
        let body = stride(from: 0, to: hex.count, by: 2).map { offset -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        #expect(
            try KubernetesProtobuf.decode(body)
                == [
                    "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "creds"], "data": ["token": "czNjcjN0"],
                    "type": "Opaque",
                ]
        )
    }

    @Test func decodesAConfigMap() throws {
        let body = ProtobufWriter.body(kind: "ConfigMap") { configMap in
            configMap.message(1) { meta in
                meta.string(1, "cfg")
                meta.string(6, "42")
                meta.int(7, 3)
                meta.string(14, "example.com/cleanup")
                meta.message(13) { reference in
                    reference.string(1, "Route")
                    reference.string(3, "web")
                    reference.string(4, "uid-1")
                    reference.string(5, "portcullis.io/v1alpha1")
                    reference.int(6, 1)
                    reference.int(7, 0)
                }
                meta.message(8) { time in
                    time.int(1, 1_735_732_800)
                    time.int(2, 123)
                }
            }
            configMap.mapEntry(2, "config.yaml", Array("a: 1\n".utf8))
            configMap.mapEntry(2, "empty", [])
            configMap.mapEntry(3, "blob", [0xDE, 0xAD, 0xBE, 0xEF])
            configMap.int(4, 1)
        }
        #expect(
            try KubernetesProtobuf.decode(body)
                == [
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": [
                        "name": "cfg", "resourceVersion": "42", "generation": 3, "finalizers": ["example.com/cleanup"],
                        "creationTimestamp": "2025-01-01T12:00:00Z",
                        "ownerReferences": [
                            [
                                "kind": "Route", "name": "web", "uid": "uid-1", "apiVersion": "portcullis.io/v1alpha1",
                                "controller": true,
                                "blockOwnerDeletion": false,
                            ]
                        ],
                    ],
                    "data": ["config.yaml": "a: 1\n", "empty": ""],
                    "binaryData": ["blob": "3q2+7w=="],
                    "immutable": true,
                ]
        )
    }

    @Test func decodesANamespace() throws {
        let body = ProtobufWriter.body(kind: "Namespace") { namespace in
            namespace.message(1) { $0.string(1, "team-a") }
            namespace.message(2) { $0.string(1, "kubernetes") }
            namespace.message(3) { $0.string(1, "Active") }
        }
        #expect(
            try KubernetesProtobuf.decode(body)
                == [
                    "apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team-a"],
                    "spec": ["finalizers": ["kubernetes"]],
                    "status": ["phase": "Active"],
                ]
        )
        let bare = ProtobufWriter.body(kind: "Namespace") { namespace in
            namespace.message(1) { $0.string(1, "team-b") }
            namespace.message(2) { _ in }
            namespace.message(3) { _ in }
        }
        #expect(
            try KubernetesProtobuf.decode(bare) == [
                "apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "team-b"], "spec": [:], "status": [:],
            ]
        )
    }

    @Test func skipsUnknownFieldsOfEveryWireType() throws {
        let body = ProtobufWriter.body(kind: "Secret") { secret in
            secret.int(99, 12345)  // varint
            secret.key(98, 1)  // fixed64
            secret.bytes += [1, 2, 3, 4, 5, 6, 7, 8]
            secret.key(97, 5)  // fixed32
            secret.bytes += [1, 2, 3, 4]
            secret.key(96, 3)  // a group, with a nested group and a string inside
            secret.string(1, "ignored")
            secret.key(2, 3)
            secret.int(1, 7)
            secret.key(2, 4)
            secret.key(96, 4)
            secret.message(1) { meta in
                meta.string(1, "s")
                meta.message(17) { $0.string(1, "kubectl-create") }  // managedFields
                meta.bytes(500, [0xFF, 0xFE])
            }
            secret.string(3, "kubernetes.io/tls")
            secret.bytes(200, [0x08, 0x01])
        }
        #expect(
            try KubernetesProtobuf.decode(body) == [
                "apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s"], "type": "kubernetes.io/tls",
            ]
        )
    }

    @Test func laterOccurrencesOfAScalarFieldWin() throws {
        let body = ProtobufWriter.body(kind: "Secret") { secret in
            secret.string(3, "first")
            secret.string(3, "second")
            secret.message(1) { $0.string(1, "a") }
            secret.mapEntry(2, "k", Array("1".utf8))
            secret.mapEntry(2, "k", Array("2".utf8))
        }
        let decoded = try KubernetesProtobuf.decode(body)
        #expect(decoded["type"] == "second")
        #expect(decoded["data"] == ["k": "Mg=="])
    }

    @Test func aBodyWithoutTheMagicNumberIsRefused() {
        let error = #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decode(Array(#"{"kind":"Secret"}"#.utf8))
        }
        #expect(error?.code == .missingMagic)
        #expect(error?.message == #"the body does not start with the Kubernetes protobuf magic number "k8s\0""#)
        #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode([]) }
        #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode([0x6B, 0x38, 0x73]) }
    }

    @Test func otherKindsAndEncodingsAreUnsupported() {
        let pod = ProtobufWriter.body(kind: "Pod") { $0.message(1) { $0.string(1, "p") } }
        let error = #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode(pod) }
        #expect(error?.code == .unsupported)
        #expect(error?.httpStatusCode == 415)
        #expect(
            error?.message
                == "no protobuf decoder for v1, Kind=Pod: only v1 Secret, ConfigMap and Namespace bodies are decoded"
        )
        let lease = ProtobufWriter.body(apiVersion: "coordination.k8s.io/v1", kind: "Secret") { _ in }
        #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode(lease) }
        let noKind = KubernetesProtobuf.magic + [0x12, 0x00]
        let noKindError = #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode(noKind) }
        #expect(
            noKindError?.message
                == "no protobuf decoder for <no apiVersion>, Kind=<no kind>: only v1 Secret, ConfigMap and Namespace bodies are decoded"
        )
        var gzip = ProtobufWriter()
        gzip.message(1) {
            $0.string(1, "v1")
            $0.string(2, "Secret")
        }
        gzip.bytes(2, [0x1F, 0x8B])
        gzip.string(3, "gzip")
        let gzipError = #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decode(KubernetesProtobuf.magic + gzip.bytes)
        }
        #expect(gzipError?.message == #"unsupported content encoding "gzip""#)
    }

    @Test func aBodyWithoutRawIsMalformed() {
        var unknown = ProtobufWriter()
        unknown.message(1) {
            $0.string(1, "v1")
            $0.string(2, "ConfigMap")
        }
        let error = #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decode(KubernetesProtobuf.magic + unknown.bytes)
        }
        #expect(error?.message == "the body has no object (runtime.Unknown field 2, raw)")
    }

    @Test func everyTruncationOfAValidBodyIsAnErrorNotACrash() throws {
        let body = ProtobufWriter.body(kind: "Secret") { secret in
            secret.message(1) { meta in
                meta.string(1, "creds")
                meta.mapEntry(11, "app", Array("web".utf8))
                meta.int(7, 300)
            }
            secret.mapEntry(2, "token", Array("s3cr3t".utf8))
            secret.string(3, "Opaque")
        }
        let decoded = try KubernetesProtobuf.decode(body)
        // The body ends with the empty contentEncoding and contentType fields, 2 bytes each.
        let endOfRaw = body.count - 4
        for length in KubernetesProtobuf.magic.count..<endOfRaw {
            // Cutting before the end of `raw` leaves a truncated field or a body without its object.
            #expect(throws: KubernetesProtobufError.self, "length \(length)") {
                try KubernetesProtobuf.decode(Array(body[..<length]))
            }
        }
        for length in [endOfRaw, endOfRaw + 2, body.count] {
            #expect(try KubernetesProtobuf.decode(Array(body[..<length])) == decoded, "length \(length)")
        }
        for length in [endOfRaw + 1, endOfRaw + 3] {
            let error = #expect(throws: KubernetesProtobufError.self) {
                try KubernetesProtobuf.decode(Array(body[..<length]))
            }
            #expect(error?.message == "truncated varint at offset \(length) of runtime.Unknown")
        }
    }

    @Test(arguments: [
        (
            [0x12, 0x05, 0x0A, 0x03] as [UInt8], KubernetesProtobufError.Code.truncated,
            "truncated field at offset 5 of runtime.Unknown: length 5 exceeds the 2 remaining bytes"
        ),
        ([0x0A, 0x80], .truncated, "truncated varint at offset 5 of runtime.Unknown"),
        ([0x0F], .malformed, "invalid wire type 7 at offset 4 of runtime.Unknown"),
        ([0x06, 0x01], .malformed, "invalid wire type 6 at offset 4 of runtime.Unknown"),
        ([0x00, 0x01], .malformed, "invalid field number 0 at offset 4 of runtime.Unknown"),
        ([0x4C], .malformed, "unexpected end-group tag for field 9 at offset 4 of runtime.Unknown"),
        ([0x5B, 0x08, 0x01], .truncated, "truncated group 11 (no end-group tag) at offset 4 of runtime.Unknown"),
        ([0x5B, 0x64], .malformed, "end-group tag for field 12 at offset 5 of runtime.Unknown closes group 11"),
        ([0x49, 0x01, 0x02], .truncated, "truncated fixed64 at offset 5 of runtime.Unknown"),
        ([0x4D, 0x01], .truncated, "truncated fixed32 at offset 5 of runtime.Unknown"),
        (
            [0x48, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], .malformed,
            "varint at offset 5 of runtime.Unknown overflows 64 bits"
        ),
        (
            [0x08, 0x01], .malformed,
            "field 1 (typeMeta) of runtime.Unknown at offset 4 has wire type varint, expected length-delimited"
        ),
        ([0x0A, 0x02, 0x0A, 0x80], .truncated, "truncated varint at offset 7 of runtime.TypeMeta"),
        (
            [0x0A, 0x03, 0x0A, 0x01, 0xFF], .malformed,
            "field 1 (apiVersion) of runtime.TypeMeta at offset 6 is not valid UTF-8"
        ),
    ])
    func garbageIsRefusedWithAnOffset(bytes: [UInt8], code: KubernetesProtobufError.Code, message: String) {
        let error = #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decode(KubernetesProtobuf.magic + bytes)
        }
        #expect(error?.code == code)
        #expect(error?.message == message)
    }

    @Test func deeplyNestedGroupsAreRefused() {
        let depth = 200
        let bytes = Array(repeating: UInt8(0x5B), count: depth) + Array(repeating: UInt8(0x5C), count: depth)
        let error = #expect(throws: KubernetesProtobufError.self) {
            try KubernetesProtobuf.decode(KubernetesProtobuf.magic + bytes)
        }
        #expect(error?.message == "groups nested more than 64 deep at offset 68 of runtime.Unknown")
    }

    @Test func errorsInsideTheObjectNameTheMessage() {
        let body = ProtobufWriter.body(kind: "Secret") { secret in
            secret.message(1) { meta in
                meta.int(1, 5)
            }
        }
        let error = #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode(body) }
        #expect(error?.code == .malformed)
        #expect(error?.message.hasPrefix("field 1 (name) of ObjectMeta at offset ") == true)
        #expect(error?.message.hasSuffix(" has wire type varint, expected length-delimited") == true)
        let badEntry = ProtobufWriter.body(kind: "ConfigMap") { configMap in
            configMap.mapEntry(2, "k", [0xC3, 0x28])
        }
        let entryError = #expect(throws: KubernetesProtobufError.self) { try KubernetesProtobuf.decode(badEntry) }
        #expect(entryError?.message.contains("(value) of ConfigMap.data") == true)
    }

    /// A fixed-seed xorshift generator, so a failure reproduces.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
    }

    @Test func randomGarbageNeverCrashes() {
        var generator = SeededGenerator(state: 0x9E37_79B9_7F4A_7C15)
        for _ in 0..<2000 {
            let length = Int.random(in: 0..<48, using: &generator)
            let garbage = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? KubernetesProtobuf.decode(KubernetesProtobuf.magic + garbage)
            _ = try? KubernetesProtobuf.decode(ProtobufWriter.body(kind: "Secret") { $0.bytes += garbage })
            _ = try? KubernetesProtobuf.decode(ProtobufWriter.body(kind: "Namespace") { $0.bytes += garbage })
        }
    }
}
