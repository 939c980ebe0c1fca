import Crypto
import CryptoExtras
public import Foundation
import SwiftASN1
public import X509

/// A certificate authority that issues the installation's TLS certificates: one it generated (ECDSA P-256,
/// self-signed) or one the user supplies (for example a cert-manager CA, with a P-256, P-384 or RSA key).
///
/// Generated CAs have: a random 20-byte positive serial; subject and issuer `CN=<commonName>, O=Portcullis`;
/// `notBefore` 5 minutes in the past; `basicConstraints` CA:TRUE (critical); `keyUsage` keyCertSign and
/// cRLSign (critical); a subjectKeyIdentifier (SHA-1 of the public key, RFC 5280 §4.2.1.2 method 1).
///
/// Leaves (``issue(_:now:)``) get a new P-256 key, a random serial, `basicConstraints` CA:FALSE (critical),
/// `keyUsage` digitalSignature (critical), the purpose's extended key usage, the SANs, subject and authority
/// key identifiers, `notBefore = now - 5 min` for clock skew and `notAfter = now + duration`, capped at the
/// CA's own `notAfter`.
public struct CertificateAuthority: Sendable {
    /// How long a generated CA is valid: 10 years.
    public static let defaultValidity = Duration.seconds(10 * 365 * 86_400)
    /// How far `notBefore` is moved into the past, for peers whose clocks are behind.
    public static let backdating = Duration.seconds(5 * 60)

    /// The CA certificate that signs.
    public let certificate: Certificate
    /// The certificates above ``certificate`` that came with it (for an intermediate CA), nearest first.
    public let chain: [Certificate]
    let privateKey: Certificate.PrivateKey
    /// The CA's key identifier, copied into each leaf's authorityKeyIdentifier.
    let keyIdentifier: ArraySlice<UInt8>

    init(certificate: Certificate, chain: [Certificate], privateKey: Certificate.PrivateKey) {
        self.certificate = certificate
        self.chain = chain
        self.privateKey = privateKey
        self.keyIdentifier =
            (try? certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            ?? SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier
    }

    /// Generates a new self-signed ECDSA P-256 CA.
    ///
    /// - Parameters:
    ///   - commonName: The subject CN.
    ///   - validity: How long it is valid from `now`.
    ///   - now: The current time.
    /// - Returns: The CA.
    /// - Throws: ``PKIError/Code/invalidRequest`` for an empty or over-long name or a validity under a day.
    public static func generate(
        commonName: String = "Portcullis CA",
        validity: Duration = defaultValidity,
        now: Date
    ) throws -> CertificateAuthority {
        guard !commonName.isEmpty, commonName.utf8.count <= 64 else {
            throw PKIError(.invalidRequest, "a CA's common name must have 1 to 64 characters")
        }
        guard validity >= .seconds(86_400) else {
            throw PKIError(.invalidRequest, "a CA must be valid for at least a day, not \(validity)")
        }
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey(compactRepresentable: false))
        let name = try x509 {
            try DistinguishedName {
                OrganizationName("Portcullis")
                CommonName(commonName)
            }
        }
        let certificate = try x509 {
            try Certificate(
                version: .v3,
                serialNumber: randomSerialNumber(),
                publicKey: key.publicKey,
                notValidBefore: now.addingTimeInterval(-backdating.timeInterval),
                notValidAfter: now.addingTimeInterval(validity.timeInterval),
                issuer: name,
                subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: Certificate.Extensions([
                    Certificate.Extension(BasicConstraints.isCertificateAuthority(maxPathLength: nil), critical: true),
                    Certificate.Extension(KeyUsage(keyCertSign: true, cRLSign: true), critical: true),
                    Certificate.Extension(SubjectKeyIdentifier(hash: key.publicKey), critical: false),
                ]),
                issuerPrivateKey: key
            )
        }
        return CertificateAuthority(certificate: certificate, chain: [], privateKey: key)
    }

