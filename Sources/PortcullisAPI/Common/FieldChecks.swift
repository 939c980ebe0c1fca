import Kubernetes
import IPAddresses
import Foundation

/// Checks shared by the resources' semantic validation. Each appends a ``FieldError`` naming the
/// field and the offending value.
struct FieldChecks {
    private(set) var errors: [FieldError] = []

    mutating func invalid(_ path: FieldPath, _ value: JSONValue, _ detail: String) {
        errors.append(FieldError(.invalid, field: path.description, value: value, detail: detail))
    }

    mutating func required(_ path: FieldPath, _ detail: String = "") {
        errors.append(FieldError(.required, field: path.description, detail: detail))
    }

    mutating func forbidden(_ path: FieldPath, _ detail: String) {
        errors.append(FieldError(.forbidden, field: path.description, detail: detail))
    }

    mutating func duplicate(_ path: FieldPath, _ value: JSONValue) {
        errors.append(FieldError(.duplicate, field: path.description, value: value))
    }

    /// Exactly one of the named members is set.
    mutating func exactlyOne(_ path: FieldPath, _ members: [(name: String, isSet: Bool)]) {
        let set = members.filter(\.isSet).map(\.name)
        let names = members.map(\.name).joined(separator: ", ")
        if set.isEmpty {
            required(path, "exactly one of \(names) must be set")
        } else if set.count > 1 {
            for name in set.dropFirst() {
                forbidden(path.child(name), "exactly one of \(names) may be set, and \(set[0]) is set")
            }
        }
    }

    /// Each element appears once; `key` gives what must be unique (e.g. a lowercased header name).
    mutating func unique<Element>(_ path: FieldPath, _ elements: [Element]?, key: (Element) -> String) {
        var seen = Set<String>()
        for (index, element) in (elements ?? []).enumerated() where !seen.insert(key(element)).inserted {
            duplicate(path.index(index), .string(key(element)))
        }
    }

    /// A URL the gateway calls: `https`, or `http` only when `allowHTTP` (or the host is a loopback address).
    mutating func endpointURL(_ path: FieldPath, _ text: String, allowHTTP: Bool, allowPath: Bool = true) {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            let host = components.host, !host.isEmpty
        else {
            invalid(path, .string(text), "must be an absolute URL such as https://host/path")
            return
        }
        if scheme == "http" && !allowHTTP && !FieldChecks.isLoopback(host) {
            invalid(path, .string(text), "must use https (http is only allowed to a loopback address)")
        } else if scheme != "http" && scheme != "https" {
            invalid(path, .string(text), "scheme must be http or https")
        }
        if components.user != nil || components.password != nil {
            invalid(path, .string("<redacted>"), "must not contain credentials; put them in a Secret")
        }
        if components.query != nil || components.fragment != nil {
            invalid(path, .string(text), "must not have a query or fragment")
        }
        if !allowPath, !components.path.isEmpty, components.path != "/" {
            invalid(path, .string(text), "must not have a path")
        }
        if let port = components.port, !(1...65535).contains(port) {
            invalid(path, .string(text), "port must be between 1 and 65535")
        }
    }

    /// A loopback host: `localhost`, `127.0.0.0/8` or `::1`.
    static func isLoopback(_ host: String) -> Bool {
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        if bare == "localhost" || bare == "::1" { return true }
        if let address = IPAddress(bare), case .v4(let bytes) = address { return bytes.0 == 127 }
        return false
    }

    /// A regular expression that compiles.
    mutating func regularExpression(_ path: FieldPath, _ pattern: String) {
        do {
            _ = try Regex(pattern)
        } catch {
            invalid(path, .string(pattern), "is not a valid regular expression: \(error)")
        }
    }

    /// `lower <= upper` for two durations, naming both in the message.
    mutating func ordered(
        _ lowerName: String,
        _ lower: APIDuration,
        _ upperPath: FieldPath,
        _ upper: APIDuration,
        relation: String = ">="
    ) {
        if upper < lower {
            invalid(upperPath, .string(upper.description), "must be \(relation) \(lowerName) \(lower.description)")
        }
    }

    /// A duration within bounds.
    mutating func duration(_ path: FieldPath, _ value: APIDuration?, atLeast minimum: APIDuration? = nil, atMost maximum: APIDuration? = nil) {
        guard let value else { return }
        if let minimum, value < minimum {
            invalid(path, .string(value.description), "must be at least \(minimum.description)")
        }
        if let maximum, value > maximum {
            invalid(path, .string(value.description), "must be at most \(maximum.description)")
        }
    }

    /// Headers the gateway manages itself, which a credential may not be written to.
    static let reservedHeaderNames: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host",
        "content-length", "content-type", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
        "traceparent", "tracestate",
    ]
}
