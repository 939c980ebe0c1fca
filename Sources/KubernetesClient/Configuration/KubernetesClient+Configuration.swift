extension KubernetesClient {
    /// Where the API server is, how to trust it and how to authenticate: what a kubeconfig context or
    /// the in-cluster environment resolves to (see ``Kubeconfig`` and ``inCluster(environment:serviceAccountDirectory:)``).
    ///
    /// Descriptions redact tokens and private keys.
    public struct Configuration: Sendable, Hashable {
        /// The API server's base URL, e.g. `https://127.0.0.1:6443`.
        public var server: String
        public var tls: TLS
        public var authentication: Authentication
        /// The namespace requests use when none is given (the context's, or the service account's). Default `default`.
        public var namespace: String
        public var timeouts: Timeouts
        /// Sent as `User-Agent`. Default `portcullis`.
        public var userAgent: String
        /// The `fieldManager` of writes that do not name one. Default `portcullis`.
        public var fieldManager: String
        /// How many HTTP/1.1 connections to the server may be open at once; every watch holds one. Default 64.
        public var maximumConnections: Int

        public init(
            server: String,
            tls: TLS = TLS(),
            authentication: Authentication = .none,
            namespace: String = "default",
            timeouts: Timeouts = Timeouts(),
            userAgent: String = "portcullis",
            fieldManager: String = "portcullis",
            maximumConnections: Int = 64
        ) {
            self.server = server
            self.tls = tls
            self.authentication = authentication
            self.namespace = namespace
            self.timeouts = timeouts
            self.userAgent = userAgent
            self.fieldManager = fieldManager
            self.maximumConnections = maximumConnections
        }

        /// How the server's certificate is checked and which client certificate is presented.
        public struct TLS: Sendable, Hashable, CustomStringConvertible {
            /// PEM certificates to trust for the server; `nil` trusts the system's roots.
            public var certificateAuthorityPEM: String?
            /// Accept any server certificate (kubeconfig `insecure-skip-tls-verify`). Default `false`.
            public var insecureSkipVerify: Bool
            /// The client certificate chain (PEM) for mutual TLS.
            public var clientCertificatePEM: String?
            /// The client certificate's private key (PEM).
            public var clientKeyPEM: String?

            public init(
                certificateAuthorityPEM: String? = nil,
                insecureSkipVerify: Bool = false,
                clientCertificatePEM: String? = nil,
                clientKeyPEM: String? = nil
            ) {
                self.certificateAuthorityPEM = certificateAuthorityPEM
                self.insecureSkipVerify = insecureSkipVerify
                self.clientCertificatePEM = clientCertificatePEM
                self.clientKeyPEM = clientKeyPEM
            }

            public var description: String {
                "TLS(ca: \(certificateAuthorityPEM == nil ? "system" : "custom"), insecure: \(insecureSkipVerify), "
                    + "clientCertificate: \(clientCertificatePEM == nil ? "none" : "set"), clientKey: \(clientKeyPEM == nil ? "none" : "<redacted>"))"
            }
        }

        /// How requests authenticate.
        public enum Authentication: Sendable, Hashable, CustomStringConvertible {
            /// No credential (or only a client certificate, see ``TLS``).
            case none
            /// A fixed bearer token.
            case bearerToken(String)
            /// A bearer token read from a file and read again at most every `rereadInterval` and after a
            /// 401, so a token the kubelet rotates is picked up (client-go re-reads every minute).
            case tokenFile(path: String, rereadInterval: Duration = .seconds(60))
            /// A client.authentication.k8s.io exec credential plugin.
            case exec(ExecConfiguration)

            public var description: String {
                switch self {
                case .none: return "none"
                case .bearerToken: return "bearerToken(<redacted>)"
                case .tokenFile(let path, let interval): return "tokenFile(\(path), every \(interval))"
                case .exec(let exec): return "exec(\(exec.command))"
                }
            }
        }

        /// An exec credential plugin: a command that prints a `client.authentication.k8s.io` ExecCredential.
        public struct ExecConfiguration: Sendable, Hashable {
            /// An absolute path, or a name looked up in `PATH`.
            public var command: String
            public var arguments: [String]
            /// Added to this process's environment for the plugin.
            public var environment: [EnvironmentVariable]
            /// `client.authentication.k8s.io/v1` (default) or `/v1beta1`; the plugin must answer with the same.
            public var apiVersion: String
            /// Shown when the command cannot be run.
            public var installHint: String?
            /// How long the plugin may run before it is killed. Default 60 s.
            public var timeout: Duration

            public init(
                command: String,
                arguments: [String] = [],
                environment: [EnvironmentVariable] = [],
                apiVersion: String = "client.authentication.k8s.io/v1",
                installHint: String? = nil,
                timeout: Duration = .seconds(60)
            ) {
                self.command = command
                self.arguments = arguments
                self.environment = environment
                self.apiVersion = apiVersion
                self.installHint = installHint
                self.timeout = timeout
            }

            public struct EnvironmentVariable: Sendable, Hashable {
                public var name: String
                public var value: String

                public init(name: String, value: String) {
                    self.name = name
                    self.value = value
                }
            }
        }

        /// Request time limits.
        public struct Timeouts: Sendable, Hashable {
            /// Establishing a connection, including the TLS handshake. Default 10 s.
            public var connect: Duration
            /// From sending a request to receiving the response head, for everything but watches. Default 30 s.
            public var request: Duration

            public init(connect: Duration = .seconds(10), request: Duration = .seconds(30)) {
                self.connect = connect
                self.request = request
            }
        }
    }
}
