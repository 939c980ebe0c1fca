public import Foundation

/// Mints compact JWS tokens with one ``SigningKey`` on the request path, with swift-crypto directly.
///
/// The header `{"alg":…,"kid":…,"typ":"JWT"}` is encoded once, here; each ``mint(_:now:)`` writes the payload
/// JSON into one preallocated buffer (the claims were escaped when the ``JWTClaims`` were made), base64url
/// encodes it after the header, signs, and appends the signature. The value is immutable and `Sendable`: make
/// one per key when the key ring's signing key changes, and share it between event loops.
///
/// Cost per token is the signature's (measured here: EdDSA ≈ 10 µs, ES256 ≈ 13–20 µs, RS256 ≈ 430 µs) plus about
/// 2 µs: cache tokens per audience until ``MintedToken/refreshAt(before:)``.
public struct JWTSigner: Sendable {
    public let key: SigningKey
    /// `base64url(header) "."`.
    let headerPrefix: [UInt8]

    public init(key: SigningKey) {
        self.key = key
        var header: [UInt8] = [UInt8(ascii: "{")]
        header.appendJSONKey("alg")
        header.appendJSONString(key.algorithm.rawValue)
        header.append(UInt8(ascii: ","))
        header.appendJSONKey("kid")
        header.appendJSONString(key.kid)
        header.append(contentsOf: #","typ":"JWT"}"#.utf8)
        var prefix: [UInt8] = []
        Base64URL.encode(header, into: &prefix)
        prefix.append(UInt8(ascii: "."))
        headerPrefix = prefix
    }

    /// The encoded header, without the trailing dot.
    public var encodedHeader: String { String(decoding: headerPrefix.dropLast(), as: UTF8.self) }

    /// Mints a token for `claims`, issued at `now` (whole seconds, rounded down).
    ///
    /// - Parameters:
    ///   - claims: The validated claims.
    ///   - now: The issue time, from the caller's clock.
    /// - Returns: The token, its `kid`, and its issue and expiry times.
    /// - Throws: What swift-crypto throws if signing fails.
    public func mint(_ claims: JWTClaims, now: Date) throws -> MintedToken {
        let issuedAt = Int64(now.timeIntervalSince1970.rounded(.down))
        var payload: [UInt8] = []
        payload.reserveCapacity(claims.prefix.count + claims.suffix.count + 128)
        claims.appendPayload(issuedAt: issuedAt, to: &payload)

        var token: [UInt8] = []
        token.reserveCapacity(headerPrefix.count + Base64URL.encodedLength(payload.count) + 1 + Self.maxSignatureLength)
        token.append(contentsOf: headerPrefix)
        payload.withUnsafeBytes { Base64URL.encode($0, into: &token) }
        let signature = try token.withUnsafeBytes { try key.signature(for: $0) }
        token.append(UInt8(ascii: "."))
        signature.withUnsafeBytes { Base64URL.encode($0, into: &token) }

        return MintedToken(
            token: String(decoding: token, as: UTF8.self),
            kid: key.kid,
            issuedAt: Date(timeIntervalSince1970: TimeInterval(issuedAt)),
            expiresAt: Date(timeIntervalSince1970: TimeInterval(issuedAt + claims.ttlSeconds))
        )
    }

    /// The longest base64url signature: RSA 4096 (512 bytes).
    private static let maxSignatureLength = Base64URL.encodedLength(512)
}

/// Appends a random (version 4) UUID in lowercase, 36 characters: a 122-bit random `jti`.
func appendRandomUUID(to output: inout [UInt8]) {
    var generator = SystemRandomNumberGenerator()
    // The version nibble (4) and the RFC 4122 variant bits (10).
    let high = generator.next() & 0xFFFF_FFFF_FFFF_0FFF | 0x0000_0000_0000_4000
    let low = generator.next() & 0x3FFF_FFFF_FFFF_FFFF | 0x8000_0000_0000_0000
    appendHex(high, dashesBefore: (8, 12), to: &output)
    output.append(UInt8(ascii: "-"))
    appendHex(low, dashesBefore: (4, 16), to: &output)
}

/// Appends the 16 hex digits of `word`, with a dash before the digits at the two positions given (16 is none).
private func appendHex(_ word: UInt64, dashesBefore dashes: (Int, Int), to output: inout [UInt8]) {
    for nibble in 0..<16 {
        if nibble == dashes.0 || nibble == dashes.1 { output.append(UInt8(ascii: "-")) }
        output.append(hexDigit(UInt8(truncatingIfNeeded: word >> UInt64(60 - nibble * 4)) & 0x0F))
    }
}
