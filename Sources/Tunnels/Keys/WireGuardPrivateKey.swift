public import Foundation
import Crypto

/// A WireGuard private key: a Curve25519 scalar, clamped as `wg genkey` clamps it.
///
/// It prints as `<redacted>` everywhere (`description`, `debugDescription`, `dump`), so it cannot reach a
/// log, an event or an error message by accident; ``base64`` is for writing it into a Secret or a config.
public struct WireGuardPrivateKey: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The 32 key bytes.
    public let rawRepresentation: Data

    /// A new random key, clamped (RFC 7748: the low 3 bits cleared, bit 254 set, bit 255 cleared).
    public static func generate() -> WireGuardPrivateKey {
        var bytes = [UInt8](Curve25519.KeyAgreement.PrivateKey().rawRepresentation)
        bytes[0] &= 248
        bytes[31] = (bytes[31] & 127) | 64
        return WireGuardPrivateKey(checked: Data(bytes))
    }

    /// The key from its 32 raw bytes.
    ///
    /// - Throws: ``WireGuardError/Code/invalidKey`` when there are not exactly 32 bytes.
    public init(rawRepresentation: Data) throws {
        guard rawRepresentation.count == WireGuardKeyEncoding.keyLength else {
            throw WireGuardError(.invalidKey, "a WireGuard private key is 32 bytes, not \(rawRepresentation.count)")
        }
        self.init(checked: rawRepresentation)
    }

    /// The key from WireGuard's text form: 32 bytes in standard base64 (44 characters ending in `=`).
    ///
    /// - Parameter field: Names the value in the error, such as `Secret shop/db-tunnel-keys key privateKey`.
    /// - Throws: ``WireGuardError/Code/invalidKey``, naming `field` but never quoting the value.
    public init(base64: String, field: String = "private key") throws {
        guard let bytes = WireGuardKeyEncoding.decode(base64) else {
            throw WireGuardError(.invalidKey, "\(field): not a WireGuard key (32 bytes in standard base64, 44 characters ending in '=')")
        }
        self.init(checked: bytes)
    }

    private init(checked bytes: Data) { rawRepresentation = bytes }

    /// The key in WireGuard's text form, for Secrets and wg-quick configs only.
    public var base64: String { rawRepresentation.base64EncodedString() }

    /// The key in lowercase hex, as the UAPI protocol wants it.
    var hex: String { WireGuardKeyEncoding.hex(rawRepresentation) }

    /// The matching public key: X25519 of the key and the base point 9.
    public var publicKey: WireGuardPublicKey {
        // 32 bytes always make a valid X25519 private key.
        let key = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: rawRepresentation)
        return try! WireGuardPublicKey(rawRepresentation: key.publicKey.rawRepresentation)
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: []) }
}
