import Foundation
import Gateway
import Kubernetes
@testable import KubernetesClient
import PKI
@testable import Reconcilers
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
}
