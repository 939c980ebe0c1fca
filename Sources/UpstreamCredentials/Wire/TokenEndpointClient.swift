import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// What a token endpoint answered.
struct TokenEndpointResponse: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]
}

/// POSTs to token endpoints with AsyncHTTPClient and turns transport failures into ``CredentialError``s.
///
/// Control plane only: one request per refresh. Redirects are not followed when the `HTTPClient` is configured as
/// ``AsyncHTTPClient/HTTPClient/Configuration/tokenEndpoints`` (what `portcullis controller` and `dev` use): a token
/// endpoint that redirects is misconfigured, and following would resend the credential elsewhere. The redirect
/// becomes ``CredentialError/Reason/redirected``.
struct TokenEndpointClient: Sendable {
    /// The largest response read: STS tokens are at most 12 288 bytes, ID tokens and error bodies far smaller.
    static let maximumResponseSize = 256 * 1024

    let httpClient: HTTPClient
    let logger: Logger
    /// AsyncHTTPClient's deadline for the whole request: 8 s by default, under the token cache's 10 s fetch
    /// timeout. AsyncHTTPClient keeps retrying a refused connection until this deadline and then reports the
    /// connection error, so a deadline under the fetch timeout lets an unreachable endpoint surface as
    /// ``CredentialError/Reason/unreachable`` rather than ``CredentialError/Reason/timeout``.
    let requestTimeout: TimeAmount

    static let defaultRequestTimeout: Duration = .seconds(8)

    init(httpClient: HTTPClient, logger: Logger, requestTimeout: Duration = TokenEndpointClient.defaultRequestTimeout) {
        self.httpClient = httpClient
        self.logger = logger
        self.requestTimeout = .nanoseconds(Int64(requestTimeout.timeInterval * 1e9))
    }

    /// POSTs `body` to `url`.
    ///
    /// - Parameters:
    ///   - url: The endpoint.
    ///   - contentType: The body's media type.
    ///   - headers: More headers (Authorization).
    ///   - body: The body.
    ///   - redacting: Secrets that must not reach an error message.
    /// - Returns: The status, headers and body, whatever the status.
    /// - Throws: ``CredentialError`` with ``CredentialError/Reason/unreachable``, ``CredentialError/Reason/timeout``
    ///   or ``CredentialError/Reason/invalidConfiguration`` (a bad URL); `CancellationError`.
    func post(
        url: String,
        contentType: String,
        headers extraHeaders: [(String, String)] = [],
        body: String,
        redacting secrets: [String]
    ) async throws -> TokenEndpointResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in extraHeaders { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let response = try await httpClient.execute(request, timeout: requestTimeout, logger: logger)
            let buffer = try await response.body.collect(upTo: Self.maximumResponseSize)
            return TokenEndpointResponse(
                status: Int(response.status.code),
                headers: response.headers,
                body: Array(buffer.readableBytesView)
            )
        } catch let error as CancellationError {
            throw error
        } catch {
            throw Self.transportError(error, url: url, redacting: secrets)
        }
    }

    /// Classifies an AsyncHTTPClient or NIO error.
    static func transportError(_ error: any Error, url: String, redacting secrets: [String]) -> CredentialError {
        if let error = error as? HTTPClientError {
            let timeouts: [HTTPClientError] = [
                .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .socksHandshakeTimeout,
                .tlsHandshakeTimeout, .getConnectionFromPoolTimeout,
            ]
            if timeouts.contains(error) {
                return CredentialError(.timeout, "\(url) did not answer in time (\(error))", redacting: secrets)
            }
            if [HTTPClientError.invalidURL, .emptyHost, .emptyScheme].contains(error) {
                return CredentialError(.invalidConfiguration, "\(url) is not a usable URL", redacting: secrets)
            }
        }
        if error is NIOTooManyBytesError {
            return CredentialError(.malformedResponse, "\(url) sent more than the token response limit", redacting: secrets)
        }
        return CredentialError(.unreachable, "cannot reach \(url): \(error)", redacting: secrets)
    }
}
