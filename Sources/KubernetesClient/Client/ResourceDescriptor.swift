/// Which resource a request is about: group, version, plural, kind and scope. The generic client
/// builds every path from one of these (client-go's `GroupVersionResource` plus the scope).
public struct ResourceDescriptor: Sendable, Hashable, CustomStringConvertible {
    /// The API group; empty for the core group (`/api/v1`).
    public var group: String
    public var version: String
    /// The lowercase plural used in paths, e.g. `routes`.
    public var plural: String
    /// The Kind, e.g. `Route`.
    public var kind: String
    /// Whether objects live in a namespace.
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.kind = kind
        self.namespaced = namespaced
    }

    /// `v1` for the core group, otherwise `group/version`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }

    /// `routes.portcullis.io`, or `secrets` for the core group: how the server names the resource in messages.
    public var groupResource: String { group.isEmpty ? plural : "\(plural).\(group)" }

    public var description: String { "\(groupResource)/\(version)" }

    /// The request path: `/apis/{group}/{version}[/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]`,
    /// or `/api/v1/...` for the core group. A `nil` namespace on a namespaced resource addresses all namespaces.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace, !namespace.isEmpty {
            path += "/namespaces/" + PercentEncoding.pathSegment(namespace)
        }
        path += "/" + plural
        if let name {
            path += "/" + PercentEncoding.pathSegment(name)
            if let subresource { path += "/" + subresource }
        }
        return path
    }
}

/// Percent-encoding of path segments and query values (RFC 3986 unreserved characters pass unchanged).
enum PercentEncoding {
    static func pathSegment(_ text: String) -> String { encode(text) }

    static func queryValue(_ text: String) -> String { encode(text) }

    static func query(_ items: [(String, String)]) -> String {
        items.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&")
    }

    private static func encode(_ text: String) -> String {
        var output = ""
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                output.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".utf8)
                output.unicodeScalars.append("%")
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                output.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0F)]))
            }
        }
        return output
    }
}
