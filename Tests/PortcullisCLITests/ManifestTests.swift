import Foundation
import Kubernetes
import PortcullisTestSupport
import Testing

/// The deployment manifests, rendered by the real `kubectl kustomize`.
@Suite(.enabled(if: ExternalTool.kubectl.url != nil, "kubectl is not on PATH; .ci/run requires it"))
struct ManifestTests {
    static func kustomize(_ folder: String) async throws -> [JSONValue] {
        let output = try await ExternalTool.kubectl.run(["kustomize", RepositoryFiles.url(folder).path])
        #expect(output.status == 0, "kubectl kustomize \(folder): \(output.stderr)")
        return try JSONValue.documents(yaml: output.stdout)
    }

    static func object(_ objects: [JSONValue], kind: String, name: String? = nil) throws -> JSONValue {
        try #require(objects.first { $0["kind"]?.stringValue == kind && (name == nil || $0[path: ["metadata", "name"]]?.stringValue == name) })
    }

    @Test func theDefaultInstallRendersEveryObject() async throws {
        let objects = try await Self.kustomize("manifests")
        let kinds = Set(objects.compactMap { $0["kind"]?.stringValue })
        #expect(
            kinds == [
                "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service",
                "PodDisruptionBudget", "NetworkPolicy",
            ]
        )
        for object in objects where object["kind"] != "Namespace" && !(object["kind"]?.stringValue ?? "").hasPrefix("Cluster") {
            #expect(object[path: ["metadata", "namespace"]] == "portcullis-system", "\(object["kind"]!)")
        }
    }

    /// The verbs each role grants per resource.
    static func grants(_ objects: [JSONValue], kind: String) -> [String: Set<String>] {
        var granted: [String: Set<String>] = [:]
        for role in objects where role["kind"]?.stringValue == kind {
            for rule in role["rules"]?.arrayValue ?? [] {
                for resource in rule["resources"]?.arrayValue ?? [] {
                    granted[resource.stringValue!, default: []].formUnion((rule["verbs"]?.arrayValue ?? []).compactMap(\.stringValue))
                }
            }
        }
        return granted
    }

    @Test func rbacHasNoWildcardsAndGrantsOnlyWhatTheControllerUses() async throws {
        let objects = try await Self.kustomize("manifests")
        for role in objects where ["ClusterRole", "Role"].contains(role["kind"]?.stringValue ?? "") {
            for rule in role["rules"]?.arrayValue ?? [] {
                let strings = ["apiGroups", "resources", "verbs", "resourceNames"].flatMap { rule[$0]?.arrayValue ?? [] }.compactMap(\.stringValue)
                #expect(!strings.contains("*"), "wildcard in \(rule)")
            }
        }
        let cluster = Self.grants(objects, kind: "ClusterRole")
        let namespaced = Self.grants(objects, kind: "Role")
        for resource in ["routes", "upstreamauths", "tunnels"] {
            let expected: Set<String> = resource == "tunnels" ? ["get", "list", "watch", "patch"] : ["get", "list", "watch"]
            #expect(cluster[resource, default: []] == expected, "\(resource)")
            #expect(cluster[resource + "/status"] == ["patch"], "\(resource)/status")
        }
        // Secrets: cached by label (which RBAC cannot say), read by name, written by the leader; deleted only for a
        // Tunnel's renamed connector Secret (owned Secrets otherwise go by garbage collection); never patched.
        #expect(cluster["secrets"] == ["get", "list", "watch", "create", "update", "delete"])
        #expect(cluster["services"] == ["get", "list", "watch"])
        #expect(cluster["events"] == ["create", "patch"])
        #expect(Set(cluster.keys) == [
            "routes", "upstreamauths", "tunnels", "routes/status", "upstreamauths/status", "tunnels/status", "secrets", "services", "events",
        ])
        // ConfigMaps (trust bundle, JWKS) and Leases live in the controller's namespace only.
        #expect(namespaced["configmaps"] == ["list", "watch", "create", "update"])
        #expect(namespaced["leases", default: []] == ["get", "list", "watch", "create", "update", "delete"])
        #expect(Set(namespaced.keys) == ["configmaps", "leases"])
    }

    @Test func theAdminPortIsNotPublishedAndOnlyTheReplicasReachIt() async throws {
        let objects = try await Self.kustomize("manifests")
        let service = try Self.object(objects, kind: "Service", name: "portcullis")
        let ports = service[path: ["spec", "ports"]]?.arrayValue ?? []
        #expect(ports.compactMap { $0["targetPort"]?.stringValue } == ["http"], "the Service publishes the gateway port only")
        #expect(!ports.contains { $0["port"] == 9090 || $0["targetPort"] == 9090 || $0["targetPort"] == "admin" })

        let policy = try Self.object(objects, kind: "NetworkPolicy", name: "portcullis")
        #expect(policy[path: ["metadata", "namespace"]] == "portcullis-system")
        #expect(policy[path: ["spec", "podSelector", "matchLabels", "app.kubernetes.io/name"]] == "portcullis")
        #expect(policy[path: ["spec", "policyTypes"]] == ["Ingress"])
        let ingress = policy[path: ["spec", "ingress"]]?.arrayValue ?? []
        func rules(for port: String) -> [JSONValue] {
            ingress.filter { rule in rule["ports"]?.arrayValue?.contains { $0["port"]?.stringValue == port } ?? true }
        }
        // The gateway port from anywhere.
        #expect(rules(for: "http").contains { $0["from"] == nil })
        // The admin port from the Portcullis pods only, and no rule opens every port.
        let admin = rules(for: "admin")
        #expect(admin.count == 1)
        let peers = admin.first?["from"]?.arrayValue ?? []
        #expect(peers.count == 1)
        #expect(peers.first?[path: ["podSelector", "matchLabels", "app.kubernetes.io/name"]] == "portcullis")
        #expect(peers.first?["namespaceSelector"] == nil && peers.first?["ipBlock"] == nil, "pods of this namespace only")
        // The probes are on the admin port, which the kubelet reaches from the node.
        let deployment = try Self.object(objects, kind: "Deployment")
        let container = try #require(deployment[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.first)
        #expect(container[path: ["readinessProbe", "httpGet", "port"]] == "admin")
    }

    @Test func theGatewayRunsLockedDown() async throws {
        let deployment = try Self.object(await Self.kustomize("manifests"), kind: "Deployment")
        let pod = try #require(deployment[path: ["spec", "template", "spec"]])
        let container = try #require(pod["containers"]?.arrayValue?.first)
        #expect(deployment[path: ["spec", "replicas"]] == 2)
        #expect(pod[path: ["securityContext", "runAsNonRoot"]] == true)
        #expect(container[path: ["securityContext", "readOnlyRootFilesystem"]] == true)
        #expect(container[path: ["securityContext", "allowPrivilegeEscalation"]] == false)
        #expect(container[path: ["securityContext", "capabilities", "drop"]] == ["ALL"])
        #expect(container[path: ["livenessProbe", "httpGet", "path"]] == "/healthz")
        #expect(container[path: ["readinessProbe", "httpGet", "path"]] == "/readyz")
        #expect(container[path: ["resources", "requests"]] != nil)
    }

    @Test func theTunnelOverlayAddsOnlyWhatWireGuardNeeds() async throws {
        let objects = try await Self.kustomize("manifests/overlays/tunnel")
        let container = try #require(Self.object(objects, kind: "Deployment")[path: ["spec", "template", "spec", "containers"]]?.arrayValue?.first)
        #expect(container[path: ["securityContext", "capabilities", "add"]] == ["NET_ADMIN"])
        #expect(container[path: ["securityContext", "capabilities", "drop"]] == ["ALL"])
        let wireGuard = try Self.object(objects, kind: "Service", name: "portcullis-wireguard")
        #expect(wireGuard[path: ["spec", "ports"]]?.arrayValue?.first?["protocol"] == "UDP")
        // The private side dials the WireGuard port through the NetworkPolicy.
        let rules = try Self.object(objects, kind: "NetworkPolicy")[path: ["spec", "ingress"]]?.arrayValue ?? []
        #expect(rules.contains { $0["from"] == nil && $0["ports"] == [["port": "wireguard", "protocol": "UDP"]] })
        #expect(rules.count == 3)
    }
}