    /// Loads a CA from PEM: its certificate (optionally followed by the certificates above it) and its private key.
    ///
    /// - Parameters:
    ///   - certificatePEM: The CA certificate first; then, for an intermediate CA, its issuers up to the root.
    ///   - privateKeyPEM: The CA's key: PKCS#8, SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`); ECDSA
    ///     P-256 or P-384, or RSA of 2048 bits or more.
    /// - Throws: ``PKIError/Code/invalidPEM``, ``PKIError/Code/unsupportedKey``, ``PKIError/Code/keyMismatch`` if
    ///   the key is not the certificate's, ``PKIError/Code/notACertificateAuthority`` if the certificate may
    ///   not sign certificates.
    public init(certificatePEM: String, privateKeyPEM: String) throws {
        let certificates = try PEMCertificates.parse(certificatePEM, what: "the CA certificate")
        let key = try PEMCertificates.privateKey(privateKeyPEM, what: "the CA key")
        let publicKey = key.publicKey
        guard
            P256.Signing.PublicKey(publicKey) != nil || P384.Signing.PublicKey(publicKey) != nil
                || _RSA.Signing.PublicKey(publicKey) != nil
        else {
            throw PKIError(.unsupportedKey, "a CA key must be ECDSA P-256 or P-384, or RSA; not \(key)")
        }
        let certificate = certificates[0]
        guard publicKey == certificate.publicKey else {
            throw PKIError(.keyMismatch, "the CA key does not belong to the CA certificate \(certificate.subject)")
        }
        let constraints = try? certificate.extensions.basicConstraints
        guard case .isCertificateAuthority = constraints else {
            throw PKIError(
                .notACertificateAuthority,
                "\(certificate.subject) lacks basicConstraints CA:TRUE and cannot sign certificates"
            )
        }
        if let usage = try? certificate.extensions.keyUsage, !usage.keyCertSign {
            throw PKIError(.notACertificateAuthority, "\(certificate.subject) has a keyUsage without keyCertSign")
        }
        self.init(certificate: certificate, chain: Array(certificates.dropFirst()), privateKey: key)
    }

    /// `tls.crt` of the CA Secret: the CA certificate, then its chain.
    public var certificatePEM: String {
        get throws { try ([certificate] + chain).map(PEMCertificates.pem).joined() }
    }

    /// `tls.key` of the CA Secret: the private key in PEM.
    public var privateKeyPEM: String {
        get throws {
            do {
                return try privateKey.serializeAsPEM().pemString.withTrailingNewline
            } catch {
                throw PKIError(.unsupportedKey, "cannot serialize the CA key: \(error)")
            }
        }
    }

    /// The certificate peers trust (`ca.crt`): the last certificate of the chain (the root), or the CA itself.
    public var trustAnchor: Certificate { chain.last ?? certificate }

    /// ``trustAnchor`` in PEM.
    public var trustAnchorPEM: String {
        get throws { try PEMCertificates.pem(trustAnchor) }
    }

    /// The intermediates a leaf's `tls.crt` carries after the leaf: the CA itself when it is not the trust
    /// anchor, and the chain without the anchor.
    var intermediates: [Certificate] {
        chain.isEmpty ? [] : [certificate] + chain.dropLast()
    }

    /// When the CA itself expires.
    public var notAfter: Date { certificate.notValidAfter }

