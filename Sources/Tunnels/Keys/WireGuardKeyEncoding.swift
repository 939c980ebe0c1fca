import Foundation

/// WireGuard's key text forms: standard base64 with padding (`wg`, wg-quick), lowercase hex (UAPI).
enum WireGuardKeyEncoding {
    static let keyLength = 32

    /// 32 bytes from canonical base64: 44 characters, one `=`, and no stray bits in the last character
    /// (what `wg` itself accepts), or `nil`.
    static func decode(_ text: String) -> Data? {
        guard text.utf8.count == 44, let data = Data(base64Encoded: text), data.count == keyLength,
            data.base64EncodedString() == text
        else { return nil }
        return data
    }

    /// 32 bytes from 64 hex digits, or `nil`.
    static func decodeHex(_ text: String) -> Data? {
        let digits = Array(text.utf8)
        guard digits.count == keyLength * 2 else { return nil }
        var bytes = Data(capacity: keyLength)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    static func hex(_ bytes: Data) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
