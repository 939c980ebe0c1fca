import Foundation
import Gateway
import Kubernetes
@testable import KubernetesClient
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PKI
@testable import Reconcilers
import Resilience
import Testing
import UpstreamCredentials

/// The leader's peer certificate over its life: issued once, kept while fresh, renewed when a third of
/// its life is left, with the CA's API objects on a real (embedded) API server.
@Suite struct PeerCertificateTests {
    static let namespace = "portcullis-system"

    @Test func theLeaderRenewsThePeerCertificateWhenAThirdOfItsLifeIsLeft() async throws {
        try await TestCluster.with { cluster in
            try await cluster.createNamespace(Self.namespace)
            let peerTLS = PeerTLS()
            let pki = InstallationPKI(
                settings: PKISettings(namespace: Self.namespace, issuer: nil), signing: SharedSigningContext(), peerTLS: peerTLS, logger: TestCluster.quiet
            )
            let secrets = Store<CoreV1.Secret>()
            let configMaps = Store<CoreV1.ConfigMap>()
            /// Reconciles as leader at `now`, then brings the cache up to what the API holds, as the informer would.
            func reconcile(at now: Date) async throws -> (next: Duration?, serial: String) {
                let (next, _) = try await pki.reconcile(secrets: secrets, configMaps: configMaps, client: cluster.client, isLeader: true, now: now)
                for secret in try await cluster.client.resources(CoreV1.Secret.self).list(namespace: Self.namespace).items { _ = secrets.upsert(secret) }
                let stored = try #require(secrets.get(namespace: Self.namespace, name: "portcullis-peer-tls")?.data)
                let issued = try IssuedCertificate(secretData: stored.mapValues { String(decoding: $0, as: UTF8.self) })
                #expect(peerTLS.certificateChainPEM == issued.certificatePEM, "the leader loads what it stored")
                return (next, issued.serialNumber)
            }
            let day = 86_400.0
            let start = Date()
            let first = try await reconcile(at: start)
            // 7 days of life (and 5 minutes of backdating): renewed with a third left, after about 4.67 days.
            let next = try #require(first.next)
            #expect(next <= .seconds(4.7 * day) && next >= .seconds(4.6 * day), "\(next)")
            #expect(try await reconcile(at: start.addingTimeInterval(day)).serial == first.serial, "fresh: kept")
            let renewed = try await reconcile(at: start.addingTimeInterval(4.7 * day))
            #expect(renewed.serial != first.serial, "due: renewed")
            #expect(try await reconcile(at: start.addingTimeInterval(4.8 * day)).serial == renewed.serial)
        }
    }

