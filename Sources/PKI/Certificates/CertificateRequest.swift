/// What a leaf certificate should say: its purpose, names and lifetime. Each issued certificate gets a new
/// P-256 key.
public struct CertificateRequest: Sendable, Hashable {
    /// The extended key usage.
    public enum Purpose: String, Sendable, Hashable, CaseIterable {
        /// `serverAuth`: a TLS server (the embedded API server, the admin port).
        case server
        /// `clientAuth`: a TLS client (the gateway's mTLS identity towards an upstream).
        case client
        /// Both: a replica that accepts and opens connections to its peers.
        case peer
    }

    /// The default lifetime of a server certificate: 90 days.
    public static let defaultServerDuration = Duration.seconds(90 * 86_400)
    /// The default lifetime of a client certificate: 24 h, as `MutualTLS.defaultDuration`.
    public static let defaultClientDuration = Duration.seconds(86_400)

    public var purpose: Purpose
    /// The subject's CN, at most 64 characters; without it, the first DNS name (or IP) when that fits.
    public var commonName: String?
    /// DNS SANs; a leading `*.` makes a wildcard.
    public var dnsNames: [String]
    /// IP SANs, IPv4 or IPv6 in text form (`127.0.0.1`, `::1`).
    public var ipAddresses: [String]
    /// URI SANs, such as `spiffe://cluster.local/ns/default/sa/gateway`.
    public var uris: [String]
    /// How long the certificate is valid from now (capped at the CA's own expiry).
    public var duration: Duration
    /// How long before expiry it should be renewed; `nil` for a third of the lifetime.
    public var renewBefore: Duration?

    public init(
        purpose: Purpose,
        commonName: String? = nil,
        dnsNames: [String] = [],
        ipAddresses: [String] = [],
        uris: [String] = [],
        duration: Duration,
        renewBefore: Duration? = nil
    ) {
        self.purpose = purpose
        self.commonName = commonName
        self.dnsNames = dnsNames
        self.ipAddresses = ipAddresses
        self.uris = uris
        self.duration = duration
        self.renewBefore = renewBefore
    }

    /// A TLS server certificate for `dnsNames` and `ipAddresses`.
    public static func server(
        dnsNames: [String],
        ipAddresses: [String] = [],
        duration: Duration = defaultServerDuration,
        renewBefore: Duration? = nil
    ) -> CertificateRequest {
        CertificateRequest(
            purpose: .server,
            dnsNames: dnsNames,
            ipAddresses: ipAddresses,
            duration: duration,
            renewBefore: renewBefore
        )
    }

    /// A TLS client certificate for `commonName`, with optional DNS and URI SANs.
    public static func client(
        commonName: String,
        dnsNames: [String] = [],
        uris: [String] = [],
        duration: Duration = defaultClientDuration,
        renewBefore: Duration? = nil
    ) -> CertificateRequest {
        CertificateRequest(
            purpose: .client,
            commonName: commonName,
            dnsNames: dnsNames,
            uris: uris,
            duration: duration,
            renewBefore: renewBefore
        )
    }

    /// The names the embedded Kubernetes API server answers to: `localhost`, `127.0.0.1` and `::1`.
    public static func loopbackServer(
        duration: Duration = defaultServerDuration,
        renewBefore: Duration? = nil
    ) -> CertificateRequest {
        server(
            dnsNames: ["localhost"],
            ipAddresses: ["127.0.0.1", "::1"],
            duration: duration,
            renewBefore: renewBefore
        )
    }

    /// Checks names, addresses, URIs and durations.
    ///
    /// - Throws: ``PKIError/Code/invalidRequest`` naming the first problem.
    public func validate() throws {
        guard duration >= .seconds(60) else {
            throw PKIError(.invalidRequest, "duration must be at least a minute, not \(duration)")
        }
        if let renewBefore, renewBefore <= .zero || renewBefore >= duration {
            throw PKIError(.invalidRequest, "renewBefore (\(renewBefore)) must be positive and shorter than duration")
        }
        if let commonName {
            guard !commonName.isEmpty, commonName.utf8.count <= 64 else {
                throw PKIError(.invalidRequest, "commonName must have 1 to 64 characters")
            }
        }
        for name in dnsNames where !Self.isValidDNSName(name) {
            throw PKIError(.invalidRequest, "\(name) is not a DNS name")
        }
        for address in ipAddresses where IPAddress.bytes(address) == nil {
            throw PKIError(.invalidRequest, "\(address) is not an IPv4 or IPv6 address")
        }
        for uri in uris where !Self.isValidURI(uri) {
            throw PKIError(.invalidRequest, "\(uri) is not an absolute URI")
        }
        switch purpose {
        case .server, .peer:
            guard !dnsNames.isEmpty || !ipAddresses.isEmpty else {
                throw PKIError(.invalidRequest, "a server certificate needs a DNS name or an IP address")
            }
        case .client:
            guard commonName != nil || !dnsNames.isEmpty || !uris.isEmpty else {
                throw PKIError(.invalidRequest, "a client certificate needs a common name, DNS name or URI")
            }
        }
    }

    /// The subject CN: the given one, else the first DNS name or IP address that fits in 64 characters.
    var subjectCommonName: String? {
        commonName ?? (dnsNames + ipAddresses).first { $0.utf8.count <= 64 }
    }

    /// A hostname of letters, digits and hyphens in dot-separated labels of at most 63 characters, at most 253
    /// in all, optionally starting with a `*.` wildcard label.
    static func isValidDNSName(_ name: String) -> Bool {
        var rest = Substring(name)
        if rest.hasPrefix("*.") { rest = rest.dropFirst(2) }
        guard !rest.isEmpty, name.utf8.count <= 253 else { return false }
        return rest.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.utf8.allSatisfy { byte in
                    (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                        || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-")
                }
        }
    }

    /// `scheme:rest` with an RFC 3986 scheme, printable ASCII and no spaces.
    static func isValidURI(_ uri: String) -> Bool {
        guard let colon = uri.firstIndex(of: ":"), colon != uri.startIndex, uri.index(after: colon) != uri.endIndex
        else { return false }
        let scheme = uri[..<colon]
        guard let first = scheme.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20) else {
            return false
        }
        let schemeOK = scheme.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        return schemeOK && uri.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }
}
