public import Foundation

/// A WireGuard public key: a Curve25519 point, shown in WireGuard's base64 text form.
public struct WireGuardPublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 key bytes.
    public let rawRepresentation: Data

    /// The key from its 32 raw bytes.
    ///
    /// - Throws: ``WireGuardError/Code/invalidKey`` when there are not exactly 32 bytes.
    public init(rawRepresentation: Data) throws {
        guard rawRepresentation.count == WireGuardKeyEncoding.keyLength else {
            throw WireGuardError(.invalidKey, "a WireGuard public key is 32 bytes, not \(rawRepresentation.count)")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// The key from WireGuard's text form: 32 bytes in standard base64 (44 characters ending in `=`).
    ///
    /// - Parameter field: Names the value in the error, such as `spec.wireGuard.peerPublicKey`.
    /// - Throws: ``WireGuardError/Code/invalidKey`` naming `field` and the value.
    public init(base64: String, field: String = "public key") throws {
        guard let bytes = WireGuardKeyEncoding.decode(base64) else {
            throw WireGuardError(.invalidKey, "\(field): \"\(base64)\" is not a WireGuard key (32 bytes in standard base64, 44 characters ending in '=')")
        }
        rawRepresentation = bytes
    }

    /// The key from the UAPI protocol's lowercase hex form.
    init(hex: String) throws {
        guard let bytes = WireGuardKeyEncoding.decodeHex(hex) else {
            throw WireGuardError(.protocolError, "\"\(hex)\" is not a hex-encoded WireGuard key")
        }
        rawRepresentation = bytes
    }

    /// The key in WireGuard's text form.
    public var base64: String { rawRepresentation.base64EncodedString() }

    /// The key in lowercase hex, as the UAPI protocol wants it.
    var hex: String { WireGuardKeyEncoding.hex(rawRepresentation) }

    public var description: String { base64 }
}
