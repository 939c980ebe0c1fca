import Foundation
import IPAddresses

/// The token endpoints an UpstreamAuth may make the controller post to: what the admin allows
/// (`--allow-token-endpoint`) beside Google's and Microsoft's real endpoints. Anything else would let a
/// tenant send the installation's assertions, or a client secret, to a host of their choosing.
///
/// An entry is an https URL; an endpoint is allowed when its scheme, host and port equal the entry's and
/// its path starts with the entry's path, segment by segment. Query strings and user info are refused.
public struct TokenEndpointPolicy: Sendable, Hashable {
    /// One allowed prefix.
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        var scheme: String
        var host: String
        var port: Int
        /// Without a trailing slash; empty for the whole host.
        var path: String

        /// Parses an https URL (`http` only for loopback, and only where ``TokenEndpointPolicy/allowsLoopback``).
        public init?(_ url: String) {
            guard let parsed = Self.parse(url) else { return nil }
            self = parsed
        }

        public var description: String {
            let defaultPort = scheme == "https" ? 443 : 80
            let bracketed = host.contains(":") ? "[\(host)]" : host
            return "\(scheme)://\(bracketed)\(port == defaultPort ? "" : ":\(port)")\(path)/"
        }

        func covers(_ other: Entry) -> Bool {
            scheme == other.scheme && host == other.host && port == other.port
                && (path.isEmpty || other.path == path || other.path.hasPrefix(path + "/"))
        }

        static func parse(_ url: String) -> Entry? {
            guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), ["http", "https"].contains(scheme),
                let host = components.host?.lowercased(), !host.isEmpty, components.user == nil, components.password == nil,
                components.query == nil, components.fragment == nil
            else { return nil }
            var path = components.percentEncodedPath
            while path.hasSuffix("/") { path.removeLast() }
            // Dot segments would let a prefix reach outside itself.
            guard !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." || $0.contains("%") }) else { return nil }
            return Entry(scheme: scheme, host: host, port: components.port ?? (scheme == "https" ? 443 : 80), path: path)
        }

        private init(scheme: String, host: String, port: Int, path: String) {
            self.scheme = scheme
            self.host = host
            self.port = port
            self.path = path
        }
    }

    /// Google's STS and IAM Credentials, and the Entra ID authority hosts of Microsoft's clouds.
    public static let builtIn: [Entry] = [
        "https://sts.googleapis.com/", "https://iamcredentials.googleapis.com/", "https://oauth2.googleapis.com/token",
        "https://login.microsoftonline.com/", "https://login.microsoftonline.us/", "https://login.chinacloudapi.cn/",
        "https://login.partner.microsoftonline.cn/",
    ].map { Entry($0)! }

    /// The built-in entries and the admin's.
    public var entries: [Entry]
    /// Whether any `http` or `https` endpoint on a loopback address or `localhost` is allowed: `portcullis dev`.
    public var allowsLoopback: Bool

    public init(additional: [Entry] = [], allowsLoopback: Bool = false) {
        entries = Self.builtIn + additional
        self.allowsLoopback = allowsLoopback
    }

    /// Why the controller may not post to `url`, or `nil` when it may.
    public func refusal(_ url: String) -> String? {
        guard let endpoint = Entry.parse(url) else {
            return "must be an absolute http(s) URL without user info, query, fragment or dot segments"
        }
        if allowsLoopback, endpoint.host == "localhost" || IPAddress(endpoint.host.trimmingCharacters(in: ["[", "]"])).map({ address in
            DestinationPolicy.loopbackNetworks.contains { $0.contains(address.unmapped) }
        }) == true {
            return nil
        }
        guard endpoint.scheme == "https" else { return "must be https: a token request carries an assertion or a secret" }
        if entries.contains(where: { $0.covers(endpoint) }) { return nil }
        return "is not an allowed token endpoint; the cluster admin allows more with --allow-token-endpoint (allowed: \(entries.map(\.description).joined(separator: ", ")))"
    }
}
