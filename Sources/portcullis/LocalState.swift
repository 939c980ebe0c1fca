import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KubernetesAPIServer
import Logging
import PKI

/// What `portcullis apiserver` and `portcullis dev` keep in their state directory: the objects
/// (see EmbeddedAPIServer), a CA for the serving certificate, the bearer token and the kubeconfig.
/// Everything in it is its owner's alone: the directories it creates have mode 0700 and every file
/// mode 0600 (the objects include Secrets). A directory that exists already keeps its mode.
struct LocalState {
    let directory: URL
    let authority: CertificateAuthority
    let token: String

    /// Loads the CA and token kept in `directory`, creating them on first use.
    init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let certificateFile = directory.appendingPathComponent("ca.crt")
        let keyFile = directory.appendingPathComponent("ca.key")
        if FileManager.default.fileExists(atPath: certificateFile.path) {
            authority = try CertificateAuthority(
                certificatePEM: String(contentsOf: certificateFile, encoding: .utf8),
                privateKeyPEM: String(contentsOf: keyFile, encoding: .utf8)
            )
        } else {
            authority = try CertificateAuthority.generate(commonName: "Portcullis local API server CA", now: Date())
            try LocalState.writeSecret(try authority.privateKeyPEM, to: keyFile)
            try LocalState.writeSecret(try authority.certificatePEM, to: certificateFile)
        }
        let tokenFile = directory.appendingPathComponent("token")
        if let stored = try? String(contentsOf: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !stored.isEmpty {
            token = stored
        } else {
            var bytes = [UInt8](repeating: 0, count: 32)
            var generator = SystemRandomNumberGenerator()
            for index in bytes.indices { bytes[index] = generator.next() }
            token = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
            try LocalState.writeSecret(token + "\n", to: tokenFile)
        }
    }

    /// The API server over this state, serving a fresh certificate for the loopback names.
    func makeAPIServer(host: String, port: Int, logger: Logger) throws -> EmbeddedAPIServer {
        let serving = try authority.issue(.loopbackServer(), now: Date())
        return try EmbeddedAPIServer(
            configuration: .init(
                host: host,
                port: port,
                stateDirectory: directory,
                token: token,
                tls: .init(certificateChainPEM: serving.certificatePEM, privateKeyPEM: serving.privateKeyPEM)
            ),
            logger: logger
        )
    }

    /// Writes `<state>/kubeconfig` for the server at `endpoint` and returns its location.
    func writeKubeconfig(for endpoint: EmbeddedAPIServer.Endpoint) throws -> URL {
        let file = directory.appendingPathComponent("kubeconfig")
        let text = EmbeddedAPIServer.kubeconfig(server: endpoint.url, certificateAuthorityPEM: try authority.certificatePEM, token: token)
        try LocalState.writeSecret(text, to: file)
        return file
    }

    /// Writes a file readable by its owner only: created with mode 0600 (never readable by others, not even for a
    /// moment), then renamed over `file`.
    static func writeSecret(_ text: String, to file: URL) throws {
        let temporary = file.appendingPathExtension("tmp")
        unlink(temporary.path)
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
        }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 && errno == EINTR { continue }
            guard written >= 0 else {
                close(descriptor)
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: temporary.path])
            }
            offset += written
        }
        guard close(descriptor) == 0, rename(temporary.path, file.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file.path])
        }
    }
}
