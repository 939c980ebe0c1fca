/// Finds the first object member name that occurs twice in the same object of a JSON text.
///
/// `JSONDecoder` silently keeps one of the duplicates; RFC 6902 (appendix A.13) wants a patch
/// operation with two `op` members refused, so patch decoding checks the text with this first.
/// The text must already be valid JSON: this scanner only tracks strings and nesting.
enum JSONDuplicateMembers {
    /// The first duplicated member name, or `nil` when every object's names are distinct.
    static func firstDuplicate(in text: String) -> String? {
        var bytes = Array(text.utf8)[...]
        // One entry per open container: the names seen so far, or nil for an array.
        var stack: [Set<String>?] = []
        var expectingName = false
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "{"):
                stack.append([])
                expectingName = true
            case UInt8(ascii: "["):
                stack.append(nil)
                expectingName = false
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = stack.popLast()
                expectingName = false
            case UInt8(ascii: ","):
                expectingName = stack.last.map { $0 != nil } ?? false
            case UInt8(ascii: "\""):
                guard let string = scanString(&bytes) else { return nil }
                if expectingName, let names = stack.last, var seen = names {
                    if !seen.insert(string).inserted { return string }
                    stack[stack.count - 1] = seen
                }
                expectingName = false
            default:
                break
            }
        }
        return nil
    }

    /// Reads the rest of a string whose opening quote was consumed, decoding escapes.
    private static func scanString(_ bytes: inout ArraySlice<UInt8>) -> String? {
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll()
        }
        var pendingHighSurrogate: UInt32?
        while let byte = bytes.popFirst() {
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return String(scalars)
            case UInt8(ascii: "\\"):
                flush()
                guard let escaped = bytes.popFirst() else { return nil }
                let simple: Unicode.Scalar?
                switch escaped {
                case UInt8(ascii: "b"): simple = "\u{08}"
                case UInt8(ascii: "f"): simple = "\u{0C}"
                case UInt8(ascii: "n"): simple = "\n"
                case UInt8(ascii: "r"): simple = "\r"
                case UInt8(ascii: "t"): simple = "\t"
                case UInt8(ascii: "u"): simple = nil
                default: simple = Unicode.Scalar(escaped)
                }
                if let simple {
                    scalars.append(simple)
                    continue
                }
                guard bytes.count >= 4, let code = UInt32(String(decoding: bytes.prefix(4), as: UTF8.self), radix: 16)
                else { return nil }
                bytes = bytes.dropFirst(4)
                if (0xD800..<0xDC00).contains(code) {
                    pendingHighSurrogate = code
                } else if (0xDC00..<0xE000).contains(code), let high = pendingHighSurrogate {
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                    scalars.append(Unicode.Scalar(combined) ?? "\u{FFFD}")
                    pendingHighSurrogate = nil
                } else {
                    scalars.append(Unicode.Scalar(code) ?? "\u{FFFD}")
                }
            default:
                raw.append(byte)
            }
        }
        return nil
    }
}
