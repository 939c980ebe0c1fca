import Foundation
import PortcullisTestSupport
import Testing

/// `portcullis dev` on a host that cannot make WireGuard interfaces keeps running and says why in the
/// Tunnel's status. Each run is in a network namespace of its own, so nothing it does touches this one.
@Suite(
    .enabled(
        if: WireGuardTestEnvironment.isAvailable && ExternalTool.kubectl.url != nil && ExternalTool("setpriv").url != nil
            && ExternalTool("unshare").url != nil,
        "needs root, the WireGuard tools, kubectl, setpriv and unshare"
    ),
    .serialized
)
struct TunnelPrivilegeTests {
    /// Runs `portcullis dev` with a Tunnel, behind `wrapper` (which takes something away from it), in a fresh
    /// namespace, and returns the Tunnel's Ready condition once it is False.
    static func readyCondition(behind wrapper: [String]) async throws -> (reason: String, message: String) {
        let suffix = WireGuardTestEnvironment.uniqueSuffix()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-tunnel-cli-\(suffix)")
        try FileManager.default.createDirectory(at: state, withIntermediateDirectories: true)
        let manifest = state.appendingPathComponent("tunnel.yaml")
        try """
            apiVersion: portcullis.io/v1alpha1
            kind: Tunnel
            metadata: {name: private, namespace: default}
            spec:
              wireGuard:
                addressPool: 10.44.0.0/24
                endpoint: gw.example.com:51820
                allowedIPs: [192.168.10.0/24]
            """.write(to: manifest, atomically: true, encoding: .utf8)
        let namespace = try await NetworkNamespace.create("pcc-" + suffix)
        let dev = try namespace.start(
            wrapper + [
                RepositoryFiles.builtProduct("portcullis").path, "dev", "--state-dir", state.path, "--apply", manifest.path,
                "--api-port", "0", "--gateway-port", "0", "--admin-port", "0",
            ]
        )
        defer { try? FileManager.default.removeItem(at: state) }
        do {
            #expect(try await dev.waitFor("Portcullis is running."), "\(dev.printed)")
            let kubeconfig = state.appendingPathComponent("kubeconfig").path
            let deadline = ContinuousClock.now + .seconds(30)
            var condition = ""
            while ContinuousClock.now < deadline {
                let output = try await namespace.attempt([
                    ExternalTool.kubectl.url!.path, "--kubeconfig", kubeconfig, "get", "tunnel", "private",
                    "-o", #"jsonpath={.status.conditions[?(@.type=="Ready")].status}|{.status.conditions[?(@.type=="Ready")].reason}|{.status.conditions[?(@.type=="Ready")].message}"#,
                ])
                condition = output.stdout
                if condition.hasPrefix("False|") { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(dev.isRunning, "the process keeps running: \(dev.printed)")
            dev.kill()
            await namespace.delete()
            let parts = condition.split(separator: "|", maxSplits: 2).map(String.init)
            guard parts.count == 3 else {
                Issue.record("no Ready=False condition: \(condition)\n\(dev.printed)")
                return ("", "")
            }
            return (parts[1], parts[2])
        } catch {
            dev.kill()
            await namespace.delete()
            throw error
        }
    }

    @Test func withoutNetAdminTheTunnelSaysSo() async throws {
        let ready = try await Self.readyCondition(behind: ["setpriv", "--bounding-set", "-net_admin"])
        #expect(ready.reason == "PermissionDenied")
        #expect(ready.message.contains("NET_ADMIN") && ready.message.contains("interface wg"), "\(ready.message)")
    }

    @Test func withoutATunDeviceTheTunnelSaysSo() async throws {
        // Only where the kernel has no WireGuard: with it, no TUN device is needed.
        let probe = "pck" + WireGuardTestEnvironment.uniqueSuffix()
        let kernel = try await NetworkNamespace.ip.run(["link", "add", probe, "type", "wireguard"])
        if kernel.status == 0 {
            _ = try await NetworkNamespace.ip.run(["link", "del", probe])
            return
        }
        let ready = try await Self.readyCondition(behind: ["unshare", "-m", "sh", "-c", #"mount -t tmpfs none /dev/net && exec "$@""#, "sh"])
        #expect(ready.reason == "TUNUnavailable")
        #expect(ready.message.contains("/dev/net/tun") && ready.message.contains("interface wg"), "\(ready.message)")
    }
}
