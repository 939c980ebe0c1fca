import Foundation
import Kubernetes

/// What an exec plugin or a token file yields: a bearer token and/or a client certificate.
struct Credential: Sendable, Hashable {
    var bearerToken: String?
    var clientCertificatePEM: String?
    var clientKeyPEM: String?
    /// When the plugin said the credential expires; `nil` = until a 401.
    var expiration: Date?
}

/// Runs a client.authentication.k8s.io exec credential plugin (client-go `plugin/pkg/client/auth/exec`).
///
/// The command runs with this process's environment plus the configured variables and
/// `KUBERNETES_EXEC_INFO` (`{"apiVersion":…,"kind":"ExecCredential","spec":{"interactive":false}}`);
/// stdout must be an ExecCredential of the same apiVersion with `status.token` or
/// `status.clientCertificateData` + `status.clientKeyData`, and optionally `status.expirationTimestamp`.
enum ExecCredentialPlugin {
    static func run(
        _ configuration: KubernetesClient.Configuration.ExecConfiguration,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> Credential {
        let executable = try resolve(configuration.command, environment: environment, hint: configuration.installHint)
        var childEnvironment = environment
        for variable in configuration.environment { childEnvironment[variable.name] = variable.value }
        childEnvironment["KUBERNETES_EXEC_INFO"] =
            #"{"apiVersion":"\#(configuration.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let output = try await execute(
            executable,
            arguments: configuration.arguments,
            environment: childEnvironment,
            timeout: configuration.timeout
        )
        let name = configuration.command
        guard output.status == 0 else {
            let detail = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines).suffix(300)
            throw ConfigurationError(
                .execFailed,
                "exec plugin \(name) exited with status \(output.status)\(detail.isEmpty ? "" : ": \(detail)")"
            )
        }
        return try parse(output.stdout, command: name, apiVersion: configuration.apiVersion)
    }

    /// Decodes an ExecCredential printed by `command`.
    static func parse(_ text: String, command: String, apiVersion: String) throws -> Credential {
        guard let document = try? JSONValue(json: text), document.objectValue != nil else {
            throw ConfigurationError(.execInvalidOutput, "exec plugin \(command): output is not a JSON ExecCredential")
        }
        guard document["kind"]?.stringValue == "ExecCredential" else {
            throw ConfigurationError(
                .execInvalidOutput,
                "exec plugin \(command): kind is \(document["kind"]?.description ?? "missing"), expected ExecCredential"
            )
        }
        guard document["apiVersion"]?.stringValue == apiVersion else {
            throw ConfigurationError(
                .execInvalidOutput,
                "exec plugin \(command): apiVersion is \(document["apiVersion"]?.description ?? "missing"), expected \(apiVersion)"
            )
        }
        guard let status = document["status"], status.objectValue != nil else {
            throw ConfigurationError(.execInvalidOutput, "exec plugin \(command): status is missing")
        }
        var credential = Credential()
        credential.bearerToken = status["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        credential.clientCertificatePEM = status["clientCertificateData"]?.stringValue
        credential.clientKeyPEM = status["clientKeyData"]?.stringValue
        if (credential.clientCertificatePEM == nil) != (credential.clientKeyPEM == nil) {
            throw ConfigurationError(
                .execInvalidOutput,
                "exec plugin \(command): status.clientCertificateData and status.clientKeyData must be given together"
            )
        }
        if credential.bearerToken == nil && credential.clientCertificatePEM == nil {
            throw ConfigurationError(
                .execInvalidOutput,
                "exec plugin \(command): status has neither token nor clientCertificateData/clientKeyData"
            )
        }
        if let expiration = status["expirationTimestamp"]?.stringValue {
            guard let date = RFC3339.date(from: expiration) else {
                throw ConfigurationError(
                    .execInvalidOutput,
                    "exec plugin \(command): status.expirationTimestamp \"\(expiration)\" is not RFC 3339"
                )
            }
            credential.expiration = date
        }
        return credential
    }

    static func resolve(_ command: String, environment: [String: String], hint: String?) throws -> URL {
        let suffix = hint.map { "\n\($0)" } ?? ""
        if command.contains("/") {
            guard FileManager.default.isExecutableFile(atPath: command) else {
                throw ConfigurationError(.execFailed, "exec plugin \(command): not an executable file\(suffix)")
            }
            return URL(fileURLWithPath: command)
        }
        for directory in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(directory)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        throw ConfigurationError(.execFailed, "exec plugin \(command): not found in PATH\(suffix)")
    }

    struct Output: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a process to completion on threads of its own (not the cooperative pool, not dispatch's), killing it after `timeout`.
    static func execute(
        _ executable: URL,
        arguments: [String],
        environment: [String: String],
        timeout: Duration
    ) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, any Error>) in
            // Blocking reads and waits run on threads of their own: parking dispatch's few global
            // worker threads for as long as a plugin runs would stall every timer in the process.
            Thread.detachNewThread {
                let process = Process()
                process.executableURL = executable
                process.arguments = arguments
                process.environment = environment
                let stdout = Pipe()
                let stderr = Pipe()
                process.standardOutput = stdout
                process.standardError = stderr
                process.standardInput = FileHandle.nullDevice
                do {
                    try process.run()
                } catch {
                    continuation.resume(
                        throwing: ConfigurationError(
                            .execFailed,
                            "exec plugin \(executable.path): cannot start: \(error)"
                        )
                    )
                    return
                }
                // Resumed once: by the timeout (a killed plugin's children may hold the pipes open), or
                // by the reader once the process has exited.
                let resumed = LockedValue(false)
                let resumeOnce: @Sendable (Result<Output, any Error>) -> Void = { result in
                    let first = resumed.withLock { value -> Bool in
                        defer { value = true }
                        return !value
                    }
                    if first { continuation.resume(with: result) }
                }
                let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) {
                    guard process.isRunning else { return }
                    process.terminate()
                    resumeOnce(
                        .failure(
                            ConfigurationError(
                                .execFailed,
                                "exec plugin \(executable.path): no answer within \(timeout)"
                            )
                        )
                    )
                }
                let group = DispatchGroup()
                let errorData = LockedValue(Data())
                group.enter()
                Thread.detachNewThread {
                    errorData.value = stderr.fileHandleForReading.readDataToEndOfFile()
                    group.leave()
                }
                let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                process.waitUntilExit()
                resumeOnce(
                    .success(
                        Output(
                            status: process.terminationStatus,
                            stdout: String(decoding: outputData, as: UTF8.self),
                            stderr: String(decoding: errorData.value, as: UTF8.self)
                        )
                    )
                )
            }
        }
    }
}
