/// Base64url without padding (RFC 4648 §5), as JWS and JWK use it.
enum Base64URL {
    private static let alphabet: [UInt8] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8
    )

    /// The length of the unpadded encoding of `count` bytes.
    static func encodedLength(_ count: Int) -> Int { (count * 4 + 2) / 3 }

    /// Appends the encoding of `bytes` to `output`.
    static func encode(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8]) {
        output.reserveCapacity(output.count + encodedLength(bytes.count))
        alphabet.withUnsafeBufferPointer { table in
            var index = 0
            let count = bytes.count
            while index + 3 <= count {
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
                output.append(table[Int(value >> 18 & 0x3F)])
                output.append(table[Int(value >> 12 & 0x3F)])
                output.append(table[Int(value >> 6 & 0x3F)])
                output.append(table[Int(value & 0x3F)])
                index += 3
            }
            switch count - index {
            case 1:
                let value = UInt32(bytes[index]) << 16
                output.append(table[Int(value >> 18 & 0x3F)])
                output.append(table[Int(value >> 12 & 0x3F)])
            case 2:
                let value = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8
                output.append(table[Int(value >> 18 & 0x3F)])
                output.append(table[Int(value >> 12 & 0x3F)])
                output.append(table[Int(value >> 6 & 0x3F)])
            default:
                break
            }
        }
    }

    /// Appends the encoding of `bytes` to `output`.
    static func encode(_ bytes: some Sequence<UInt8>, into output: inout [UInt8]) {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ encode(UnsafeRawBufferPointer($0), into: &output) }
        ) {
            return done
        }
        Array(bytes).withUnsafeBytes { encode($0, into: &output) }
    }

    /// The encoding of `bytes` as a string.
    static func encodedString(_ bytes: some Sequence<UInt8>) -> String {
        var output: [UInt8] = []
        encode(bytes, into: &output)
        return String(decoding: output, as: UTF8.self)
    }
}
