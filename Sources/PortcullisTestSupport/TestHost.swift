public import Foundation
import Synchronization

/// A host of its own for a test: a network namespace joined to this one by a veth pair (this side
/// `10.213.<octet>.1`, the host `10.213.<octet>.2`), running an HTTP or HTTPS server that records every
/// request it gets (method, path, headers, body) and answers with its name. Backends of different teams,
/// and an attacker's host, each get one, so a test sees what crossed the network to whom.
///
/// Needs root, `ip` and `python3` (``isAvailable``). Stop it when done: the namespace, its interfaces and
/// its server go with it.
public final class TestHost: Sendable {
    public let name: String
    /// `nil` for a host on this machine's loopback.
    public let namespace: NetworkNamespace?
    public let address: String
    public let port: Int
    /// `https` when the server has a certificate.
    public let scheme: String
    let hostVeth: String
    let directory: URL
    let server: BackgroundProcess

    /// Why test hosts cannot run here, or `nil` when they can.
    public static let unavailableReason: String? = {
        if getuid() != 0 { return "needs root to create network namespaces" }
        for tool in ["ip", "python3"] where ExternalTool(tool).url == nil { return "needs \(tool) on PATH" }
        return nil
    }()

    public static var isAvailable: Bool { unavailableReason == nil }

    /// `scheme://address:port`.
    public var url: String { "\(scheme)://\(address):\(port)" }

    /// Starts a host named `name` (for its answers and logs).
    ///
    /// - Parameters:
    ///   - certificate: A PEM certificate chain and key to serve HTTPS with; plain HTTP without.
    ///   - port: The server's port.
    ///   - onLoopback: Listen on this machine's 127.0.0.1 instead of a namespace of its own: what a test
    ///     that must reach it through loopback needs (`port` must then be free).
    public init(_ name: String, certificate: (chainPEM: String, keyPEM: String)? = nil, port: Int = 8443, onLoopback: Bool = false) async throws {
        let suffix = WireGuardTestEnvironment.uniqueSuffix()
        let octet = onLoopback ? 0 : try await Self.freeOctet()
        self.name = name
        self.port = port
        scheme = certificate == nil ? "http" : "https"
        address = onLoopback ? "127.0.0.1" : "10.213.\(octet).2"
        hostVeth = "pth" + suffix
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-host-\(suffix)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let script = directory.appendingPathComponent("recorder.py")
        try Self.recorder.write(to: script, atomically: true, encoding: .utf8)
        var arguments = ["python3", "-u", script.path, name, address, String(port), directory.appendingPathComponent("requests.jsonl").path]
        if let certificate {
            let chain = directory.appendingPathComponent("tls.crt")
            let key = directory.appendingPathComponent("tls.key")
            try certificate.chainPEM.write(to: chain, atomically: true, encoding: .utf8)
            try certificate.keyPEM.write(to: key, atomically: true, encoding: .utf8)
            arguments += [chain.path, key.path]
        }
        if onLoopback {
            namespace = nil
            server = try BackgroundProcess(ExternalTool("python3").url ?? URL(fileURLWithPath: "/usr/bin/python3"), Array(arguments.dropFirst()))
            guard try await server.waitFor("listening") else {
                server.kill()
                throw NetworkSetupError(message: "the recorder on \(name) did not start: \(server.printed)")
            }
            return
        }
        let namespace = try await NetworkNamespace.create("pth-" + suffix)
        self.namespace = namespace
        do {
            let inner = "pti" + suffix
            try await NetworkNamespace.check(NetworkNamespace.ip.run(["link", "add", hostVeth, "type", "veth", "peer", "name", inner, "netns", namespace.name]), "ip link add")
            try await NetworkNamespace.check(NetworkNamespace.ip.run(["addr", "add", "10.213.\(octet).1/24", "dev", hostVeth]), "ip addr add")
            try await NetworkNamespace.check(NetworkNamespace.ip.run(["link", "set", hostVeth, "up"]), "ip link set up")
            try await namespace.run(["ip", "addr", "add", "\(address)/24", "dev", inner])
            try await namespace.run(["ip", "link", "set", inner, "up"])
            try await namespace.run(["ip", "route", "add", "default", "via", "10.213.\(octet).1"])
            server = try namespace.start(arguments)
            guard try await server.waitFor("listening") else {
                server.kill()
                throw NetworkSetupError(message: "the recorder on \(name) did not start: \(server.printed)")
            }
        } catch {
            _ = try? await NetworkNamespace.ip.run(["link", "del", hostVeth])
            await namespace.delete()
            _ = Self.octetsInUse.withLock { $0.remove(octet) }
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// One request the host received.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var headers: [(name: String, value: String)]
        public var body: String

        /// The first value of `name`, compared case-insensitively.
        public func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// Octets of `10.213.<octet>.0/24` this process gave out and has not taken back.
    private static let octetsInUse = Mutex<Set<Int>>([])

    /// An octet no host of this process uses and no address of this machine is in (another process's host,
    /// or one a killed test left behind).
    private static func freeOctet() async throws -> Int {
        let listed = try await NetworkNamespace.ip.run(["-o", "-4", "addr", "show"]).stdout
        let taken = Set(listed.matches(of: /inet 10\.213\.(\d+)\./).compactMap { Int($0.1) })
        return try octetsInUse.withLock { inUse in
            guard let octet = (10...249).shuffled().first(where: { !inUse.contains($0) && !taken.contains($0) }) else {
                throw NetworkSetupError(message: "every test host network 10.213.10–249.0/24 is taken")
            }
            inUse.insert(octet)
            return octet
        }
    }

    /// Every request received so far, in order.
    public var requests: [Request] {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("requests.jsonl"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(
                method: object["method"] as? String ?? "",
                path: object["path"] as? String ?? "",
                headers: (object["headers"] as? [[String]] ?? []).compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                body: object["body"] as? String ?? ""
            )
        }
    }

    /// Every connection the host accepted, TLS or not, whether or not a request followed.
    public var connections: Int {
        (try? String(contentsOf: directory.appendingPathComponent("requests.jsonl.connections"), encoding: .utf8))?.split(separator: "\n").count ?? 0
    }

    public func stop() async {
        server.kill()
        if let namespace {
            _ = try? await NetworkNamespace.ip.run(["link", "del", hostVeth])
            await namespace.delete()
            if let octet = address.split(separator: ".").dropFirst(2).first.flatMap({ Int($0) }) {
                _ = Self.octetsInUse.withLock { $0.remove(octet) }
            }
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The recording server: one JSON line per request, one line per connection accepted.
    static let recorder = #"""
        import json, ssl, sys
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        name, address, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]

        class Recorder(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                with open(log + ".connections", "a") as f:
                    f.write("connection\n")
                super().setup()

            def handle_one(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
                with open(log, "a") as f:
                    f.write(json.dumps({"method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()], "body": body}) + "\n")
                answer = json.dumps({"host": name, "path": self.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = handle_one

            def log_message(self, format, *args):
                pass

        server = ThreadingHTTPServer((address, port), Recorder)
        if len(sys.argv) > 6:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(sys.argv[5], sys.argv[6])
            server.socket = context.wrap_socket(server.socket, server_side=True)
        print("listening", flush=True)
        server.serve_forever()
        """#
}
