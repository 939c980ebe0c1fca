import Foundation
import Kubernetes
import KubernetesClient
import Logging
import IPAddresses
import PortcullisAPI
import Synchronization
import Tunnels

/// The leader's part: keys in the key Secret, the connector Secret, the addresses.
extension TunnelController {
    /// The key Secret of a Tunnel.
    static func keySecretName(_ tunnel: Tunnel) -> String { "\(tunnel.metadata.name ?? "")-wireguard" }

    /// The connector Secret of a Tunnel: `spec.wireGuard.connectorSecretName`, default `<name>-connector`.
    static func connectorSecretName(_ tunnel: Tunnel) -> String {
        tunnel.spec.wireGuard.connectorSecretName ?? "\(tunnel.metadata.name ?? "")-connector"
    }

    /// The keys a key Secret holds. The private keys never leave Secrets and this value.
    struct Keys: Equatable {
        var gateway: WireGuardPrivateKey
        var peerPublic: WireGuardPublicKey
        /// The private side's key, when the controller generated it.
        var peerPrivate: WireGuardPrivateKey?
        /// The rotation request last acted on.
        var rotated: String?

        init(gateway: WireGuardPrivateKey, peerPublic: WireGuardPublicKey, peerPrivate: WireGuardPrivateKey?, rotated: String?) {
            self.gateway = gateway
            self.peerPublic = peerPublic
            self.peerPrivate = peerPrivate
            self.rotated = rotated
        }

        /// The keys in `secret`.
        ///
        /// - Throws: ``TunnelProblem`` naming the Secret and key that do not hold a WireGuard key.
        init(_ secret: CoreV1.Secret) throws {
            let name = "\(secret.metadata.namespace ?? "")/\(secret.metadata.name ?? "")"
            func text(_ key: String) throws -> String {
                guard let data = secret.data?[key] else {
                    throw TunnelProblem(reason: "InvalidSecret", message: "Secret \(name) has no key \(key); rotate the keys (annotation \(TunnelController.rotateKeysAnnotation)) to regenerate them")
                }
                return String(decoding: data, as: UTF8.self)
            }
            do {
                gateway = try WireGuardPrivateKey(base64: text("privateKey"), field: "Secret \(name) key privateKey")
                peerPublic = try WireGuardPublicKey(base64: text("peerPublicKey"), field: "Secret \(name) key peerPublicKey")
                peerPrivate = try secret.data?["peerPrivateKey"].map {
                    try WireGuardPrivateKey(base64: String(decoding: $0, as: UTF8.self), field: "Secret \(name) key peerPrivateKey")
                }
            } catch let error as WireGuardError {
                throw TunnelProblem(reason: "InvalidSecret", message: "\(error.message); rotate the keys (annotation \(TunnelController.rotateKeysAnnotation)) to regenerate them")
            }
            rotated = secret.metadata.annotations?[TunnelController.rotatedKeysAnnotation]
        }

        var data: [String: Data] {
            var data = [
                "privateKey": Data(gateway.base64.utf8),
                "publicKey": Data(gateway.publicKey.base64.utf8),
                "peerPublicKey": Data(peerPublic.base64.utf8),
            ]
            if let peerPrivate { data["peerPrivateKey"] = Data(peerPrivate.base64.utf8) }
            return data
        }
    }

