public import Foundation
public import X509

/// The CA certificates a client trusts, as one PEM bundle: what the controller writes to the ConfigMap that
/// backends mount to trust the gateway's client certificates (and the gateway's own peers).
///
/// During a CA rotation the bundle holds the old and the new CA, so certificates from both verify; drop the
/// old one with ``removingExpired(at:)`` or by building the bundle anew once its leaves are gone.
public struct TrustBundle: Sendable, Hashable {
    /// The ConfigMap key, as trust-manager names it.
    public static let configMapKey = "ca.crt"

    /// The certificates, in the order added, without duplicates.
    public private(set) var certificates: [Certificate]

    public init() { certificates = [] }

    /// A bundle of the trust anchors of `authorities`.
    public init(_ authorities: some Sequence<CertificateAuthority>) {
        self.init()
        for authority in authorities { add(authority.trustAnchor) }
    }

    /// A bundle parsed from PEM (one or more `CERTIFICATE` blocks).
    ///
    /// - Throws: ``PKIError/Code/invalidPEM``.
    public init(pem: String) throws {
        self.init()
        for certificate in try PEMCertificates.parse(pem, what: "the trust bundle") { add(certificate) }
    }

    /// Adds `certificate` unless it is already there.
    public mutating func add(_ certificate: Certificate) {
        if !certificates.contains(certificate) { certificates.append(certificate) }
    }

    /// Adds every certificate of `bundle` not already there.
    public mutating func merge(_ bundle: TrustBundle) {
        for certificate in bundle.certificates { add(certificate) }
    }

    /// The bundle without the certificates that have expired at `now`.
    public func removingExpired(at now: Date) -> TrustBundle {
        var bundle = self
        bundle.certificates.removeAll { $0.notValidAfter <= now }
        return bundle
    }

    /// The PEM bundle.
    public var pem: String {
        get throws { try certificates.map(PEMCertificates.pem).joined() }
    }
}
