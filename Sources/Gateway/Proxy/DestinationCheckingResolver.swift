#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import IPAddresses
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Resolves an upstream's name with `getaddrinfo` on NIO's thread pool (never on the event loop) and
/// hands the connection only the addresses the ``DestinationPolicy`` allows, so a name that resolves
/// (or rebinds) to a loopback, metadata or cluster address is never connected to.
///
/// One per connection attempt: NIO's happy eyeballs asks for AAAA and A records, and both answers come
/// from one lookup. When every address was refused, ``refusal`` says why, so the attempt fails with
/// ``UpstreamDestinationRefused`` instead of a bare connection error.
final class DestinationCheckingResolver: Resolver, Sendable {
    private let eventLoop: any EventLoop
    private let policy: DestinationPolicy
    private let intoClusterNetwork: Bool
    private let v4: EventLoopPromise<[SocketAddress]>
    private let v6: EventLoopPromise<[SocketAddress]>
    private let refused = NIOLockedValueBox<DestinationPolicy.Refusal?>(nil)

    init(eventLoop: any EventLoop, policy: DestinationPolicy, intoClusterNetwork: Bool) {
        self.eventLoop = eventLoop
        self.policy = policy
        self.intoClusterNetwork = intoClusterNetwork
        v4 = eventLoop.makePromise()
        v6 = eventLoop.makePromise()
    }

    /// Why the addresses the name resolved to were refused, when none was left.
    var refusal: DestinationPolicy.Refusal? { refused.withLockedValue { $0 } }

    func initiateAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        v4.futureResult
    }

    func initiateAAAAQuery(host: String, port: Int) -> EventLoopFuture<[SocketAddress]> {
        NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { try Self.lookUp(host: host, port: port) }
            .whenComplete { result in
                switch result {
                case .success(let addresses):
                    var v4: [SocketAddress] = []
                    var v6: [SocketAddress] = []
                    var firstRefusal: DestinationPolicy.Refusal?
                    for address in addresses {
                        guard let text = address.ipAddress, let ip = IPAddress(text) else { continue }
                        if let refusal = self.policy.refusal(ip, port: port, intoClusterNetwork: self.intoClusterNetwork) {
                            firstRefusal = firstRefusal ?? refusal
                            continue
                        }
                        if case .v4 = address { v4.append(address) } else { v6.append(address) }
                    }
                    if v4.isEmpty && v6.isEmpty, let firstRefusal { self.refused.withLockedValue { $0 = firstRefusal } }
                    self.v4.succeed(v4)
                    self.v6.succeed(v6)
                case .failure(let error):
                    self.v4.fail(error)
                    self.v6.fail(error)
                }
            }
        return v6.futureResult
    }

    func cancelQueries() {}

    /// Every address `host` resolves to, in `getaddrinfo`'s (RFC 6724) order.
    private static func lookUp(host: String, port: Int) throws -> [SocketAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_protocol = Int32(IPPROTO_TCP)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0 else {
            throw UpstreamNameNotResolved(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry = list
        while let info = entry?.pointee {
            defer { entry = info.ai_next }
            guard let socketAddress = info.ai_addr else { continue }
            let resolved: SocketAddress
            switch info.ai_family {
            case AF_INET: resolved = SocketAddress(socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee }, host: host)
            case AF_INET6: resolved = SocketAddress(socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee }, host: host)
            default: continue
            }
            // getaddrinfo was asked for no service, so the port is set here.
            guard let text = resolved.ipAddress, let withPort = try? SocketAddress(ipAddress: text, port: port) else { continue }
            addresses.append(withPort)
        }
        return addresses
    }
}

/// The upstream's address is one the gateway may not connect to (docs/security.md, "Destinations").
struct UpstreamDestinationRefused: Error, CustomStringConvertible {
    var host: String
    var refusal: DestinationPolicy.Refusal

    var description: String { "\(host) resolves only to addresses the gateway may not connect to (\(refusal))" }
}

/// The upstream's name did not resolve.
struct UpstreamNameNotResolved: Error, CustomStringConvertible {
    var host: String
    var reason: String

    var description: String { "cannot resolve \(host): \(reason)" }
}
