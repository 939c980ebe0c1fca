/// Removes token material from text that is about to become an error message.
enum Redaction {
    /// The longest message kept; the rest is cut (token services do not write essays, attackers might).
    static let maximumLength = 1024

    /// `secret` as it may come back from a token service: raw, form-encoded (echoed from a request body) and as
    /// HTTP Basic credentials with `clientID`.
    static func variants(of secret: String, clientID: String? = nil) -> [String] {
        var variants = [secret, FormEncoding.escape(secret)]
        if let clientID {
            let basic = FormEncoding.escape(clientID) + ":" + FormEncoding.escape(secret)
            variants.append(Base64.encode(Array(basic.utf8)))
        }
        return variants
    }

    /// `text` without any of `secrets` (each replaced by `[redacted]`) and without JWT-shaped words
    /// (three base64url segments joined by dots, the first starting `eyJ`), cut to ``maximumLength`` characters.
    static func redact(_ text: String, removing secrets: [String]) -> String {
        var result = text
        for secret in secrets where secret.count >= 4 {
            result = result.replacingAll(secret, with: "[redacted]")
        }
        result = removingJWTs(result)
        if result.count > maximumLength {
            result = String(result.prefix(maximumLength)) + "…"
        }
        return result
    }

    private static func removingJWTs(_ text: String) -> String {
        guard text.contains("eyJ") else { return text }
        var output = ""
        var word = ""
        func flush() {
            output += looksLikeJWT(word) ? "[redacted JWT]" : word
            word = ""
        }
        for character in text {
            if character.isLetter && character.isASCII || character.isNumber && character.isASCII
                || character == "-" || character == "_" || character == "." || character == "="
            {
                word.append(character)
            } else {
                flush()
                output.append(character)
            }
        }
        flush()
        return output
    }

    private static func looksLikeJWT(_ word: String) -> Bool {
        guard word.hasPrefix("eyJ") else { return false }
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count >= 2 && parts[0].count >= 10 && parts[1].count >= 2
    }
}

/// Standard base64 with padding, without Foundation.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let b0 = bytes[index]
            let b1 = index + 1 < bytes.count ? bytes[index + 1] : 0
            let b2 = index + 2 < bytes.count ? bytes[index + 2] : 0
            output.append(alphabet[Int(b0 >> 2)])
            output.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            output.append(index + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            output.append(index + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: output, as: UTF8.self)
    }
}

extension String {
    /// Replaces every occurrence of `target` with `replacement`, without Foundation.
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, self.contains(target) else { return self }
        var result = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }
}
