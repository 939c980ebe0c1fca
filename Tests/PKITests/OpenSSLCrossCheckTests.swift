import Foundation
import PKI
import PortcullisTestSupport
import Testing
import X509

/// The certificates checked by an independent implementation: the real `openssl` command line.
@Suite struct OpenSSLCrossCheckTests {
    @Test func serverCertificateVerifiesWithOpenSSL() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let ca = try CertificateAuthority.generate(now: Date())
        let issued = try ca.issue(.loopbackServer(), now: Date())
        try openssl.write("ca.pem", issued.caPEM)
        try openssl.write("tls.crt", issued.certificatePEM)
        try openssl.write("tls.key", issued.privateKeyPEM)

        let verified = try await openssl.succeed([
            "verify", "-purpose", "sslserver", "-CAfile", openssl.path("ca.pem"), openssl.path("tls.crt"),
        ])
        #expect(verified.contains("tls.crt: OK"))
        // Hostname and IP checks by openssl's own matcher.
        for check in [["-verify_hostname", "localhost"], ["-verify_ip", "127.0.0.1"], ["-verify_ip", "::1"]] {
            _ = try await openssl.succeed(["verify", "-CAfile", openssl.path("ca.pem")] + check + [openssl.path("tls.crt")])
        }
        let wrongHost = try await openssl.run([
            "verify", "-CAfile", openssl.path("ca.pem"), "-verify_hostname", "example.com", openssl.path("tls.crt"),
        ])
        #expect(wrongHost.status != 0)

        let text = try await openssl.succeed(["x509", "-noout", "-text", "-in", openssl.path("tls.crt")])
        #expect(text.contains("DNS:localhost"))
        #expect(text.contains("IP Address:127.0.0.1"))
        #expect(text.contains("IP Address:0:0:0:0:0:0:0:1"))
        #expect(text.contains("TLS Web Server Authentication"))
        #expect(text.contains("CA:FALSE"))
        #expect(text.contains("ecdsa-with-SHA256"))

        let serial = try await openssl.succeed(["x509", "-noout", "-serial", "-in", openssl.path("tls.crt")])
        #expect(serial.trimmingCharacters(in: .whitespacesAndNewlines) == "serial=\(issued.serialNumber)")

