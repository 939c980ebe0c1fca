public import AsyncHTTPClient
import Foundation
public import Kubernetes
public import Logging
public import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import Synchronization

/// A Kubernetes API client on one shared AsyncHTTPClient: TLS 1.2 or later, verified against the configured CA,
/// bearer tokens (fixed, from a file, or from an exec plugin) or client certificates, errors decoded
/// from the server's Status into ``KubernetesError``.
///
/// Resource access goes through ``resources(_:as:)`` (any ``ResourceDescriptor``, typed or as
/// `JSONValue`) or ``resources(_:)`` for a ``KubernetesResource`` type.
///
/// Call ``shutdown()`` when done: the underlying `HTTPClient` must be shut down (unless it was passed in).
public final class KubernetesClient: Sendable {
    public let configuration: Configuration
    let httpClient: HTTPClient
    private let ownsHTTPClient: Bool
    let credentials: CredentialProvider
    let logger: Logger
    /// The TLS configuration requests use, by the client identity it presents (exec plugins may rotate it).
    private let tlsConfigurations: Mutex<[ClientIdentity: TLSConfiguration]>

    /// The largest response body read into memory (lists are paged well below it).
    static let maximumResponseBytes = 256 * 1024 * 1024

    /// Creates a client with its own `HTTPClient`.
    ///
    /// - Parameters:
    ///   - configuration: Server, TLS and credentials, e.g. from ``Kubeconfig/configuration(context:)``.
    ///   - eventLoopGroup: Where connections run. Default: AsyncHTTPClient's shared group.
    ///   - logger: For background activity and request failures (never credentials or bodies).
    /// - Throws: ``ConfigurationError`` when a PEM in the configuration cannot be parsed.
    public convenience init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup,
        logger: Logger
    ) throws {
        let tls = try Self.makeTLSConfiguration(configuration.tls, identity: ClientIdentity(configuration.tls))
        var httpConfiguration = HTTPClient.Configuration(
            tlsConfiguration: tls,
            redirectConfiguration: .disallow,
            timeout: .init(connect: TimeAmount(configuration.timeouts.connect), read: nil),
            connectionPool: .init(
                idleTimeout: .seconds(60),
                concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnections
            ),
            decompression: .disabled
        )
        httpConfiguration.httpVersion = .automatic
        let httpClient = HTTPClient(
            eventLoopGroup: eventLoopGroup,
            configuration: httpConfiguration,
            backgroundActivityLogger: logger
        )
        try self.init(configuration: configuration, httpClient: httpClient, ownsHTTPClient: true, logger: logger)
    }

    /// Creates a client on an existing `HTTPClient`, which the caller keeps and shuts down.
    ///
    /// - Throws: ``ConfigurationError`` when a PEM in the configuration cannot be parsed.
    public convenience init(configuration: Configuration, httpClient: HTTPClient, logger: Logger) throws {
        try self.init(configuration: configuration, httpClient: httpClient, ownsHTTPClient: false, logger: logger)
    }

    private init(configuration: Configuration, httpClient: HTTPClient, ownsHTTPClient: Bool, logger: Logger) throws {
        self.configuration = configuration
        self.httpClient = httpClient
        self.ownsHTTPClient = ownsHTTPClient
        self.logger = logger
        self.credentials = CredentialProvider(configuration: configuration)
        let identity = ClientIdentity(configuration.tls)
        self.tlsConfigurations = Mutex([identity: try Self.makeTLSConfiguration(configuration.tls, identity: identity)])
    }

    /// Shuts the `HTTPClient` down if this client created it; open watches end.
    public func shutdown() async throws {
        if ownsHTTPClient { try await httpClient.shutdown() }
    }

    /// Access to one resource, decoding objects as `Object` (a typed model or `JSONValue`).
    public func resources<Object: KubernetesObject>(
        _ resource: ResourceDescriptor,
        as type: Object.Type = JSONValue.self
    ) -> ResourceClient<Object> {
        ResourceClient(client: self, resource: resource)
    }

    /// Access to a typed resource, e.g. `client.resources(Route.self)`.
    public func resources<Object: KubernetesResource>(_ type: Object.Type) -> ResourceClient<Object> {
        ResourceClient(client: self, resource: Object.resource)
    }
}

// MARK: - Requests

extension KubernetesClient {
    /// A client certificate and key, or none; what distinguishes one TLS configuration from another.
    struct ClientIdentity: Hashable, Sendable {
        var certificatePEM: String?
        var keyPEM: String?

        init(certificatePEM: String?, keyPEM: String?) {
            self.certificatePEM = certificatePEM
            self.keyPEM = keyPEM
        }

        init(_ tls: Configuration.TLS) {
            self.init(certificatePEM: tls.clientCertificatePEM, keyPEM: tls.clientKeyPEM)
        }
    }

