public import Foundation
import Kubernetes

/// A kubeconfig file: clusters, users and the contexts that pair them (kubectl's `~/.kube/config`).
///
/// Paths inside the file (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, an
/// exec `command` with a slash) are resolved against the file's directory when it is parsed, as
/// client-go does. ``configuration(context:)`` turns a context into a ``KubernetesClient/Configuration``.
public struct Kubeconfig: Sendable, Hashable {
    public struct Cluster: Sendable, Hashable {
        public var server: String?
        /// An absolute path to a PEM file.
        public var certificateAuthority: String?
        /// The PEM itself (decoded from `certificate-authority-data`).
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool
        public var tlsServerName: String?
    }

    public struct User: Sendable, Hashable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        public var clientCertificateData: String?
        public var clientKey: String?
        public var clientKeyData: String?
        public var exec: KubernetesClient.Configuration.ExecConfiguration?
        /// A field this client does not implement (`auth-provider`, `username`), with where it was found.
        var unsupported: String?
    }

    public struct Context: Sendable, Hashable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
    }

    /// The file(s) this was read from, for messages.
    public var source: String
    public var currentContext: String?
    public var clusters: [String: Cluster]
    public var users: [String: User]
    public var contexts: [String: Context]

    /// Parses kubeconfig YAML (or JSON).
    ///
    /// - Parameters:
    ///   - yaml: The file's text.
    ///   - source: The file's path: relative paths inside resolve against its directory, and messages name it.
    /// - Throws: ``ConfigurationError`` naming the field that is malformed.
    public init(yaml: String, source: String) throws {
        let document: JSONValue
        do {
            document = try JSONValue(yaml: yaml)
        } catch {
            throw ConfigurationError(.invalidFormat, "\(source): not a kubeconfig: \(error)")
        }
        guard document.objectValue != nil || document == .null else {
            throw ConfigurationError(.invalidFormat, "\(source): not a kubeconfig: expected a mapping at the top level")
        }
        let directory = URL(fileURLWithPath: source).deletingLastPathComponent().path
        let parser = Parser(source: source, directory: directory)
        self.source = source
        self.currentContext = try parser.string(document["current-context"], "current-context").flatMap {
            $0.isEmpty ? nil : $0
        }
        self.clusters = try parser.named(document["clusters"], "clusters", entry: "cluster") {
            try parser.cluster($0, $1)
        }
        self.users = try parser.named(document["users"], "users", entry: "user") { try parser.user($0, $1) }
        self.contexts = try parser.named(document["contexts"], "contexts", entry: "context") {
            try parser.context($0, $1)
        }
    }

    /// Reads and parses one kubeconfig file.
    ///
    /// - Throws: ``ConfigurationError`` with ``ConfigurationError/Code/unreadableFile`` naming the path, or a parse error.
    public static func load(path: String) throws -> Kubeconfig {
        try Kubeconfig(yaml: readFile(path, what: "kubeconfig"), source: path)
    }

    /// Reads the kubeconfig kubectl would: every file in `$KUBECONFIG` (colon-separated, merged: the
    /// first file to define a name or `current-context` wins), or `~/.kube/config`.
    ///
    /// - Throws: ``ConfigurationError`` when no file can be read or one does not parse.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Kubeconfig {
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            let paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
            var merged: Kubeconfig?
            for path in paths where FileManager.default.fileExists(atPath: path) {
                let next = try load(path: path)
                merged = merged.map { $0.merging(next) } ?? next
            }
            guard let merged else {
                throw ConfigurationError(.unreadableFile, "KUBECONFIG=\(list): none of these files exists")
            }
            return merged
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return try load(path: home + "/.kube/config")
    }

    /// This config with `other`'s entries added where this one has none (client-go's merge: first wins).
    public func merging(_ other: Kubeconfig) -> Kubeconfig {
        var merged = self
        merged.source = "\(source):\(other.source)"
        merged.currentContext = currentContext ?? other.currentContext
        merged.clusters.merge(other.clusters) { first, _ in first }
        merged.users.merge(other.users) { first, _ in first }
        merged.contexts.merge(other.contexts) { first, _ in first }
        return merged
    }

    /// The client configuration of a context: its cluster's server and CA, its user's credentials, its namespace.
    ///
    /// Files named by the context (CA, client certificate and key) are read now; a `tokenFile` is read
    /// at every refresh (see ``KubernetesClient/Configuration/Authentication/tokenFile(path:rereadInterval:)``).
    ///
    /// - Parameter context: The context's name; `nil` uses `current-context`.
    /// - Throws: ``ConfigurationError`` naming the missing context, cluster, user, field or file.
    public func configuration(context: String? = nil) throws -> KubernetesClient.Configuration {
        guard let contextName = context ?? currentContext else {
            throw ConfigurationError(.missingField, "\(source): current-context is not set and no context was given")
        }
        guard let context = contexts[contextName] else {
            throw ConfigurationError(.unknownContext, "\(source): context \"\(contextName)\" not found")
        }
        guard let cluster = clusters[context.cluster] else {
            throw ConfigurationError(
                .unknownCluster,
                "\(source): cluster \"\(context.cluster)\" of context \"\(contextName)\" not found"
            )
        }
        let where_ = "\(source): cluster \"\(context.cluster)\""
        guard let server = cluster.server, !server.isEmpty else {
            throw ConfigurationError(.missingField, "\(where_): server is not set")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw ConfigurationError(.invalidField, "\(where_): server \"\(server)\" is not an http(s) URL")
        }
        var tls = KubernetesClient.Configuration.TLS(insecureSkipVerify: cluster.insecureSkipTLSVerify)
        if let data = cluster.certificateAuthorityData {
            tls.certificateAuthorityPEM = data
        } else if let path = cluster.certificateAuthority {
            tls.certificateAuthorityPEM = try Self.readFile(path, what: "\(where_): certificate-authority")
        }

        var authentication = KubernetesClient.Configuration.Authentication.none
        if let userName = context.user, !userName.isEmpty {
            guard let user = users[userName] else {
                throw ConfigurationError(
                    .unknownUser,
                    "\(source): user \"\(userName)\" of context \"\(contextName)\" not found"
                )
            }
            let whereUser = "\(source): user \"\(userName)\""
            if let unsupported = user.unsupported {
                throw ConfigurationError(
                    .unsupported,
                    "\(whereUser): \(unsupported) is not supported; use a token, a client certificate or an exec plugin"
                )
            }
            if let data = user.clientCertificateData {
                tls.clientCertificatePEM = data
            } else if let path = user.clientCertificate {
                tls.clientCertificatePEM = try Self.readFile(path, what: "\(whereUser): client-certificate")
            }
            if let data = user.clientKeyData {
                tls.clientKeyPEM = data
            } else if let path = user.clientKey {
                tls.clientKeyPEM = try Self.readFile(path, what: "\(whereUser): client-key")
            }
            if (tls.clientCertificatePEM == nil) != (tls.clientKeyPEM == nil) {
                throw ConfigurationError(
                    .invalidField,
                    "\(whereUser): client-certificate and client-key must be given together (only \(tls.clientKeyPEM == nil ? "the certificate" : "the key") is set)"
                )
            }
            if let exec = user.exec {
                if user.token != nil || user.tokenFile != nil {
                    throw ConfigurationError(
                        .invalidField,
                        "\(whereUser): exec cannot be combined with token or tokenFile"
                    )
                }
                authentication = .exec(exec)
            } else if let tokenFile = user.tokenFile {
                // client-go: the file's contents take precedence over `token`.
                authentication = .tokenFile(path: tokenFile)
            } else if let token = user.token {
                authentication = .bearerToken(token)
            }
        }
        return KubernetesClient.Configuration(
            server: server.hasSuffix("/") ? String(server.dropLast()) : server,
            tls: tls,
            authentication: authentication,
            namespace: context.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        )
    }

    static func readFile(_ path: String, what: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read" : "does not exist"
            throw ConfigurationError(.unreadableFile, "\(what): \(path) \(reason)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(.invalidFormat, "\(what): \(path) is not UTF-8 text")
        }
        return text
    }
}