    /// Makes sure the Tunnel has addresses, keys and a connector config, writing what is missing or stale.
    func ensureKeysAndAddresses(_ tunnel: Tunnel, key: ObjectKey, tunnels: Store<Tunnel>, secrets: Store<CoreV1.Secret>) async throws -> TunnelPlan {
        let spec = tunnel.spec.wireGuard
        let keySecretName = Self.keySecretName(tunnel)
        let connectorSecretName = Self.connectorSecretName(tunnel)
        guard connectorSecretName != keySecretName else {
            throw TunnelProblem(reason: "Invalid", message: "spec.wireGuard.connectorSecretName: Invalid value: \"\(connectorSecretName)\": is the name of the Tunnel's key Secret; choose another")
        }
        let requestedPeer = try spec.peerPublicKey.map { text in
            do {
                return try WireGuardPublicKey(base64: text, field: "spec.wireGuard.peerPublicKey")
            } catch let error as WireGuardError {
                throw TunnelProblem(reason: "Invalid", message: error.message)
            }
        }
        let allocation = try addresses(for: tunnel, key: key, tunnels: tunnels)

        // Keys: keep them, unless a rotation is asked for or the spec's peer key changed.
        let existing = try await ownedSecret(keySecretName, role: "keys", of: tunnel, cache: secrets)
        let rotation = tunnel.metadata.annotations?[Self.rotateKeysAnnotation]
        let current: Keys?
        do {
            current = try existing.map(Keys.init)
        } catch let problem as TunnelProblem {
            // Keys that no longer parse are replaced only when a rotation asks for it.
            guard let rotation, rotation != existing?.metadata.annotations?[Self.rotatedKeysAnnotation] else { throw problem }
            current = nil
        }
        let rotate = current != nil && rotation != nil && rotation != current?.rotated
        var keys = current ?? Keys(gateway: .generate(), peerPublic: WireGuardPrivateKey.generate().publicKey, peerPrivate: nil, rotated: nil)
        if rotate { keys.gateway = .generate() }
        if let requestedPeer {
            keys.peerPublic = requestedPeer
            keys.peerPrivate = nil
        } else if keys.peerPrivate == nil || rotate {
            let peer = WireGuardPrivateKey.generate()
            keys.peerPrivate = peer
            keys.peerPublic = peer.publicKey
        }
        keys.rotated = rotation
        if keys != current {
            try await write(
                secret(keySecretName, of: tunnel, role: "keys", data: keys.data, annotations: rotation.map { [Self.rotatedKeysAnnotation: $0] }),
                replacing: existing
            )
            if rotate { logger.info("rotated tunnel keys", metadata: ["tunnel": "\(key)", "tunnel.rotation": "\(rotation ?? "")"]) }
        }

        // The connector config, rendered from the keys and addresses.
        let gatewayAddress = TunnelAddressAllocator.hostNetwork(allocation.gateway)
        let peerAddress = TunnelAddressAllocator.hostNetwork(allocation.peer)
        let config = WGQuickConfig(
            header: [
                "WireGuard config for the private side of Tunnel \(key), written by Portcullis.",
                "Run it there with: wg-quick up ./wg0.conf (or see docs/tunnels.md).",
            ],
            privateKey: keys.peerPrivate.map { .key($0) } ?? .placeholder(forPublicKey: keys.peerPublic),
            address: peerAddress,
            peerPublicKey: keys.gateway.publicKey,
            endpoint: spec.endpoint,
            allowedIPs: [gatewayAddress],
            persistentKeepalive: spec.persistentKeepalive ?? WireGuardTunnel.defaultPersistentKeepalive
        )
        let connectorData = [Self.connectorConfigKey: Data(config.rendered().utf8)]
        let connector = try await ownedSecret(connectorSecretName, role: "connector", of: tunnel, cache: secrets)
        if connector?.data != connectorData {
            try await write(secret(connectorSecretName, of: tunnel, role: "connector", data: connectorData, annotations: nil), replacing: connector)
        }
        try await deleteStaleConnectors(of: tunnel, keeping: connectorSecretName, cache: secrets)

        return TunnelPlan(
            interface: WireGuardInterfaceConfiguration(
                name: interfaceName(key),
                privateKey: keys.gateway,
                listenPort: spec.listenPort ?? WireGuardTunnel.defaultListenPort,
                address: gatewayAddress,
                addressPool: try Self.addressPool(of: tunnel),
                peer: .init(publicKey: keys.peerPublic, allowedIPs: [peerAddress] + spec.allowedIPs.compactMap(IPNetwork.init))
            ),
            peerAddress: peerAddress,
            connectorSecretName: connectorSecretName
        )
    }

