import Foundation
import PortcullisTestSupport
import SwiftASN1
import Testing
import X509

/// A fixed time for tests that do not depend on the wall clock: 2026-01-01T00:00:00Z.
let referenceTime = Date(timeIntervalSince1970: 1_767_225_600)

/// The real `openssl` the cross-checks run; a missing one fails the test rather than skipping it.
struct OpenSSL {
    let tool = ExternalTool("openssl")
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pki-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        _ = try #require(tool.url, "openssl must be on PATH (Debian package openssl)")
    }

    /// Writes `contents` to `name` in the temporary directory and returns its path.
    @discardableResult
    func write(_ name: String, _ contents: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func read(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Runs openssl with `arguments` (off the cooperative pool); the arguments may name files written
    /// with ``write(_:_:)`` by path.
    func run(_ arguments: [String]) async throws -> ExternalTool.Output {
        try await tool.run(arguments)
    }

    /// Runs openssl and requires it to succeed, returning stdout.
    func succeed(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws -> String {
        let output = try await run(arguments)
        try #require(
            output.status == 0,
            "openssl \(arguments.joined(separator: " ")) failed: \(output.stderr)\(output.stdout)",
            sourceLocation: sourceLocation
        )
        return output.stdout
    }

    func cleanUp() { try? FileManager.default.removeItem(at: directory) }
}

/// A verifier policy that requires the leaf to carry an extended key usage.
struct RequireExtendedKeyUsage: VerifierPolicy {
    let usage: ExtendedKeyUsage.Usage
    var verifyingCriticalExtensions: [ASN1ObjectIdentifier] { [] }

    func chainMeetsPolicyRequirements(chain: UnverifiedCertificateChain) -> PolicyEvaluationResult {
        guard let eku = try? chain.leaf.extensions.extendedKeyUsage, eku.contains(usage) else {
            return .failsToMeetPolicy(reason: "leaf lacks extended key usage \(usage)")
        }
        return .meetsPolicy
    }
}

/// Decodes base64url without padding.
func base64URLDecode(_ text: some StringProtocol) -> Data? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    while base64.count % 4 != 0 { base64 += "=" }
    return Data(base64Encoded: base64)
}

/// The payload of a compact JWS as a JSON object.
func payloadObject(_ token: String) throws -> [String: Any] {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    try #require(parts.count == 3)
    let data = try #require(base64URLDecode(parts[1]))
    return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
}