    /// Issues a leaf certificate with a new P-256 key.
    ///
    /// - Parameters:
    ///   - request: Its purpose, names and lifetime.
    ///   - now: The current time.
    /// - Returns: `tls.crt`, `tls.key`, `ca.crt`, the serial number and the times.
    /// - Throws: ``PKIError/Code/invalidRequest`` for a bad request or an expired CA.
    public func issue(_ request: CertificateRequest, now: Date) throws -> IssuedCertificate {
        try request.validate()
        guard now < certificate.notValidAfter else {
            throw PKIError(.invalidRequest, "the CA \(certificate.subject) expired at \(certificate.notValidAfter)")
        }
        let swiftCryptoKey = P256.Signing.PrivateKey(compactRepresentable: false)
        let leafKey = Certificate.PrivateKey(swiftCryptoKey)
        let notBefore = max(now.addingTimeInterval(-Self.backdating.timeInterval), certificate.notValidBefore)
        let notAfter = min(now.addingTimeInterval(request.duration.timeInterval), certificate.notValidAfter)
        let serialNumber = Self.randomSerialNumber()

        let subjectCommonName = request.subjectCommonName
        let subject = try x509 {
            try DistinguishedName {
                if let subjectCommonName { CommonName(subjectCommonName) }
            }
        }
        var names: [GeneralName] = request.dnsNames.map { .dnsName($0) }
        names += request.ipAddresses.compactMap(IPAddress.bytes).map {
            .ipAddress(ASN1OctetString(contentBytes: $0[...]))
        }
        names += request.uris.map { .uniformResourceIdentifier($0) }
        let usages: [ExtendedKeyUsage.Usage] =
            switch request.purpose {
            case .server: [.serverAuth]
            case .client: [.clientAuth]
            case .peer: [.serverAuth, .clientAuth]
            }

        let certificate = try x509 {
            var extensions = Certificate.Extensions()
            try extensions.append(Certificate.Extension(BasicConstraints.notCertificateAuthority, critical: true))
            try extensions.append(Certificate.Extension(KeyUsage(digitalSignature: true), critical: true))
            try extensions.append(Certificate.Extension(ExtendedKeyUsage(usages), critical: false))
            try extensions.append(Certificate.Extension(SubjectKeyIdentifier(hash: leafKey.publicKey), critical: false))
            try extensions.append(
                Certificate.Extension(AuthorityKeyIdentifier(keyIdentifier: keyIdentifier), critical: false)
            )
            if !names.isEmpty {
                // RFC 5280 §4.2.1.6: critical when the subject is empty.
                try extensions.append(
                    Certificate.Extension(SubjectAlternativeNames(names), critical: subjectCommonName == nil)
                )
            }
            return try Certificate(
                version: .v3,
                serialNumber: serialNumber,
                publicKey: leafKey.publicKey,
                notValidBefore: notBefore,
                notValidAfter: notAfter,
                issuer: self.certificate.subject,
                subject: subject,
                extensions: extensions,
                issuerPrivateKey: privateKey
            )
        }

        return IssuedCertificate(
            certificatePEM: try ([certificate] + intermediates).map(PEMCertificates.pem).joined(),
            privateKeyPEM: swiftCryptoKey.pemRepresentation.withTrailingNewline,
            caPEM: try trustAnchorPEM,
            serialNumber: hexString(serialNumber.bytes, uppercase: true),
            notBefore: certificate.notValidBefore,
            notAfter: certificate.notValidAfter,
            renewAt: IssuedCertificate.renewalTime(
                notBefore: certificate.notValidBefore,
                notAfter: certificate.notValidAfter,
                // A third of the lifetime from now (shorter than requested when the CA expires first).
                renewBefore: request.renewBefore ?? .seconds(notAfter.timeIntervalSince(now) / 3)
            )
        )
    }

    /// A random positive serial of exactly 20 bytes (RFC 5280 §4.1.2.2 allows at most 20): 159 random bits
    /// with the top bit clear, the first byte never zero.
    static func randomSerialNumber() -> Certificate.SerialNumber {
        var generator = SystemRandomNumberGenerator()
        var bytes = (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        bytes[0] = max(bytes[0] & 0x7F, 1)
        return Certificate.SerialNumber(bytes: bytes)
    }

    /// Runs `body`, turning swift-certificates' errors into ``PKIError``s.
    static func x509<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError(.invalidRequest, "cannot build the certificate: \(error)")
        }
    }

    func x509<T>(_ body: () throws -> T) throws -> T { try Self.x509(body) }
}

extension CertificateAuthority: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String { "CertificateAuthority(\(certificate.subject), notAfter: \(notAfter))" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["certificate": certificate, "chain": chain]) }
}
