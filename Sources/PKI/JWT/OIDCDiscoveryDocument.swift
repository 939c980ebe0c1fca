import Foundation

/// The minimal OpenID Provider metadata of a workload issuer, served at
/// `<issuer>/.well-known/openid-configuration`: exactly the shape kube-apiserver serves for its service
/// account issuer, which GCP workload identity federation, Entra federated credentials and AWS accept.
///
/// ```json
/// {"issuer":"https://gw.example.com","jwks_uri":"https://gw.example.com/.well-known/jwks.json",
///  "response_types_supported":["id_token"],"subject_types_supported":["public"],
///  "id_token_signing_alg_values_supported":["RS256","ES256"]}
/// ```
public struct OIDCDiscoveryDocument: Sendable, Hashable, Codable {
    /// Where the document is served, below the issuer.
    public static let path = "/.well-known/openid-configuration"
    /// Where the JWKS is served, below the issuer.
    public static let jwksPath = "/.well-known/jwks.json"
    /// The prefix of the namespaces' JWKS paths, below the issuer (``namespaceJWKSPath(_:)``).
    public static let namespacesPath = "/namespaces/"

    /// Where the JWKS of `namespace` is served, below the issuer: the public halves of its private_key_jwt keys
    /// (``SigningKey/namespaceKey(for:)``), and nothing else.
    public static func namespaceJWKSPath(_ namespace: String) -> String { namespacesPath + namespace + "/jwks.json" }

    /// The `iss` of every token, byte for byte.
    public var issuer: String
    public var jwksURI: String
    public var responseTypesSupported: [String]
    public var subjectTypesSupported: [String]
    public var idTokenSigningAlgValuesSupported: [String]

    enum CodingKeys: String, CodingKey {
        case issuer
        case jwksURI = "jwks_uri"
        case responseTypesSupported = "response_types_supported"
        case subjectTypesSupported = "subject_types_supported"
        case idTokenSigningAlgValuesSupported = "id_token_signing_alg_values_supported"
    }

    /// The document for `issuer`, listing `algorithms` (deduplicated, RS256 first).
    ///
    /// The issuer is kept byte for byte (verifiers compare it with `iss` exactly, trailing slash included); the
    /// JWKS URI is the issuer without a trailing slash followed by ``jwksPath``.
    ///
    /// - Parameters:
    ///   - issuer: An absolute `https` URL without query or fragment; `http` only for loopback hosts (tests,
    ///     `portcullis dev`). Real verifiers fetch it from the internet and require https.
    ///   - algorithms: The algorithms of the published keys.
    /// - Throws: ``PKIError/Code/invalidIssuer``.
    public init(issuer: String, algorithms: some Sequence<SigningKey.Algorithm>) throws {
        try Self.validate(issuer: issuer)
        self.issuer = issuer
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        self.jwksURI = base + Self.jwksPath
        self.responseTypesSupported = ["id_token"]
        self.subjectTypesSupported = ["public"]
        self.idTokenSigningAlgValuesSupported = Set(algorithms).sorted().map(\.rawValue)
    }

    /// Checks that `issuer` can be an OIDC issuer (OIDC Discovery §3, §4.3).
    ///
    /// - Throws: ``PKIError/Code/invalidIssuer``.
    public static func validate(issuer: String) throws {
        guard let components = URLComponents(string: issuer), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            throw PKIError(.invalidIssuer, "issuer \(issuer) is not an absolute URL")
        }
        guard components.query == nil, components.fragment == nil else {
            throw PKIError(.invalidIssuer, "issuer \(issuer) must not have a query or fragment")
        }
        guard components.user == nil, components.password == nil else {
            throw PKIError(.invalidIssuer, "issuer \(issuer) must not carry credentials")
        }
        let loopback = ["localhost", "127.0.0.1", "::1", "[::1]"].contains(host.lowercased())
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw PKIError(.invalidIssuer, "issuer \(issuer) must use https (http only on loopback)")
        }
    }

    /// The compact JSON document, members in the order shown above.
    public var json: String {
        var bytes: [UInt8] = [UInt8(ascii: "{")]
        bytes.appendJSONKey("issuer")
        bytes.appendJSONString(issuer)
        bytes.append(UInt8(ascii: ","))
        bytes.appendJSONKey("jwks_uri")
        bytes.appendJSONString(jwksURI)
        bytes.append(UInt8(ascii: ","))
        bytes.appendJSONKey("response_types_supported")
        bytes.appendJSONStringArray(responseTypesSupported)
        bytes.append(UInt8(ascii: ","))
        bytes.appendJSONKey("subject_types_supported")
        bytes.appendJSONStringArray(subjectTypesSupported)
        bytes.append(UInt8(ascii: ","))
        bytes.appendJSONKey("id_token_signing_alg_values_supported")
        bytes.appendJSONStringArray(idTokenSigningAlgValuesSupported)
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }
}