    /// What a replica that does not lead configures, from its caches: the leader's Secret and status.
    func cachedPlan(_ tunnel: Tunnel, key: ObjectKey, secrets: Store<CoreV1.Secret>) throws -> TunnelPlan {
        let spec = tunnel.spec.wireGuard
        let pending = TunnelProblem(readiness: .unknown, reason: "Pending", message: "waiting for the leader to write the keys and addresses")
        guard let secret = secrets.get(namespace: key.namespace, name: Self.keySecretName(tunnel)), Self.isOwned(secret, by: tunnel, role: "keys"),
            let gateway = tunnel.status?.address.flatMap(IPNetwork.init), let peer = tunnel.status?.peerAddress.flatMap(IPNetwork.init),
            let pool = IPNetwork(spec.addressPool), pool.contains(gateway.address)
        else { throw pending }
        let keys = try Keys(secret)
        return TunnelPlan(
            interface: WireGuardInterfaceConfiguration(
                name: interfaceName(key),
                privateKey: keys.gateway,
                listenPort: spec.listenPort ?? WireGuardTunnel.defaultListenPort,
                address: gateway,
                addressPool: pool,
                peer: .init(publicKey: keys.peerPublic, allowedIPs: [peer] + spec.allowedIPs.compactMap(IPNetwork.init))
            ),
            peerAddress: peer,
            connectorSecretName: Self.connectorSecretName(tunnel)
        )
    }

    /// The Tunnel's addresses: the ones it has, unless they left the pool or an older Tunnel holds one;
    /// else the lowest free pair of the pool, reserved at once so the next Tunnel does not get it too.
    func addresses(for tunnel: Tunnel, key: ObjectKey, tunnels: Store<Tunnel>) throws -> TunnelAddressAllocator.Allocation {
        let pool = try Self.addressPool(of: tunnel)
        let reservations = reserved.withLock { $0 }
        func held(_ other: Tunnel) -> [IPAddress] {
            if let reservation = reservations[other.objectKey] { return [reservation.gateway, reservation.peer] }
            return [other.status?.address, other.status?.peerAddress].compactMap { $0.flatMap(IPNetwork.init)?.address }
        }
        let others = tunnels.list().filter { $0.objectKey != key }
        let mine = held(tunnel)
        if mine.count == 2, mine[0] != mine[1], mine.allSatisfy(pool.contains) {
            let contested = others.filter { Self.precedes($0, tunnel) }.flatMap(held)
            if !mine.contains(where: contested.contains) {
                return TunnelAddressAllocator.Allocation(gateway: mine[0], peer: mine[1])
            }
        }
        do {
            let allocation = try TunnelAddressAllocator.allocate(in: pool, taken: Set(others.flatMap(held)))
            reserved.withLock { $0[key] = allocation }
            return allocation
        } catch let error as WireGuardError {
            throw TunnelProblem(reason: TunnelController.reason(for: error.code), message: "spec.wireGuard.addressPool: \(error.message)")
        }
    }

    /// The Tunnel's address pool.
    static func addressPool(of tunnel: Tunnel) throws -> IPNetwork {
        guard let pool = IPNetwork(tunnel.spec.wireGuard.addressPool) else {
            throw TunnelProblem(reason: "Invalid", message: "spec.wireGuard.addressPool: \(tunnel.spec.wireGuard.addressPool) is not a network")
        }
        return pool
    }

    /// Whether `first` keeps its addresses over `second` when they collide: the older one, then by key.
    static func precedes(_ first: Tunnel, _ second: Tunnel) -> Bool {
        let a = (first.metadata.creationTimestamp ?? "", first.objectKey)
        let b = (second.metadata.creationTimestamp ?? "", second.objectKey)
        return a < b
    }

    /// Whether the controller wrote `secret` for `tunnel` in `role` (`keys` or `connector`): it names the Tunnel as
    /// its controlling owner, and carries the Tunnel's and the role's labels. Any other Secret is never
    /// overwritten or deleted, so a tenant who may write Tunnels but not Secrets cannot have the controller
    /// write over a Secret of their namespace.
    static func isOwned(_ secret: CoreV1.Secret, by tunnel: Tunnel, role: String) -> Bool {
        let labels = secret.metadata.labels ?? [:]
        return labels[tunnelLabel] == tunnel.metadata.name && labels[roleLabel] == role
            && secret.metadata.ownerReferences?.contains { $0.uid == tunnel.metadata.uid && $0.controller == true } ?? false
    }

