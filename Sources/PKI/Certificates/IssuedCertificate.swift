import CryptoExtras
public import Foundation
import SwiftASN1
import X509

/// A certificate, its key and its CA in the shape of a `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`,
/// `ca.crt`), with the times the controller schedules renewal by.
public struct IssuedCertificate: Sendable, Hashable {
    /// The Secret keys, as `kubernetes.io/tls` and cert-manager name them.
    public static let certificateKey = "tls.crt"
    public static let privateKeyKey = "tls.key"
    public static let caKey = "ca.crt"

    /// `tls.crt`: the leaf certificate, then any intermediates up to (not including) the root.
    public var certificatePEM: String
    /// `tls.key`: the leaf's private key, PKCS#8 PEM.
    public var privateKeyPEM: String
    /// `ca.crt`: the root the chain ends at, for the peer's trust store.
    public var caPEM: String
    /// The leaf's serial number, uppercase hex, as `openssl x509 -serial` prints it.
    public var serialNumber: String
    public var notBefore: Date
    public var notAfter: Date
    /// When to renew: `notAfter - renewBefore`, never before `notBefore`.
    public var renewAt: Date

    /// The Secret's `data` (before base64): `tls.crt`, `tls.key`, `ca.crt`.
    public var secretData: [String: String] {
        [Self.certificateKey: certificatePEM, Self.privateKeyKey: privateKeyPEM, Self.caKey: caPEM]
    }

    public init(
        certificatePEM: String,
        privateKeyPEM: String,
        caPEM: String,
        serialNumber: String,
        notBefore: Date,
        notAfter: Date,
        renewAt: Date
    ) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
        self.caPEM = caPEM
        self.serialNumber = serialNumber
        self.notBefore = notBefore
        self.notAfter = notAfter
        self.renewAt = renewAt
    }

    /// Reads a `kubernetes.io/tls` Secret's data back (one this module issued, or one from cert-manager), to
    /// decide when to renew it.
    ///
    /// - Parameters:
    ///   - secretData: `tls.crt` and `tls.key`, and `ca.crt` if present (else empty).
    ///   - renewBefore: How long before expiry to renew; `nil` for a third of `notAfter - notBefore` (as
    ///     cert-manager does; for a certificate issued here that includes the 5 minutes of backdating).
    /// - Throws: ``PKIError/Code/invalidPEM`` for missing or unparsable PEM, ``PKIError/Code/keyMismatch`` when
    ///   the key does not belong to the certificate.
    public init(secretData: [String: String], renewBefore: Duration? = nil) throws {
        guard let certificatePEM = secretData[Self.certificateKey], let privateKeyPEM = secretData[Self.privateKeyKey]
        else {
            throw PKIError(.invalidPEM, "the Secret needs \(Self.certificateKey) and \(Self.privateKeyKey)")
        }
        let chain = try PEMCertificates.parse(certificatePEM, what: Self.certificateKey)
        let key = try PEMCertificates.privateKey(privateKeyPEM, what: Self.privateKeyKey)
        guard key.publicKey == chain[0].publicKey else {
            throw PKIError(
                .keyMismatch,
                "\(Self.privateKeyKey) does not belong to the certificate in \(Self.certificateKey)"
            )
        }
        let leaf = chain[0]
        self.init(
            certificatePEM: certificatePEM,
            privateKeyPEM: privateKeyPEM,
            caPEM: secretData[Self.caKey] ?? "",
            serialNumber: hexString(leaf.serialNumber.bytes, uppercase: true),
            notBefore: leaf.notValidBefore,
            notAfter: leaf.notValidAfter,
            renewAt: Self.renewalTime(
                notBefore: leaf.notValidBefore,
                notAfter: leaf.notValidAfter,
                renewBefore: renewBefore
            )
        )
    }

    /// `notAfter - (renewBefore ?? lifetime / 3)`, never before `notBefore`.
    static func renewalTime(notBefore: Date, notAfter: Date, renewBefore: Duration?) -> Date {
        let lifetime = notAfter.timeIntervalSince(notBefore)
        let before = renewBefore.map(\.timeInterval) ?? lifetime / 3
        return max(notBefore, notAfter.addingTimeInterval(-before))
    }
}

/// PEM parsing shared by the CA, issued certificates and trust bundles, with this module's errors.
enum PEMCertificates {
    /// Every `CERTIFICATE` block in `pem`, in order; at least one.
    static func parse(_ pem: String, what: String) throws -> [Certificate] {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: pem)
        } catch {
            throw PKIError(.invalidPEM, "\(what) is not PEM: \(error)")
        }
        let certificates = try documents.filter { $0.discriminator == "CERTIFICATE" }.map { document in
            do {
                return try Certificate(pemDocument: document)
            } catch {
                throw PKIError(.invalidPEM, "\(what) holds a certificate that does not parse: \(error)")
            }
        }
        guard !certificates.isEmpty else { throw PKIError(.invalidPEM, "\(what) holds no certificate") }
        return certificates
    }

    /// The private key in `pem`.
    static func privateKey(_ pem: String, what: String) throws -> Certificate.PrivateKey {
        do {
            return try Certificate.PrivateKey(pemEncoded: pem)
        } catch {
            // swift-crypto refuses RSA keys under 2048 bits; say so rather than "not a key".
            if let rsa = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: pem) {
                throw PKIError(
                    .unsupportedKey,
                    "\(what) is a \(rsa.keySizeInBits)-bit RSA key; at least 2048 bits are needed"
                )
            }
            throw PKIError(.invalidPEM, "\(what) is not a private key in PEM form: \(error)")
        }
    }

    /// The PEM text of `certificate`.
    static func pem(_ certificate: Certificate) throws -> String {
        do {
            return try certificate.serializeAsPEM().pemString.withTrailingNewline
        } catch {
            throw PKIError(.invalidPEM, "cannot serialize certificate \(certificate.subject): \(error)")
        }
    }
}
