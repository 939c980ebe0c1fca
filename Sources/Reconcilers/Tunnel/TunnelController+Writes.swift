import Kubernetes
import KubernetesClient
import PortcullisAPI

/// The leader's writes to the Tunnel itself: its finalizer and its status.
extension TunnelController {
    func addFinalizer(to tunnel: Tunnel) async throws {
        let finalizers = tunnel.metadata.finalizers ?? []
        guard !finalizers.contains(Self.finalizer) else { return }
        try await patchFinalizers(of: tunnel, to: finalizers + [Self.finalizer])
    }

    func removeFinalizer(from tunnel: Tunnel) async throws {
        let finalizers = tunnel.metadata.finalizers ?? []
        guard finalizers.contains(Self.finalizer) else { return }
        try await patchFinalizers(of: tunnel, to: finalizers.filter { $0 != Self.finalizer })
    }

    /// Replaces the finalizer list, conditional on the resourceVersion read, so another writer's change is not lost.
    private func patchFinalizers(of tunnel: Tunnel, to finalizers: [String]) async throws {
        let patch: JSONValue = [
            "metadata": [
                "finalizers": .array(finalizers.map { .string($0) }),
                "resourceVersion": .string(tunnel.metadata.resourceVersion ?? ""),
            ]
        ]
        do {
            _ = try await client.resources(Tunnel.self).patch(tunnel.metadata.name ?? "", namespace: tunnel.metadata.namespace, .merge(patch))
        } catch let error as KubernetesError where error.code == .notFound {
            return
        }
    }

    /// Writes the whole status through `/status`; fields without a value are cleared.
    func writeStatus(_ status: TunnelStatus, of tunnel: Tunnel) async throws {
        var body = try JSONValue(encoding: status)
        for field in ["publicKey", "address", "peerAddress", "lastHandshakeTime", "transferRxBytes", "transferTxBytes"] where body[field] == nil {
            body[field] = .null
        }
        do {
            _ = try await client.resources(Tunnel.self).patch(
                tunnel.metadata.name ?? "",
                namespace: tunnel.metadata.namespace,
                .merge(["status": body]),
                subresource: "status"
            )
        } catch let error as KubernetesError where error.code == .notFound {
            return
        }
    }
}
