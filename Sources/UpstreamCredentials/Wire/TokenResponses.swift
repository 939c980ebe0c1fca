import Foundation

/// An RFC 6749 §5.1 / RFC 8693 §2.2.1 token response: STS, Entra ID and generic OAuth2 servers.
struct OAuth2TokenResponse: Decodable, Sendable {
    var accessToken: String
    var tokenType: String?
    /// Seconds; a number, or a numeric string (Entra v1, some servers).
    var expiresIn: Int?
    var issuedTokenType: String?
    var scope: String?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case issuedTokenType = "issued_token_type"
        case scope
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = try container.decode(String.self, forKey: .accessToken)
        tokenType = try container.decodeIfPresent(String.self, forKey: .tokenType)
        issuedTokenType = try container.decodeIfPresent(String.self, forKey: .issuedTokenType)
        scope = try container.decodeIfPresent(String.self, forKey: .scope)
        if let number = try? container.decodeIfPresent(Int.self, forKey: .expiresIn) {
            expiresIn = number
        } else if let text = try? container.decodeIfPresent(String.self, forKey: .expiresIn) {
            expiresIn = Int(text)
        } else if let number = try? container.decodeIfPresent(Double.self, forKey: .expiresIn) {
            expiresIn = Int(number)
        } else {
            expiresIn = nil
        }
    }
}

/// IAM Credentials `generateAccessToken`: `{"accessToken","expireTime"}`.
struct GenerateAccessTokenResponse: Decodable, Sendable {
    var accessToken: String
    var expireTime: String
}

/// IAM Credentials `generateIdToken`: `{"token"}`.
struct GenerateIdTokenResponse: Decodable, Sendable {
    var token: String
}

/// An RFC 6749 §5.2 error, with Entra ID's extra members.
struct OAuth2ErrorResponse: Decodable, Sendable {
    var error: String
    var errorDescription: String?
    var errorCodes: [Int]?
    var traceID: String?
    var correlationID: String?

    enum CodingKeys: String, CodingKey {
        case error
        case errorDescription = "error_description"
        case errorCodes = "error_codes"
        case traceID = "trace_id"
        case correlationID = "correlation_id"
    }
}

/// Google's error envelope: `{"error":{"code","message","status","details"}}`.
struct GoogleErrorEnvelope: Decodable, Sendable {
    struct Body: Decodable, Sendable {
        var code: Int?
        var message: String?
        var status: String?
    }

    var error: Body
}

enum WireJSON {
    static func decode<T: Decodable>(_ type: T.Type, from body: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(body))
    }

    /// Parses RFC 3339 with or without fractional seconds (`2024-05-01T12:00:00Z`, `…00.123456Z`, offsets).
    static func date(rfc3339 text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: text) { return date }
        // Google may send more than three fractional digits, which the formatter rejects: cut them.
        if let dot = text.firstIndex(of: "."), let end = text[dot...].firstIndex(where: { !$0.isNumber && $0 != "." }) {
            let digits = text[text.index(after: dot)..<end]
            if digits.count > 3 {
                let trimmed = String(text[..<dot]) + "." + digits.prefix(3) + text[end...]
                return fractional.date(from: trimmed)
            }
        }
        return nil
    }

    /// The `exp` claim of a compact JWT, read without verifying it (the issuer's own token, to learn its expiry).
    static func jwtExpiry(_ token: String) -> Date? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let exp = object["exp"] as? NSNumber
        else { return nil }
        return Date(timeIntervalSince1970: exp.doubleValue)
    }
}
