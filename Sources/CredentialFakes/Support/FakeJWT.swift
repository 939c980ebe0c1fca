public import AsyncHTTPClient
import Crypto
import CryptoExtras
public import Foundation
import JWTKit
import NIOCore
import NIOHTTP1

/// A compact JWT split into its parts, header and payload parsed as JSON, nothing verified.
public struct UnverifiedJWT {
    public let compact: String
    public let header: [String: Any]
    public let payload: [String: Any]

    /// Parses `compact`; `nil` unless it is three base64url parts whose first two are JSON objects.
    public init?(_ compact: String) {
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[2].isEmpty,
            let headerData = Base64URLDecoding.decode(parts[0]),
            let payloadData = Base64URLDecoding.decode(parts[1]),
            let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any],
            let payload = (try? JSONSerialization.jsonObject(with: payloadData)) as? [String: Any]
        else { return nil }
        self.compact = compact
        self.header = header
        self.payload = payload
    }

    public var alg: String? { header["alg"] as? String }
    public var kid: String? { header["kid"] as? String }
    public var iss: String? { payload["iss"] as? String }
    public var sub: String? { payload["sub"] as? String }
    public var jti: String? { payload["jti"] as? String }
    /// `aud` as a list (a single string or an array).
    public var aud: [String] {
        if let single = payload["aud"] as? String { return [single] }
        return (payload["aud"] as? [Any])?.compactMap { $0 as? String } ?? []
    }
    public var iat: Date? { date("iat") }
    public var nbf: Date? { date("nbf") }
    public var exp: Date? { date("exp") }

    /// Every string-valued claim.
    public var stringClaims: [String: String] {
        payload.compactMapValues { $0 as? String }
    }

    private func date(_ name: String) -> Date? {
        guard let number = payload[name] as? NSNumber else { return nil }
        return Date(timeIntervalSince1970: number.doubleValue)
    }
}

enum Base64URLDecoding {
    static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }

    static func encode(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

/// How a fake learns an issuer's keys and checks a signature: OIDC discovery at `<iss>/.well-known/openid-configuration`
/// over HTTP, the document's `issuer` compared with `iss` byte for byte, the JWKS from its `jwks_uri`, and the
/// signature checked by jwt-kit (independent of PKI's signer) with the key the header's `kid` names.
public struct IssuerKeyFetcher: Sendable {
    public enum Failure: Error, Sendable, Equatable {
        /// Discovery or JWKS could not be fetched or parsed.
        case unreachable(String)
        /// The discovery document's `issuer` is not the token's `iss`.
        case issuerMismatch(String)
        /// The signature does not verify with the JWKS key named by `kid` (or no such key).
        case badSignature(String)
    }

    let httpClient: HTTPClient

    public init(httpClient: HTTPClient = .shared) { self.httpClient = httpClient }

    /// Fetches `url` and returns the body of a 200.
    func get(_ url: String) async throws(Failure) -> [UInt8] {
        do {
            let response = try await httpClient.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 1 << 20)
            guard response.status == .ok else { throw Failure.unreachable("GET \(url): HTTP \(response.status.code)") }
            return Array(body.readableBytesView)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure.unreachable("GET \(url): \(error)")
        }
    }

    /// The JWKS JSON of `issuer` via its discovery document.
    public func jwksJSON(issuer: String) async throws(Failure) -> String {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let discovery = try await get(base + "/.well-known/openid-configuration")
        guard let document = (try? JSONSerialization.jsonObject(with: Data(discovery))) as? [String: Any],
            let jwksURI = document["jwks_uri"] as? String
        else { throw Failure.unreachable("the discovery document of \(issuer) is not JSON with jwks_uri") }
        guard let documentIssuer = document["issuer"] as? String, documentIssuer == issuer else {
            throw Failure.issuerMismatch("discovery issuer \(document["issuer"] ?? "none") is not \(issuer)")
        }
        return String(decoding: try await get(jwksURI), as: UTF8.self)
    }

    /// The JWKS JSON at `url` directly (RFC 7523 clients registered with a `jwks_uri`).
    public func jwksJSON(at url: String) async throws(Failure) -> String {
        String(decoding: try await get(url), as: UTF8.self)
    }

    /// Checks `token`'s signature against `jwksJSON` with jwt-kit.
    public static func verifySignature(_ token: String, jwksJSON: String) async throws(Failure) {
        do {
            let keys = try await JWTKeyCollection().add(jwksJSON: jwksJSON)
            _ = try await keys.verify(token, as: SignatureOnlyPayload.self)
        } catch {
            throw Failure.badSignature("\(error)")
        }
    }
}

/// A payload jwt-kit decodes without checking any claim: the fakes check claims themselves, with their own clock.
struct SignatureOnlyPayload: JWTPayload {
    init() {}
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {}
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// An RSA key a fake signs its own tokens with (Google ID tokens, Entra access tokens), and its JWKS.
public struct FakeRSAIssuerKey: Sendable {
    let privateKey: _RSA.Signing.PrivateKey
    public let kid: String

    public init() throws {
        privateKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        kid = FakeRandom.token(prefix: "fake-", bytes: 16)
    }

    /// One key for every fake in the process: RSA generation costs tens of milliseconds of CPU on the cooperative
    /// pool, which a test run with many fakes should not spend again and again.
    public static let shared: FakeRSAIssuerKey = try! FakeRSAIssuerKey()

    /// `{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":…,"n":…,"e":…}]}`.
    public var jwksJSON: String {
        let primitives = try! privateKey.publicKey.getKeyPrimitives()
        let n = Base64URLDecoding.encode(primitives.modulus.drop(while: { $0 == 0 }))
        let e = Base64URLDecoding.encode(primitives.publicExponent.drop(while: { $0 == 0 }))
        return #"{"keys":[{"kty":"RSA","use":"sig","alg":"RS256","kid":"\#(kid)","n":"\#(n)","e":"\#(e)"}]}"#
    }

    /// An RS256 JWT of `claims` with header `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    public func sign(_ claims: [String: Any]) -> String {
        let header = #"{"alg":"RS256","kid":"\#(kid)","typ":"JWT"}"#
        let payload = (try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let input = Base64URLDecoding.encode(Data(header.utf8)) + "." + Base64URLDecoding.encode(payload)
        let signature = try! privateKey.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + Base64URLDecoding.encode(signature.rawRepresentation)
    }
}
