import Foundation
@testable import Gateway
import Testing

/// How the request rewrite tells header names apart without lowercasing them.
@Suite struct HeaderRoleTests {
    @Test func rolesAgreeWithTheDocumentedHeaderSets() {
        for name in ForwardedRequest.hopByHop {
            #expect(ForwardedRequest.role(of: name) == .hopByHop, "\(name)")
            #expect(ForwardedRequest.role(of: name.uppercased()) == .hopByHop, "\(name)")
        }
        for name in ForwardedRequest.clientCredentials {
            #expect(ForwardedRequest.role(of: name.capitalized) == .clientCredential, "\(name)")
        }
        #expect(ForwardedRequest.role(of: "Host") == .host)
        #expect(ForwardedRequest.role(of: "X-Forwarded-For") == .forwardedFor)
        for name in ["X-Forwarded-Host", "x-forwarded-proto", "X-REQUEST-ID"] {
            #expect(ForwardedRequest.role(of: name) == .replaced, "\(name)")
        }
        for name in ["traceparent", "content-length", "hosts", "Upgrade-Insecure-Requests", "te-x", "x-forwarded-fox", ""] {
            #expect(ForwardedRequest.role(of: name) == .other, "\(name)")
        }
    }
}