    static func makeTLSConfiguration(_ tls: Configuration.TLS, identity: ClientIdentity) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = ["h2", "http/1.1"]
        // A watch cancelled mid-stream closes its connection; do not wait long for the peer's close_notify.
        configuration.shutdownTimeout = .seconds(1)
        if tls.insecureSkipVerify {
            configuration.certificateVerification = .none
        } else if let pem = tls.certificateAuthorityPEM {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
            } catch {
                throw ConfigurationError(.invalidField, "certificate authority: not valid PEM certificates: \(error)")
            }
        }
        if let certificatePEM = identity.certificatePEM, let keyPEM = identity.keyPEM {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map {
                    .certificate($0)
                }
            } catch {
                throw ConfigurationError(.invalidField, "client certificate: not valid PEM: \(error)")
            }
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
            } catch {
                throw ConfigurationError(.invalidField, "client key: not a valid PEM private key")
            }
        }
        return configuration
    }

    /// The TLS configuration for requests presenting `credential`'s client certificate, when it has one.
    private func tlsConfiguration(for credential: Credential) throws -> TLSConfiguration? {
        guard let certificate = credential.clientCertificatePEM, let key = credential.clientKeyPEM else { return nil }
        let identity = ClientIdentity(certificatePEM: certificate, keyPEM: key)
        if let existing = tlsConfigurations.withLock({ $0[identity] }) { return existing }
        let made = try Self.makeTLSConfiguration(configuration.tls, identity: identity)
        tlsConfigurations.withLock { configurations in
            // Keep the configured identity and the newest plugin-issued one.
            configurations = configurations.filter { $0.key == ClientIdentity(configuration.tls) }
            configurations[identity] = made
        }
        return made
    }

    /// Sends a request and returns the response head with its (still streaming) body; a 2xx only.
    ///
    /// A 401 with a refreshable credential (token file, exec plugin) refreshes it and retries once.
    ///
    /// - Parameter deadline: Until when to wait for the response head; `nil` uses the configured request timeout.
    /// - Throws: ``KubernetesError`` for a non-2xx answer; transport errors as AsyncHTTPClient throws them.
    func send(
        _ method: HTTPMethod,
        path: String,
        query: [(String, String)] = [],
        body: ByteBuffer? = nil,
        contentType: String? = nil,
        timeout: Duration? = nil
    ) async throws -> HTTPClientResponse {
        var url = configuration.server + path
        if !query.isEmpty { url += "?" + PercentEncoding.query(query) }
        for attempt in 0..<2 {
            let credential = try await credentials.current()
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "User-Agent", value: configuration.userAgent)
            if let token = credential.bearerToken {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            if let body {
                request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
                request.body = .bytes(body)
            }
            if let tls = try tlsConfiguration(for: credential) {
                request.tlsConfiguration = tls
            }
            let response = try await httpClient.execute(
                request,
                timeout: TimeAmount(timeout ?? configuration.timeouts.request),
                logger: logger
            )
            if (200..<300).contains(response.status.code) {
                return response
            }
            let error = await Self.error(from: response)
            if response.status == .unauthorized, attempt == 0, credentials.isRefreshable {
                logger.debug(
                    "credential rejected; refreshing it",
                    metadata: ["kubernetes.method": "\(method)", "kubernetes.path": "\(path)"]
                )
                credentials.invalidate(credential)
                continue
            }
            throw error
        }
        throw KubernetesError(
            code: .unauthorized,
            statusCode: 401,
            message: "the server rejected the refreshed credential"
        )
    }

    /// Sends a request and reads the whole 2xx body.
    func perform(
        _ method: HTTPMethod,
        path: String,
        query: [(String, String)] = [],
        body: ByteBuffer? = nil,
        contentType: String? = nil
    ) async throws -> ByteBuffer {
        let response = try await send(method, path: path, query: query, body: body, contentType: contentType)
        return try await response.body.collect(upTo: Self.maximumResponseBytes)
    }

    /// The ``KubernetesError`` a non-2xx response describes (its Status, or its status line).
    static func error(from response: HTTPClientResponse) async -> KubernetesError {
        let statusCode = Int(response.status.code)
        let retryAfter = response.headers.first(name: "Retry-After").flatMap(Int.init).map { Duration.seconds($0) }
        let body = try? await response.body.collect(upTo: 1024 * 1024)
        if let body, let status = try? JSONDecoder().decode(Status.self, from: body),
            status.kind == "Status" || status.reason != nil
        {
            return KubernetesError(status: status, httpStatusCode: statusCode, retryAfter: retryAfter)
        }
        var message = "the server answered \(statusCode) \(response.status.reasonPhrase)"
        if let body, body.readableBytes > 0 {
            let text = String(buffer: body).trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { message += ": " + String(text.prefix(200)) }
        }
        return KubernetesError(
            code: KubernetesError.code(statusCode: statusCode, reason: nil),
            statusCode: statusCode,
            message: message,
            retryAfter: retryAfter
        )
    }

    /// Decodes a response body, turning a decoding failure into ``KubernetesError/Code/invalidResponse``.
    static func decode<Value: Decodable>(
        _ type: Value.Type,
        from buffer: ByteBuffer,
        what: @autoclosure () -> String
    ) throws -> Value {
        do {
            return try JSONDecoder().decode(type, from: buffer)
        } catch {
            throw KubernetesError(
                code: .invalidResponse,
                message: "\(what()): the response does not decode as \(Value.self): \(error)"
            )
        }
    }

    /// The JSON body for writing `object` to `resource`, with `apiVersion` and `kind` filled in when absent
    /// (the API server refuses bodies without them).
    static func encode<Object: Encodable>(_ object: Object, as resource: ResourceDescriptor) throws -> ByteBuffer {
        var json: JSONValue
        if let value = object as? JSONValue {
            json = value
        } else {
            json = try JSONValue(encoding: object)
        }
        if json["apiVersion"] == nil || json["apiVersion"] == .null {
            json["apiVersion"] = .string(resource.apiVersion)
        }
        if json["kind"] == nil || json["kind"] == .null { json["kind"] = .string(resource.kind) }
        return ByteBuffer(string: json.description)
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