extension Kubeconfig {
    /// Reads the fields of a kubeconfig, naming each by its path in errors.
    struct Parser {
        let source: String
        let directory: String

        func fail(_ code: ConfigurationError.Code, _ field: String, _ message: String) -> ConfigurationError {
            ConfigurationError(code, "\(source): \(field): \(message)")
        }

        func string(_ value: JSONValue?, _ field: String) throws -> String? {
            switch value {
            case nil, .null?: return nil
            case .string(let text)?: return text
            case .integer(let number)?: return String(number)
            case .bool(let flag)?: return String(flag)
            case let other?: throw fail(.invalidField, field, "expected a string, found \(other.typeName)")
            }
        }

        func bool(_ value: JSONValue?, _ field: String) throws -> Bool {
            switch value {
            case nil, .null?: return false
            case .bool(let flag)?: return flag
            case .string("true")?: return true
            case .string("false")?: return false
            case let other?: throw fail(.invalidField, field, "expected a boolean, found \(other.typeName)")
            }
        }

        /// A path from the file, made absolute against the file's directory.
        func path(_ value: JSONValue?, _ field: String) throws -> String? {
            guard let text = try string(value, field), !text.isEmpty else { return nil }
            if text.hasPrefix("/") { return text }
            if text.hasPrefix("~/") { return NSHomeDirectory() + String(text.dropFirst(1)) }
            return URL(fileURLWithPath: directory).appendingPathComponent(text).standardizedFileURL.path
        }

        /// Base64 `-data` fields decoded to text (they hold PEM).
        func base64(_ value: JSONValue?, _ field: String) throws -> String? {
            guard let text = try string(value, field), !text.isEmpty else { return nil }
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters),
                let decoded = String(data: data, encoding: .utf8)
            else {
                throw fail(.invalidField, field, "not valid base64-encoded PEM")
            }
            return decoded
        }

