/// Hand-written JSON for the documents and tokens this module produces: members in a fixed order, no
/// whitespace, strings escaped per RFC 8259 §7.
extension Array where Element == UInt8 {
    /// Appends `string` as a JSON string literal.
    ///
    /// Escapes `"` and `\`, writes the short forms `\b \f \n \r \t` and `\u00XX` for the other control
    /// characters below U+0020; everything else, including non-ASCII, is written as its UTF-8 bytes
    /// (continuation bytes of multi-byte sequences are all ≥ 0x80, so they never need escaping).
    mutating func appendJSONString(_ string: String) {
        append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): appendEscape(byte)
            case 0x08: appendEscape(UInt8(ascii: "b"))
            case 0x0C: appendEscape(UInt8(ascii: "f"))
            case 0x0A: appendEscape(UInt8(ascii: "n"))
            case 0x0D: appendEscape(UInt8(ascii: "r"))
            case 0x09: appendEscape(UInt8(ascii: "t"))
            case 0x00..<0x20:
                append(contentsOf: "\\u00".utf8)
                append(hexDigit(byte >> 4))
                append(hexDigit(byte & 0x0F))
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }

    /// Appends a backslash and `character`.
    private mutating func appendEscape(_ character: UInt8) {
        append(UInt8(ascii: "\\"))
        append(character)
    }

    /// Appends `value` in decimal.
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(value.magnitude)
        } else {
            appendDecimal(UInt64(value))
        }
    }

    private mutating func appendDecimal(_ value: UInt64) {
        var digits: (UInt64, Int) = (value, 0)
        // Count the digits, then write them from the most significant one.
        repeat {
            digits.0 /= 10
            digits.1 += 1
        } while digits.0 > 0
        let start = count
        append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits.1))
        var rest = value
        var index = start + digits.1 - 1
        repeat {
            self[index] = UInt8(ascii: "0") + UInt8(rest % 10)
            rest /= 10
            index -= 1
        } while rest > 0
    }

    /// Appends `"name":` for a member whose name needs no escaping.
    mutating func appendJSONKey(_ name: StaticString) {
        append(UInt8(ascii: "\""))
        name.withUTF8Buffer { append(contentsOf: $0) }
        append(UInt8(ascii: "\""))
        append(UInt8(ascii: ":"))
    }

    /// Appends a JSON array of strings.
    mutating func appendJSONStringArray(_ strings: [String]) {
        append(UInt8(ascii: "["))
        for (index, string) in strings.enumerated() {
            if index > 0 { append(UInt8(ascii: ",")) }
            appendJSONString(string)
        }
        append(UInt8(ascii: "]"))
    }
}

/// The lowercase hex digit for a value below 16.
@inline(__always)
func hexDigit(_ value: UInt8) -> UInt8 {
    value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
}

/// The lowercase hex form of `bytes`.
func hexString(_ bytes: some Sequence<UInt8>, uppercase: Bool = false) -> String {
    var output: [UInt8] = []
    for byte in bytes {
        output.append(hexDigit(byte >> 4))
        output.append(hexDigit(byte & 0x0F))
    }
    let string = String(decoding: output, as: UTF8.self)
    return uppercase ? string.uppercased() : string
}

extension String {
    /// The text ending in a newline, as PEM files and concatenated bundles need.
    var withTrailingNewline: String { hasSuffix("\n") ? self : self + "\n" }
}
