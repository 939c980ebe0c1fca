import Crypto
import CryptoExtras
import Foundation
import PKI
import SwiftASN1
import Testing
@_spi(FixedExpiryValidationTime) import X509

@Suite struct CertificateAuthorityTests {
    @Test func generatedCAIsASelfSignedP256Root() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let certificate = ca.certificate
        #expect(certificate.issuer == certificate.subject)
        #expect(certificate.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(P256.Signing.PublicKey(certificate.publicKey) != nil)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))

        let constraints = try #require(certificate.extensions[oid: .X509ExtensionID.basicConstraints])
        #expect(constraints.critical)
        #expect(try certificate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        let usage = try #require(certificate.extensions[oid: .X509ExtensionID.keyUsage])
        #expect(usage.critical)
        #expect(try certificate.extensions.keyUsage == KeyUsage(keyCertSign: true, cRLSign: true))
        #expect(try certificate.extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: certificate.publicKey))

        #expect(certificate.notValidBefore == referenceTime.addingTimeInterval(-300))
        #expect(certificate.notValidAfter == referenceTime.addingTimeInterval(10 * 365 * 86_400))

        let serial = certificate.serialNumber.bytes
        #expect(serial.count == 20)
        #expect(serial.first! & 0x80 == 0 && serial.first! != 0)
    }

    @Test func serialNumbersDiffer() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let serials = try (0..<20).map { _ in try ca.issue(.client(commonName: "c"), now: referenceTime).serialNumber }
        #expect(Set(serials).count == serials.count)
        #expect(serials.allSatisfy { $0.count == 40 && $0.allSatisfy(\.isHexDigit) })
    }

    @Test func exportedPEMLoadsBack() throws {
        let ca = try CertificateAuthority.generate(commonName: "Round Trip CA", now: referenceTime)
        let loaded = try CertificateAuthority(
            certificatePEM: try ca.certificatePEM,
            privateKeyPEM: try ca.privateKeyPEM
        )
        #expect(loaded.certificate == ca.certificate)
        #expect(try loaded.privateKeyPEM == ca.privateKeyPEM)
        #expect(try loaded.trustAnchorPEM == ca.certificatePEM)
        // A leaf issued by the reloaded CA chains to the original.
        let leaf = try loaded.issue(.loopbackServer(), now: referenceTime)
        let certificate = try Certificate(pemEncoded: leaf.certificatePEM)
        #expect(ca.certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
    }

    @Test func serverCertificateVerifiesForLoopbackNames() async throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let issued = try ca.issue(.loopbackServer(duration: .seconds(30 * 86_400)), now: referenceTime)
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(issued.caPEM == (try ca.certificatePEM))

        for (hostname, ip) in [("localhost", nil), (nil, "127.0.0.1"), (nil, "::1")] as [(String?, String?)] {
            var verifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
                RFC5280Policy(fixedExpiryValidationTime: referenceTime.addingTimeInterval(86_400))
                ServerIdentityPolicy(serverHostname: hostname, serverIP: ip)
                RequireExtendedKeyUsage(usage: .serverAuth)
            }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
            guard case .validCertificate(let chain) = result else {
                Issue.record("\(hostname ?? ip ?? "") did not verify: \(result)")
                continue
            }
            #expect(Array(chain) == [leaf, ca.certificate])
        }

        var wrongName = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: referenceTime.addingTimeInterval(86_400))
            ServerIdentityPolicy(serverHostname: "example.com", serverIP: nil)
        }
        guard case .couldNotValidate = await wrongName.validate(leaf: leaf, intermediates: CertificateStore()) else {
            Issue.record("a certificate for localhost verified for example.com")
            return
        }
    }

    @Test func serverCertificateCarriesItsExtensions() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let issued = try ca.issue(.loopbackServer(), now: referenceTime)
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        let sans = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(
            Array(sans) == [
                .dnsName("localhost"),
                .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
                .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
            ]
        )
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth]))
        #expect(try leaf.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true))
        #expect(leaf.extensions[oid: .X509ExtensionID.keyUsage]?.critical == true)
        #expect(
            try leaf.extensions.authorityKeyIdentifier?.keyIdentifier
                == ca.certificate.extensions.subjectKeyIdentifier?.keyIdentifier
        )
        #expect(try leaf.extensions.subjectKeyIdentifier == SubjectKeyIdentifier(hash: leaf.publicKey))
        #expect(leaf.subject == (try DistinguishedName { CommonName("localhost") }))
        #expect(leaf.issuer == ca.certificate.subject)
        #expect(P256.Signing.PublicKey(leaf.publicKey) != nil)
        #expect(try Certificate.PrivateKey(pemEncoded: issued.privateKeyPEM).publicKey == leaf.publicKey)
        #expect(issued.serialNumber == leaf.serialNumber.bytes.map { String(format: "%02X", $0) }.joined())
    }

    @Test func clientCertificateHasClientAuthAndURISANs() async throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let request = CertificateRequest.client(
            commonName: "portcullis:default:payments",
            dnsNames: ["gateway.portcullis.svc"],
            uris: ["spiffe://cluster.local/ns/portcullis/sa/gateway"]
        )
        let issued = try ca.issue(request, now: referenceTime)
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(leaf.subject == (try DistinguishedName { CommonName("portcullis:default:payments") }))
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.clientAuth]))
        #expect(
            Array(try #require(try leaf.extensions.subjectAlternativeNames)) == [
                .dnsName("gateway.portcullis.svc"),
                .uniformResourceIdentifier("spiffe://cluster.local/ns/portcullis/sa/gateway"),
            ]
        )

        var clientVerifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: referenceTime.addingTimeInterval(3600))
            RequireExtendedKeyUsage(usage: .clientAuth)
        }
        guard case .validCertificate = await clientVerifier.validate(leaf: leaf, intermediates: CertificateStore())
        else {
            Issue.record("client certificate did not verify")
            return
        }
        var serverVerifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
            RFC5280Policy(fixedExpiryValidationTime: referenceTime.addingTimeInterval(3600))
            RequireExtendedKeyUsage(usage: .serverAuth)
        }
        guard case .couldNotValidate = await serverVerifier.validate(leaf: leaf, intermediates: CertificateStore())
        else {
            Issue.record("a clientAuth-only certificate passed as a server certificate")
            return
        }
    }

    @Test func validityIsBackdatedAndRenewalIsAThirdBeforeExpiry() async throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let issued = try ca.issue(.client(commonName: "c", duration: .seconds(86_400)), now: referenceTime)
        #expect(issued.notBefore == referenceTime.addingTimeInterval(-300))
        #expect(issued.notAfter == referenceTime.addingTimeInterval(86_400))
        #expect(issued.renewAt == referenceTime.addingTimeInterval(86_400 - 86_400.0 / 3))

        let explicit = try ca.issue(
            .client(commonName: "c", duration: .seconds(86_400), renewBefore: .seconds(3600)),
            now: referenceTime
        )
        #expect(explicit.renewAt == referenceTime.addingTimeInterval(86_400 - 3600))

        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        for (time, valid) in [
            (referenceTime.addingTimeInterval(-60), true),  // within the backdating: a peer's clock is behind
            (referenceTime.addingTimeInterval(-600), false),
            (referenceTime.addingTimeInterval(86_399), true),
            (referenceTime.addingTimeInterval(86_401), false),
        ] {
            var verifier = Verifier(rootCertificates: CertificateStore([ca.certificate])) {
                RFC5280Policy(fixedExpiryValidationTime: time)
            }
            let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore())
            if case .validCertificate = result {
                #expect(valid, "valid at \(time)")
            } else {
                #expect(!valid, "invalid at \(time)")
            }
        }
    }

    @Test func leafNeverOutlivesItsCA() throws {
        let ca = try CertificateAuthority.generate(validity: .seconds(2 * 86_400), now: referenceTime)
        let issued = try ca.issue(.loopbackServer(duration: .seconds(30 * 86_400)), now: referenceTime)
        #expect(issued.notAfter == ca.notAfter)
        #expect(issued.renewAt < issued.notAfter)
        #expect(throws: PKIError(.invalidRequest)) {
            try ca.issue(.loopbackServer(), now: ca.notAfter.addingTimeInterval(1))
        }
    }

    @Test func secretDataHasTheTLSLayoutAndReadsBack() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let issued = try ca.issue(.client(commonName: "c", duration: .seconds(3 * 3600)), now: referenceTime)
        #expect(Set(issued.secretData.keys) == ["tls.crt", "tls.key", "ca.crt"])
        let read = try IssuedCertificate(secretData: issued.secretData)
        // The lifetime read back includes the 5 minutes of backdating, so a third of it is slightly longer.
        #expect(read.serialNumber == issued.serialNumber)
        #expect(read.notAfter == issued.notAfter)
        #expect(read.notBefore == issued.notBefore)
        #expect(abs(read.renewAt.timeIntervalSince(issued.renewAt)) <= 100)
        let other = try ca.issue(.client(commonName: "d"), now: referenceTime)
        var mismatched = issued.secretData
        mismatched["tls.key"] = other.privateKeyPEM
        #expect(throws: PKIError(.keyMismatch)) { try IssuedCertificate(secretData: mismatched) }
        #expect(throws: PKIError(.invalidPEM)) { try IssuedCertificate(secretData: ["tls.crt": "x", "tls.key": "y"]) }
    }

    @Test(arguments: [
        CertificateRequest.server(dnsNames: []),
        CertificateRequest.server(dnsNames: ["bad name"]),
        CertificateRequest.server(dnsNames: ["-leading.example"]),
        CertificateRequest.server(dnsNames: ["a..b"]),
        CertificateRequest.server(dnsNames: ["ok.example"], ipAddresses: ["300.1.1.1"]),
        CertificateRequest.server(dnsNames: ["ok.example"], ipAddresses: ["[::1]"]),
        CertificateRequest.client(commonName: String(repeating: "x", count: 65)),
        CertificateRequest.client(commonName: "c", uris: ["no-scheme"]),
        CertificateRequest.client(commonName: "c", uris: ["spiffe://has space"]),
        CertificateRequest.client(commonName: "c", duration: .seconds(30)),
        CertificateRequest.client(commonName: "c", duration: .seconds(3600), renewBefore: .seconds(3600)),
        CertificateRequest(purpose: .client, duration: .seconds(3600)),
    ])
    func rejectsMalformedRequests(request: CertificateRequest) throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        #expect(throws: PKIError(.invalidRequest)) { try ca.issue(request, now: referenceTime) }
    }

    @Test func acceptsWildcardsAndPeerCertificates() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let issued = try ca.issue(
            CertificateRequest(purpose: .peer, dnsNames: ["*.portcullis.svc"], duration: .seconds(3600)),
            now: referenceTime
        )
        let leaf = try Certificate(pemEncoded: issued.certificatePEM)
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth, .clientAuth]))
    }

    @Test func rejectsKeysAndCertificatesThatCannotBeACA() throws {
        let ca = try CertificateAuthority.generate(now: referenceTime)
        let other = try CertificateAuthority.generate(now: referenceTime)
        #expect(throws: PKIError(.keyMismatch)) {
            try CertificateAuthority(certificatePEM: try ca.certificatePEM, privateKeyPEM: try other.privateKeyPEM)
        }
        let leaf = try ca.issue(.client(commonName: "leaf"), now: referenceTime)
        #expect(throws: PKIError(.notACertificateAuthority)) {
            try CertificateAuthority(certificatePEM: leaf.certificatePEM, privateKeyPEM: leaf.privateKeyPEM)
        }
        #expect(throws: PKIError(.invalidPEM)) {
            try CertificateAuthority(certificatePEM: "not pem", privateKeyPEM: try ca.privateKeyPEM)
        }
        let ed25519 = Curve25519.Signing.PrivateKey().pemRepresentation
        #expect(throws: PKIError(.unsupportedKey)) {
            try CertificateAuthority(certificatePEM: try ca.certificatePEM, privateKeyPEM: ed25519)
        }
    }

    @Test func trustBundleDeduplicatesAndDropsExpired() throws {
        let old = try CertificateAuthority.generate(validity: .seconds(86_400), now: referenceTime)
        let new = try CertificateAuthority.generate(now: referenceTime)
        var bundle = TrustBundle([old, new, old])
        #expect(bundle.certificates == [old.certificate, new.certificate])
        let parsed = try TrustBundle(pem: try bundle.pem)
        #expect(parsed == bundle)
        bundle.merge(parsed)
        #expect(bundle.certificates.count == 2)
        #expect(
            bundle.removingExpired(at: referenceTime.addingTimeInterval(2 * 86_400)).certificates == [new.certificate]
        )
        #expect(throws: PKIError(.invalidPEM)) { try TrustBundle(pem: "") }
    }
}