        // The key belongs to the certificate.
        let certificateKey = try await openssl.succeed(["x509", "-noout", "-pubkey", "-in", openssl.path("tls.crt")])
        let privateKey = try await openssl.succeed(["pkey", "-pubout", "-in", openssl.path("tls.key")])
        #expect(certificateKey == privateKey)
    }

    @Test func clientCertificateVerifiesWithOpenSSL() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let ca = try CertificateAuthority.generate(now: Date())
        let issued = try ca.issue(
            .client(
                commonName: "portcullis:payments:stripe",
                dnsNames: ["gateway.portcullis.svc"],
                uris: ["spiffe://cluster.local/ns/portcullis/sa/gateway"]
            ),
            now: Date()
        )
        try openssl.write("ca.pem", issued.caPEM)
        try openssl.write("client.pem", issued.certificatePEM)
        #expect(
            try await openssl.succeed([
                "verify", "-purpose", "sslclient", "-CAfile", openssl.path("ca.pem"), openssl.path("client.pem"),
            ]).contains("OK")
        )
        let asServer = try await openssl.run([
            "verify", "-purpose", "sslserver", "-CAfile", openssl.path("ca.pem"), openssl.path("client.pem"),
        ])
        #expect(asServer.status != 0, "a clientAuth-only certificate must not pass as a server certificate")

        let text = try await openssl.succeed(["x509", "-noout", "-text", "-in", openssl.path("client.pem")])
        #expect(text.contains("URI:spiffe://cluster.local/ns/portcullis/sa/gateway"))
        #expect(text.contains("DNS:gateway.portcullis.svc"))
        #expect(text.contains("TLS Web Client Authentication"))
        let subject = try await openssl.succeed(["x509", "-noout", "-subject", "-in", openssl.path("client.pem")])
        #expect(subject.contains("CN = portcullis:payments:stripe"))
    }

    @Test func generatedCAHasTheExtensionsOpenSSLExpects() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let ca = try CertificateAuthority.generate(now: Date())
        try openssl.write("ca.pem", try ca.certificatePEM)
        try openssl.write("ca.key", try ca.privateKeyPEM)
        let text = try await openssl.succeed(["x509", "-noout", "-text", "-in", openssl.path("ca.pem")])
        #expect(text.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"))
        #expect(text.contains("X509v3 Key Usage: critical\n                Certificate Sign, CRL Sign"))
        #expect(text.contains("X509v3 Subject Key Identifier"))
        #expect(text.contains("ASN1 OID: prime256v1"))
        // A self-signed root verifies against itself, and its key is the one exported.
        _ = try await openssl.succeed(["verify", "-CAfile", openssl.path("ca.pem"), openssl.path("ca.pem")])
        #expect(
            try await openssl.succeed(["x509", "-noout", "-pubkey", "-in", openssl.path("ca.pem")])
                == openssl.succeed(["pkey", "-pubout", "-in", openssl.path("ca.key")])
        )
        // Validity: ten years.
        let endDate = try await openssl.succeed(["x509", "-noout", "-enddate", "-in", openssl.path("ca.pem")])
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        #expect(endDate.contains(" \(year + 10) ") || endDate.contains(" \(year + 9) "))
    }

    /// A CA the user brings (for example from cert-manager), made by openssl with each supported key type and
    /// in each PEM form openssl writes.
    @Test(
        arguments: [
            ("rsa", ["-newkey", "rsa:2048"], nil),
            ("rsa-pkcs1", ["-newkey", "rsa:2048"], ["rsa", "-traditional"]),
            ("p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], nil),
            ("p256-sec1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], ["ec"]),
            ("p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"], nil),
        ] as [(String, [String], [String]?)]
    )
    func userSuppliedCAIssuesVerifiableCertificates(name: String, keyArguments: [String], convert: [String]?) async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        _ = try await openssl.succeed(
            ["req", "-x509", "-nodes", "-subj", "/CN=External \(name) CA", "-days", "30"] + keyArguments + [
                "-keyout", openssl.path("ca.key"), "-out", openssl.path("ca.pem"),
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ]
        )
        if let convert {
            _ = try await openssl.succeed(
                convert + ["-in", openssl.path("ca.key"), "-out", openssl.path("ca-converted.key")]
            )
            let converted = try openssl.read("ca-converted.key")
            #expect(converted.contains("BEGIN RSA PRIVATE KEY") || converted.contains("BEGIN EC PRIVATE KEY"))
            try openssl.write("ca.key", converted)
        }
        let ca = try CertificateAuthority(
            certificatePEM: try openssl.read("ca.pem"),
            privateKeyPEM: try openssl.read("ca.key")
        )
        let issued = try ca.issue(.loopbackServer(), now: Date())
        try openssl.write("tls.crt", issued.certificatePEM)
        try openssl.write("ca.crt", issued.caPEM)
        _ = try await openssl.succeed([
            "verify", "-purpose", "sslserver", "-verify_hostname", "localhost", "-CAfile", openssl.path("ca.crt"),
            openssl.path("tls.crt"),
        ])
        // The leaf's authority key identifier is the CA's subject key identifier, as openssl computed it.
        let caText = try await openssl.succeed([
            "x509", "-noout", "-ext", "subjectKeyIdentifier", "-in", openssl.path("ca.pem"),
        ])
        let leafText = try await openssl.succeed([
            "x509", "-noout", "-ext", "authorityKeyIdentifier", "-in", openssl.path("tls.crt"),
        ])
        let identifier = try #require(caText.split(separator: "\n").last?.trimmingCharacters(in: .whitespaces))
        #expect(leafText.contains(identifier))
    }

    @Test func intermediateCAShipsItsChain() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        _ = try await openssl.succeed([
            "req", "-x509", "-nodes", "-subj", "/CN=Root", "-days", "30", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-keyout", openssl.path("root.key"), "-out", openssl.path("root.pem"),
        ])
        _ = try await openssl.succeed([
            "req", "-new", "-nodes", "-subj", "/CN=Intermediate", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:P-256", "-keyout", openssl.path("int.key"), "-out", openssl.path("int.csr"),
        ])
        try openssl.write(
            "ext.cnf",
            """
            [v3_ca]
            basicConstraints=critical,CA:TRUE,pathlen:0
            keyUsage=critical,keyCertSign,cRLSign
            subjectKeyIdentifier=hash
            authorityKeyIdentifier=keyid

            """
        )
        _ = try await openssl.succeed([
            "x509", "-req", "-in", openssl.path("int.csr"), "-CA", openssl.path("root.pem"), "-CAkey",
            openssl.path("root.key"), "-CAcreateserial", "-days", "20", "-extfile", openssl.path("ext.cnf"),
            "-extensions", "v3_ca", "-out", openssl.path("int.pem"),
        ])
        let ca = try CertificateAuthority(
            certificatePEM: try openssl.read("int.pem") + openssl.read("root.pem"),
            privateKeyPEM: try openssl.read("int.key")
        )
        #expect(ca.chain.count == 1)
        let issued = try ca.issue(.client(commonName: "through-intermediate"), now: Date())
        #expect(issued.caPEM == (try openssl.read("root.pem")))
        let chain = try TrustBundle(pem: issued.certificatePEM).certificates
        #expect(chain.count == 2)
        #expect(chain[1] == ca.certificate)
        try openssl.write("tls.crt", issued.certificatePEM)
        try openssl.write("ca.crt", issued.caPEM)
        // tls.crt carries the intermediate, so a peer that trusts only the root can verify.
        _ = try await openssl.succeed([
            "verify", "-purpose", "sslclient", "-CAfile", openssl.path("ca.crt"), "-untrusted", openssl.path("tls.crt"),
            openssl.path("tls.crt"),
        ])
    }

    @Test func trustBundleIsReadByOpenSSL() async throws {
        let openssl = try OpenSSL()
        defer { openssl.cleanUp() }
        let first = try CertificateAuthority.generate(commonName: "First CA", now: Date())
        let second = try CertificateAuthority.generate(commonName: "Second CA", now: Date())
        try openssl.write("bundle.pem", try TrustBundle([first, second]).pem)
        for (index, ca) in [first, second].enumerated() {
            let issued = try ca.issue(.client(commonName: "c\(index)"), now: Date())
            try openssl.write("leaf\(index).pem", issued.certificatePEM)
            _ = try await openssl.succeed(["verify", "-CAfile", openssl.path("bundle.pem"), openssl.path("leaf\(index).pem")])
        }
    }
}
