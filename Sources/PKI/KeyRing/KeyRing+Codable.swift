import Foundation

/// The stored form, for a Secret:
///
/// ```json
/// {"configuration":{"rotationIntervalSeconds":2592000,"publishLeadSeconds":86400,...},
///  "keys":[{"key":{"alg":"ES256","kid":"…","privateKey":"-----BEGIN PRIVATE KEY-----…"},
///           "publishedAt":"2026-01-01T00:00:00Z","activatesAt":"2026-01-02T00:00:00Z",
///           "retiresAt":null,"removeAt":null}]}
/// ```
///
/// Times are RFC 3339 in UTC, whole seconds, so the encoding does not depend on the encoder's date strategy and a
/// round trip is exact.
extension KeyRing: Codable {
    enum CodingKeys: String, CodingKey {
        case configuration
        case keys
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        configuration = try container.decode(Configuration.self, forKey: .configuration)
        entries = try container.decode([Entry].self, forKey: .keys)
        var seen: Set<String> = []
        for entry in entries {
            guard seen.insert(entry.key.kid).inserted else {
                throw PKIError(.invalidState, "key \(entry.key.kid) appears twice in the stored key ring")
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(configuration, forKey: .configuration)
        try container.encode(entries, forKey: .keys)
    }
}

extension KeyRing.Entry: Codable {
    enum CodingKeys: String, CodingKey {
        case key
        case publishedAt
        case activatesAt
        case retiresAt
        case removeAt
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        key = try container.decode(SigningKey.self, forKey: .key)
        publishedAt = try Self.date(container.decode(String.self, forKey: .publishedAt))
        activatesAt = try Self.date(container.decode(String.self, forKey: .activatesAt))
        retiresAt = try container.decodeIfPresent(String.self, forKey: .retiresAt).map(Self.date)
        removeAt = try container.decodeIfPresent(String.self, forKey: .removeAt).map(Self.date)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
        try container.encode(Self.string(publishedAt), forKey: .publishedAt)
        try container.encode(Self.string(activatesAt), forKey: .activatesAt)
        try container.encode(retiresAt.map(Self.string), forKey: .retiresAt)
        try container.encode(removeAt.map(Self.string), forKey: .removeAt)
    }

    private static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    private static func date(_ string: String) throws -> Date {
        do {
            return try Date(string, strategy: Date.ISO8601FormatStyle(timeZone: .gmt))
        } catch {
            throw PKIError(.invalidState, "stored time \(string) is not RFC 3339: \(error)")
        }
    }
}
