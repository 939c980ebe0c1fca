/// A reader of the protobuf wire format over a slice of a request body.
///
/// Offsets in error messages are indices into the whole body, since slices keep their base's indices.
struct ProtobufReader {
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case startGroup = 3
        case endGroup = 4
        case fixed32 = 5

        var name: String {
            switch self {
            case .varint: return "varint"
            case .fixed64: return "fixed64"
            case .lengthDelimited: return "length-delimited"
            case .startGroup: return "start-group"
            case .endGroup: return "end-group"
            case .fixed32: return "fixed32"
            }
        }
    }

    /// A field's key: its number, its wire type and the offset of the key.
    struct Field {
        var number: Int
        var wireType: WireType
        var offset: Int
    }

    /// Groups nested deeper than this are refused rather than followed.
    static let maximumGroupDepth = 64

    private var bytes: ArraySlice<UInt8>
    /// The message being read, for error messages (`ObjectMeta`).
    let messageName: String

    init(_ bytes: ArraySlice<UInt8>, messageName: String) {
        self.bytes = bytes
        self.messageName = messageName
    }

    var isAtEnd: Bool { bytes.isEmpty }

    private func truncated(_ what: String, at offset: Int) -> KubernetesProtobufError {
        KubernetesProtobufError(.truncated, "truncated \(what) at offset \(offset) of \(messageName)")
    }

    private func malformed(_ what: String) -> KubernetesProtobufError {
        KubernetesProtobufError(.malformed, what)
    }

    /// The next field's key, or `nil` at the end of the message.
    mutating func nextField() throws(KubernetesProtobufError) -> Field? {
        guard !bytes.isEmpty else { return nil }
        let offset = bytes.startIndex
        let key = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw malformed("invalid wire type \(key & 7) at offset \(offset) of \(messageName)")
        }
        let number = key >> 3
        guard number >= 1, number <= (1 << 29) - 1 else {
            throw malformed("invalid field number \(number) at offset \(offset) of \(messageName)")
        }
        return Field(number: Int(number), wireType: wireType, offset: offset)
    }

    mutating func readVarint() throws(KubernetesProtobufError) -> UInt64 {
        let offset = bytes.startIndex
        var value: UInt64 = 0
        for shift in stride(from: UInt64(0), to: 70, by: 7) {
            guard let byte = bytes.popFirst() else { throw truncated("varint", at: offset) }
            if shift == 63 && byte > 1 {
                throw malformed("varint at offset \(offset) of \(messageName) overflows 64 bits")
            }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
        }
        throw malformed("varint at offset \(offset) of \(messageName) is longer than 10 bytes")
    }

    mutating func readLengthDelimited() throws(KubernetesProtobufError) -> ArraySlice<UInt8> {
        let offset = bytes.startIndex
        let length = try readVarint()
        guard length <= UInt64(bytes.count) else {
            throw KubernetesProtobufError(
                .truncated,
                "truncated field at offset \(offset) of \(messageName): length \(length) exceeds the \(bytes.count) remaining bytes"
            )
        }
        let value = bytes.prefix(Int(length))
        bytes = bytes.dropFirst(Int(length))
        return value
    }

    private mutating func readFixed(_ size: Int, _ what: String) throws(KubernetesProtobufError) {
        guard bytes.count >= size else { throw truncated(what, at: bytes.startIndex) }
        bytes = bytes.dropFirst(size)
    }

    /// Skips a field's value, whatever its wire type (groups included, to a bounded depth).
    mutating func skip(_ field: Field) throws(KubernetesProtobufError) {
        try skip(field, depth: 0)
    }

    private mutating func skip(_ field: Field, depth: Int) throws(KubernetesProtobufError) {
        switch field.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: try readFixed(8, "fixed64")
        case .fixed32: try readFixed(4, "fixed32")
        case .lengthDelimited: _ = try readLengthDelimited()
        case .endGroup:
            throw malformed(
                "unexpected end-group tag for field \(field.number) at offset \(field.offset) of \(messageName)"
            )
        case .startGroup:
            guard depth < ProtobufReader.maximumGroupDepth else {
                throw malformed(
                    "groups nested more than \(ProtobufReader.maximumGroupDepth) deep at offset \(field.offset) of \(messageName)"
                )
            }
            while true {
                guard let inner = try nextField() else {
                    throw truncated("group \(field.number) (no end-group tag)", at: field.offset)
                }
                if inner.wireType == .endGroup {
                    guard inner.number == field.number else {
                        throw malformed(
                            "end-group tag for field \(inner.number) at offset \(inner.offset) of \(messageName) closes group \(field.number)"
                        )
                    }
                    return
                }
                try skip(inner, depth: depth + 1)
            }
        }
    }

    private func expect(_ field: Field, _ wireType: WireType, _ name: String) throws(KubernetesProtobufError) {
        guard field.wireType == wireType else {
            throw malformed(
                "field \(field.number) (\(name)) of \(messageName) at offset \(field.offset) has wire type \(field.wireType.name), expected \(wireType.name)"
            )
        }
    }

    /// The bytes of a length-delimited field (an embedded message, `bytes`).
    mutating func bytes(_ field: Field, _ name: String) throws(KubernetesProtobufError) -> ArraySlice<UInt8> {
        try expect(field, .lengthDelimited, name)
        return try readLengthDelimited()
    }

    /// A `string` field, which must be valid UTF-8.
    mutating func string(_ field: Field, _ name: String) throws(KubernetesProtobufError) -> String {
        let value = try bytes(field, name)
        guard let string = String(validating: value, as: UTF8.self) else {
            throw malformed(
                "field \(field.number) (\(name)) of \(messageName) at offset \(field.offset) is not valid UTF-8"
            )
        }
        return string
    }

    /// An `int64` field.
    mutating func int64(_ field: Field, _ name: String) throws(KubernetesProtobufError) -> Int64 {
        try expect(field, .varint, name)
        return Int64(bitPattern: try readVarint())
    }

    /// A `bool` field.
    mutating func bool(_ field: Field, _ name: String) throws(KubernetesProtobufError) -> Bool {
        try expect(field, .varint, name)
        return try readVarint() != 0
    }
}