    /// What an earlier version left: the peer certificate issued by the installation CA, which also issues
    /// tenants' client certificates. The leader makes a peer CA of its own and reissues from it.
    @Test func theLeaderIssuesThePeerCertificateFromAPeerCAOfItsOwnReplacingOneFromTheInstallationCA() async throws {
        try await TestCluster.with { cluster in
            try await cluster.createNamespace(Self.namespace)
            let secrets = cluster.client.resources(CoreV1.Secret.self)
            let installationCA = try CertificateAuthority.generate(commonName: "Portcullis CA", now: Date())
            let old = try installationCA.issue(CertificateRequest(purpose: .peer, dnsNames: [PeerTLS.peerName], duration: .seconds(7 * 86_400)), now: Date())
            for (name, data) in [
                ("portcullis-ca", [
                    "tls.crt": try installationCA.certificatePEM, "tls.key": try installationCA.privateKeyPEM, "ca.crt": try installationCA.trustAnchorPEM,
                ]),
                ("portcullis-peer-tls", old.secretData),
            ] {
                _ = try await secrets.create(
                    CoreV1.Secret(metadata: ObjectMeta(name: name, namespace: Self.namespace), data: data.mapValues { Data($0.utf8) }, type: "kubernetes.io/tls")
                )
            }
            let peerTLS = PeerTLS()
            let pki = InstallationPKI(
                settings: PKISettings(namespace: Self.namespace, issuer: nil), signing: SharedSigningContext(), peerTLS: peerTLS, logger: TestCluster.quiet
            )
            let cache = Store<CoreV1.Secret>()
            for _ in 0..<2 {
                for secret in try await secrets.list(namespace: Self.namespace).items { _ = cache.upsert(secret) }
                _ = try await pki.reconcile(secrets: cache, configMaps: Store(), client: cluster.client, isLeader: true)
            }

            let peerCA = try #require(try await secrets.get("portcullis-peer-ca", namespace: Self.namespace).data)
            let peerAnchor = String(decoding: try #require(peerCA["ca.crt"]), as: UTF8.self)
            #expect(peerAnchor != (try installationCA.trustAnchorPEM), "a CA of its own")
            let stored = try #require(try await secrets.get("portcullis-peer-tls", namespace: Self.namespace).data)
            let issued = try IssuedCertificate(secretData: stored.mapValues { String(decoding: $0, as: UTF8.self) })
            #expect(issued.caPEM == peerAnchor, "issued by the peer CA")
            #expect(issued.serialNumber != old.serialNumber, "the installation CA's peer certificate was replaced")
            #expect(peerTLS.certificateChainPEM == issued.certificatePEM)
            let bundle = try await cluster.client.resources(CoreV1.ConfigMap.self).get("portcullis-ca-bundle", namespace: Self.namespace)
            #expect(bundle.data?["ca.crt"] == (try installationCA.trustAnchorPEM), "backends are told the installation CA, never the peer CA")
        }
    }

    /// The attack of #13: a tenant's client certificate from the installation CA, naming the peer name. The
    /// admin port refuses its handshake, so it learns nothing (no answer, no fingerprint) and changes nothing;
    /// over plain HTTP the peer endpoint answers 403 without the fingerprint. The real peer certificate works.
    @Test func aCertificateFromTheInstallationCANamingThePeerNameGetsNothingFromTheAdminPort() async throws {
        try await TestCluster.with { cluster in
            try await cluster.createNamespace(Self.namespace)
            let peerTLS = PeerTLS()
            let pki = InstallationPKI(
                settings: PKISettings(namespace: Self.namespace, issuer: nil), signing: SharedSigningContext(), peerTLS: peerTLS, logger: TestCluster.quiet
            )
            let cache = Store<CoreV1.Secret>()
            for _ in 0..<2 {
                _ = try await pki.reconcile(secrets: cache, configMaps: Store(), client: cluster.client, isLeader: true)
                for secret in try await cluster.client.resources(CoreV1.Secret.self).list(namespace: Self.namespace).items { _ = cache.upsert(secret) }
            }
            let installationCA = try #require(pki.authority)
            let peerSecret = try #require(cache.get(namespace: Self.namespace, name: "portcullis-peer-tls")?.data).mapValues { String(decoding: $0, as: UTF8.self) }
            let peerCertificate = try IssuedCertificate(secretData: peerSecret)

            let route = RouteConfig(
                key: RouteKey(namespace: "team-b", name: "orders"), match: RouteMatchRule(path: .prefix("/orders")),
                upstream: UpstreamTarget(scheme: .http, host: "127.0.0.1", port: 1),
                circuitBreaker: CircuitBreakerConfiguration(consecutiveFailures: 1, openDuration: .seconds(30))
            )
            let state = GatewayState(GatewayConfig(generation: 1, routes: [route]))
            let exchange = BreakerExchange(identity: "replica-b", state: state, tls: peerTLS, logger: TestCluster.quiet)
            let admin = try await AdminServer(host: "127.0.0.1", port: 0, isReady: { true }, describeConfig: { "{}" }, breakerExchange: exchange).start()
            let port = admin.localAddress!.port!
            let breakers = try #require(JSONSerialization.jsonObject(with: Data(exchange.describe().utf8)) as? [String: Any])["breakers"] as? [[String: Any]]
            let fingerprint = try #require(breakers?.first?["settings"] as? String)
            let body = #"{"sender":"replica-a","namespace":"team-b","name":"orders","settings":"\#(fingerprint)","state":"Open","openForMilliseconds":86400000,"tripStreak":1}"#
            let post = "POST \(BreakerExchange.path) HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            func breakerState() -> CircuitBreakerState? { state.circuitBreakers()[route.key]?.state }

            // What a tenant could get from the installation CA through spec.mutualTLS before #13.
            let tenant = try installationCA.issue(
                .client(commonName: "portcullis:team-a:impostor", dnsNames: [PeerTLS.peerName], duration: .seconds(3600)), now: Date()
            )
            for request in [post, "GET /debug/breakers HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"] {
                let answer = try await Self.exchange(port: port, request, presenting: tenant)
                #expect(answer.isEmpty, "no HTTP answer to a certificate from the installation CA: \(answer)")
            }
            #expect(breakerState() == .closed)
            let plain = try await Self.exchange(port: port, post.replacingOccurrences(of: fingerprint, with: "0000000000000000"))
            #expect(plain.hasPrefix("HTTP/1.1 403"))
            #expect(!plain.contains(fingerprint), "the fingerprint is not told over plain HTTP")
            #expect(breakerState() == .closed)

            // The peer certificate itself is accepted: the refusals above are about who asks.
            let accepted = try await Self.exchange(port: port, post, presenting: peerCertificate)
            #expect(accepted.hasPrefix("HTTP/1.1 200"), "\(accepted)")
            #expect(breakerState() == .open)
            try await admin.close()
        }
    }

    /// Sends `request` to the admin port, over TLS presenting `certificate` (without checking the server's) or
    /// over plain TCP, and returns everything answered until the connection closes; empty when the handshake fails.
    static func exchange(port: Int, _ request: String, presenting certificate: IssuedCertificate? = nil) async throws -> String {
        let collected = NIOLockedValueBox(ByteBuffer())
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        if let certificate {
            configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8)).map { .certificate($0) }
            configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(certificate.privateKeyPEM.utf8), format: .pem))
        }
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if certificate != nil {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: PeerTLS.peerName))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(collected))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        try? await channel.writeAndFlush(ByteBuffer(string: request))
        try? await channel.closeFuture.get()
        var bytes = collected.withLockedValue { $0 }
        return bytes.readString(length: bytes.readableBytes) ?? ""
    }

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let collected: NIOLockedValueBox<ByteBuffer>
        init(_ collected: NIOLockedValueBox<ByteBuffer>) { self.collected = collected }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            collected.withLockedValue { _ = $0.writeBuffer(&buffer) }
        }
    }
}