        /// A list of `{name: ..., <entry>: {...}}` as a dictionary; the first entry with a name wins.
        func named<Value>(
            _ value: JSONValue?,
            _ field: String,
            entry: String,
            _ parse: (JSONValue, String) throws -> Value
        ) throws -> [String: Value] {
            guard let value, value != .null else { return [:] }
            guard let items = value.arrayValue else { throw fail(.invalidFormat, field, "expected a list") }
            var result: [String: Value] = [:]
            for (index, item) in items.enumerated() {
                guard let name = try string(item["name"], "\(field)[\(index)].name"), !name.isEmpty else {
                    throw fail(.missingField, "\(field)[\(index)].name", "required")
                }
                let body = item[entry] ?? [:]
                guard body.objectValue != nil || body == .null else {
                    throw fail(.invalidFormat, "\(field)[\(index)].\(entry)", "expected a mapping")
                }
                if result[name] == nil {
                    result[name] = try parse(body, "\(field)[\(index)].\(entry)")
                }
            }
            return result
        }

        func cluster(_ body: JSONValue, _ field: String) throws -> Cluster {
            Cluster(
                server: try string(body["server"], "\(field).server"),
                certificateAuthority: try path(body["certificate-authority"], "\(field).certificate-authority"),
                certificateAuthorityData: try base64(
                    body["certificate-authority-data"],
                    "\(field).certificate-authority-data"
                ),
                insecureSkipTLSVerify: try bool(body["insecure-skip-tls-verify"], "\(field).insecure-skip-tls-verify"),
                tlsServerName: try string(body["tls-server-name"], "\(field).tls-server-name")
            )
        }

        func user(_ body: JSONValue, _ field: String) throws -> User {
            var user = User(
                token: try string(body["token"], "\(field).token").flatMap { $0.isEmpty ? nil : $0 },
                tokenFile: try path(body["tokenFile"], "\(field).tokenFile"),
                clientCertificate: try path(body["client-certificate"], "\(field).client-certificate"),
                clientCertificateData: try base64(body["client-certificate-data"], "\(field).client-certificate-data"),
                clientKey: try path(body["client-key"], "\(field).client-key"),
                clientKeyData: try base64(body["client-key-data"], "\(field).client-key-data")
            )
            if let exec = body["exec"], exec != .null {
                user.exec = try self.exec(exec, "\(field).exec")
            }
            if let provider = body["auth-provider"], provider != .null {
                user.unsupported = "\(field).auth-provider"
            } else if let username = body["username"], username != .null {
                user.unsupported = "\(field).username (basic authentication)"
            }
            return user
        }

        func exec(_ body: JSONValue, _ field: String) throws -> KubernetesClient.Configuration.ExecConfiguration {
            guard body.objectValue != nil else { throw fail(.invalidFormat, field, "expected a mapping") }
            guard let command = try string(body["command"], "\(field).command"), !command.isEmpty else {
                throw fail(.missingField, "\(field).command", "required")
            }
            let apiVersion = try string(body["apiVersion"], "\(field).apiVersion") ?? ""
            guard ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"].contains(apiVersion)
            else {
                throw fail(
                    .invalidField,
                    "\(field).apiVersion",
                    apiVersion.isEmpty
                        ? "required (client.authentication.k8s.io/v1)"
                        : "\"\(apiVersion)\" is not supported; use client.authentication.k8s.io/v1 or v1beta1"
                )
            }
            var arguments: [String] = []
            if let args = body["args"], args != .null {
                guard let list = args.arrayValue else { throw fail(.invalidFormat, "\(field).args", "expected a list") }
                for (index, argument) in list.enumerated() {
                    arguments.append(try string(argument, "\(field).args[\(index)]") ?? "")
                }
            }
            var environment: [KubernetesClient.Configuration.ExecConfiguration.EnvironmentVariable] = []
            if let env = body["env"], env != .null {
                guard let list = env.arrayValue else { throw fail(.invalidFormat, "\(field).env", "expected a list") }
                for (index, variable) in list.enumerated() {
                    guard let name = try string(variable["name"], "\(field).env[\(index)].name"), !name.isEmpty else {
                        throw fail(.missingField, "\(field).env[\(index)].name", "required")
                    }
                    environment.append(
                        .init(name: name, value: try string(variable["value"], "\(field).env[\(index)].value") ?? "")
                    )
                }
            }
            // A command with a slash is a path relative to the kubeconfig; a bare name is looked up in PATH.
            let resolved = command.contains("/") ? (try path(.string(command), "\(field).command") ?? command) : command
            return .init(
                command: resolved,
                arguments: arguments,
                environment: environment,
                apiVersion: apiVersion,
                installHint: try string(body["installHint"], "\(field).installHint")
            )
        }

        func context(_ body: JSONValue, _ field: String) throws -> Context {
            guard let cluster = try string(body["cluster"], "\(field).cluster"), !cluster.isEmpty else {
                throw fail(.missingField, "\(field).cluster", "required")
            }
            return Context(
                cluster: cluster,
                user: try string(body["user"], "\(field).user"),
                namespace: try string(body["namespace"], "\(field).namespace")
            )
        }
    }
}
