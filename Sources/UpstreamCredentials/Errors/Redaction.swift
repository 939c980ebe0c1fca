/// Removes token material from text that is about to become an error message.
enum Redaction {
    /// The longest message kept; the rest is cut (token services do not write essays, attackers might).
    static let maximumLength = 1024

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
