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
        #expect(kinds == ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "Service", "PodDisruptionBudget"])
        for object in objects where object["kind"] != "Namespace" && !(object["kind"]?.stringValue ?? "").hasPrefix("Cluster") {
            #expect(object[path: ["metadata", "namespace"]] == "portcullis-system", "\(object["kind"]!)")
        }
    }

    @Test func rbacHasNoWildcardsAndCoversEveryResource() async throws {
        let objects = try await Self.kustomize("manifests")
        var granted: [String: Set<String>] = [:]
        for role in objects where ["ClusterRole", "Role"].contains(role["kind"]?.stringValue ?? "") {
            for rule in role["rules"]?.arrayValue ?? [] {
                let strings = ["apiGroups", "resources", "verbs"].flatMap { rule[$0]?.arrayValue ?? [] }.compactMap(\.stringValue)
                #expect(!strings.contains("*"), "wildcard in \(rule)")
                for resource in rule["resources"]?.arrayValue ?? [] {
                    granted[resource.stringValue!, default: []].formUnion((rule["verbs"]?.arrayValue ?? []).compactMap(\.stringValue))
                }
            }
        }
        for resource in ["routes", "upstreamauths", "tunnels"] {
            #expect(granted[resource, default: []].isSuperset(of: ["get", "list", "watch"]))
            #expect(granted[resource + "/status", default: []].isSuperset(of: ["update", "patch"]))
        }
        #expect(granted["leases", default: []] == ["get", "list", "watch", "create", "update", "delete"])
        #expect(granted["secrets", default: []].isSuperset(of: ["create", "update"]))
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
    }
}
