@testable import Gateway
import Testing

/// The request ids the gateway makes when a client sends none.
@Suite struct RequestIDTests {
    @Test func requestIDsAre32HexDigitsAndDiffer() {
        let ids = (0..<1000).map { _ in ForwardedRequest.newRequestID() }
        #expect(ids.allSatisfy { $0.utf8.count == 32 && $0.allSatisfy { $0.isHexDigit && !$0.isUppercase } })
        #expect(Set(ids).count == ids.count)
    }
}
