import Foundation
import PortcullisTestSupport
import Testing
@testable import Tunnels

@Suite struct WireGuardKeyTests {
    static let wg = ExternalTool("wg")

    static func hex(_ text: String) -> Data {
        Data(stride(from: 0, to: text.count, by: 2).map { offset in
            let start = text.index(text.startIndex, offsetBy: offset)
            return UInt8(text[start..<text.index(start, offsetBy: 2)], radix: 16)!
        })
    }

    /// `echo <private key> | wg pubkey`, run by the real tool.
    static func wgPublicKey(of privateKey: String) async throws -> String {
        let output = try await ExternalTool("sh").run(["-c", "printf '%s\\n' \"$0\" | wg pubkey", privateKey])
        #expect(output.status == 0, "\(output.stderr)")
        return output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func rfc7748VectorGivesAlicesPublicKey() throws {
        // RFC 7748 section 6.1: Alice's private and public keys.
        let privateKey = try WireGuardPrivateKey(rawRepresentation: Self.hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        #expect(privateKey.publicKey.rawRepresentation == Self.hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(privateKey.publicKey.base64 == "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=")
    }

    @Test(.enabled(if: wg.url != nil, "wg (wireguard-tools) is not installed; .ci/run installs it"))
    func publicKeyMatchesWgPubkeyForAFixedKey() async throws {
        let fixed = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk="
        let key = try WireGuardPrivateKey(base64: fixed)
        #expect(key.base64 == fixed)
        #expect(key.publicKey.base64 == (try await Self.wgPublicKey(of: fixed)))
    }

    @Test(.enabled(if: wg.url != nil, "wg (wireguard-tools) is not installed; .ci/run installs it"))
    func generatedKeysAreClampedAndAgreeWithWg() async throws {
        for _ in 0..<3 {
            let key = WireGuardPrivateKey.generate()
            let bytes = [UInt8](key.rawRepresentation)
            #expect(bytes[0] & 7 == 0)
            #expect(bytes[31] & 0x80 == 0)
            #expect(bytes[31] & 0x40 == 0x40)
            #expect(key.publicKey.base64 == (try await Self.wgPublicKey(of: key.base64)))
            #expect(try WireGuardPrivateKey(base64: key.base64) == key)
        }
    }

    @Test func publicKeysRoundTripThroughBase64AndHex() throws {
        let key = WireGuardPrivateKey.generate().publicKey
        #expect(try WireGuardPublicKey(base64: key.base64) == key)
        #expect(try WireGuardPublicKey(hex: key.hex) == key)
        #expect(key.hex.count == 64 && key.hex == key.hex.lowercased())
        #expect(key.description == key.base64)
    }

    @Test(arguments: [
        "",
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo",  // no padding
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=",  // stray bits in the last character
        "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==",  // 31 bytes
        "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=",  // URL-safe alphabet
        " hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=",
    ])
    func malformedKeysAreRejectedNamingTheField(_ text: String) {
        #expect {
            try WireGuardPublicKey(base64: text, field: "spec.wireGuard.peerPublicKey")
        } throws: { error in
            let error = error as? WireGuardError
            return error?.code == .invalidKey && error?.message.contains("spec.wireGuard.peerPublicKey") == true
        }
    }

    @Test func privateKeysNeverPrint() throws {
        let key = WireGuardPrivateKey.generate()
        #expect(String(describing: key) == "<redacted>")
        #expect(String(reflecting: key) == "<redacted>")
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!dumped.contains(key.base64) && !dumped.contains(key.hex))
        let state = WireGuardDeviceState(privateKey: key, listenPort: 1)
        #expect(!"\(state)".contains(key.base64))
        do {
            _ = try WireGuardPrivateKey(base64: String(key.base64.dropLast(2)) + "A=", field: "Secret shop/x key privateKey")
        } catch let error as WireGuardError {
            #expect(!error.description.contains(key.base64.dropLast(2)))
            #expect(error.message.contains("Secret shop/x key privateKey"))
        }
    }
}
