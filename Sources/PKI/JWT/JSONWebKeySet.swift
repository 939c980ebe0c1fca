/// A JWK Set (RFC 7517 §5), `{"keys":[...]}`, as served at `<issuer>/.well-known/jwks.json`.
///
/// Serve it with ``mediaType`` and a `Cache-Control: max-age` no longer than the key ring's publish lead.
public struct JSONWebKeySet: Sendable, Hashable, Codable {
    /// The media type of a JWK Set (RFC 7517 §8.5).
    public static let mediaType = "application/jwk-set+json"

    public var keys: [JSONWebKey]

    public init(keys: [JSONWebKey]) { self.keys = keys }

    /// The set of the public halves of `signingKeys`, in the order given.
    public init(_ signingKeys: some Sequence<SigningKey>) {
        keys = signingKeys.map(\.publicJWK)
    }

    /// The compact JSON document.
    public var json: String {
        var bytes: [UInt8] = Array(#"{"keys":["#.utf8)
        for (index, key) in keys.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            key.appendJSON(to: &bytes)
        }
        bytes.append(contentsOf: "]}".utf8)
        return String(decoding: bytes, as: UTF8.self)
    }
}