    /// The Secret `name` from the cache, else from the API (the cache may not have caught up with a write);
    /// `nil` when it does not exist.
    ///
    /// - Throws: ``TunnelProblem`` when it exists and this Tunnel does not own it (``isOwned(_:by:role:)``): it is
    ///   never overwritten. The message names the Secret and the field that chose its name.
    private func ownedSecret(_ name: String, role: String, of tunnel: Tunnel, cache: Store<CoreV1.Secret>) async throws -> CoreV1.Secret? {
        let namespace = tunnel.metadata.namespace ?? "default"
        var secret = cache.get(namespace: namespace, name: name)
        if secret == nil {
            do {
                secret = try await client.resources(CoreV1.Secret.self).get(name, namespace: namespace)
            } catch let error as KubernetesError where error.code == .notFound {
                return nil
            }
        }
        guard let secret else { return nil }
        guard Self.isOwned(secret, by: tunnel, role: role) else {
            let field =
                role == "keys"
                ? "metadata.name: the key Secret is named <name>-wireguard; delete the Secret or give the Tunnel another name"
                : "spec.wireGuard.connectorSecretName: delete the Secret or choose another name"
            throw TunnelProblem(
                reason: "SecretConflict",
                message: "Secret \(namespace)/\(name) exists and was not written for this Tunnel (no controller owner reference to it, or not labelled as its \(role) Secret), so it is left alone; \(field)"
            )
        }
        return secret
    }

    /// A Secret owned by the Tunnel, labelled with its name and role, and ``SecretLabel/owned``.
    private func secret(_ name: String, of tunnel: Tunnel, role: String, data: [String: Data], annotations: [String: String]?) -> CoreV1.Secret {
        var metadata = ObjectMeta(
            name: name,
            namespace: tunnel.metadata.namespace,
            labels: [Self.tunnelLabel: tunnel.metadata.name ?? "", Self.roleLabel: role, SecretLabel.key: SecretLabel.owned],
            annotations: annotations
        )
        metadata.ownerReferences = [
            OwnerReference(apiVersion: PortcullisAPIGroup.apiVersion, kind: Tunnel.kind, name: tunnel.metadata.name ?? "", uid: tunnel.metadata.uid ?? "")
        ]
        return CoreV1.Secret(metadata: metadata, data: data, type: "Opaque")
    }

    /// Creates `secret`, or replaces `existing` (conditional on its resourceVersion).
    private func write(_ secret: CoreV1.Secret, replacing existing: CoreV1.Secret?) async throws {
        let secrets = client.resources(CoreV1.Secret.self)
        guard isLeader() else { throw TunnelProblem(readiness: .unknown, reason: "Pending", message: "this replica stopped leading") }
        if let existing {
            var updated = secret
            updated.metadata.resourceVersion = existing.metadata.resourceVersion
            _ = try await secrets.update(updated)
        } else {
            _ = try await secrets.create(secret)
        }
    }

    /// Deletes connector Secrets the Tunnel owns under a name it no longer uses.
    private func deleteStaleConnectors(of tunnel: Tunnel, keeping name: String, cache: Store<CoreV1.Secret>) async throws {
        let stale = cache.list(namespace: tunnel.metadata.namespace ?? "default").filter {
            $0.metadata.labels?[Self.tunnelLabel] == tunnel.metadata.name && $0.metadata.labels?[Self.roleLabel] == "connector"
                && $0.metadata.name != name && Self.isOwned($0, by: tunnel, role: "connector")
        }
        for secret in stale {
            do {
                try await client.resources(CoreV1.Secret.self).delete(secret.metadata.name ?? "", namespace: secret.metadata.namespace)
            } catch let error as KubernetesError where error.code == .notFound {
                continue
            }
        }
    }
}
