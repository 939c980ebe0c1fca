public import AsyncHTTPClient
public import NIOCore
import NIOSSL

extension HTTPClient.Configuration {
    /// How the control plane's client calls token endpoints: TLS 1.2 or later, verified against the system's
    /// roots, and never following a redirect. A token request carries an assertion or a client secret in its
    /// body; following a redirect would send it to whatever host the redirect names.
    public static var tokenEndpoints: HTTPClient.Configuration {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        return HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow)
    }
}

extension HTTPClient {
    /// A client for the token providers, configured as ``AsyncHTTPClient/HTTPClient/Configuration/tokenEndpoints``.
    /// Shut it down when done.
    ///
    /// - Parameter eventLoopGroup: Where its connections run. Default: AsyncHTTPClient's shared group.
    public static func forTokenEndpoints(eventLoopGroup: any EventLoopGroup = HTTPClient.defaultEventLoopGroup) -> HTTPClient {
        HTTPClient(eventLoopGroup: eventLoopGroup, configuration: .tokenEndpoints)
    }
}
