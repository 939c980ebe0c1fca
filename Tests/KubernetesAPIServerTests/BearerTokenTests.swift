import Testing

@testable import KubernetesAPIServer

@Suite struct BearerTokenTests {
    /// A collection of bytes that counts how many it hands out.
    final class CountingBytes: Collection {
        let bytes: [UInt8]
        var reads = 0

        init(_ text: String) { bytes = Array(text.utf8) }

        var startIndex: Int { bytes.startIndex }
        var endIndex: Int { bytes.endIndex }
        func index(after index: Int) -> Int { index + 1 }
        subscript(position: Int) -> UInt8 {
            reads += 1
            return bytes[position]
        }
    }

    @Test func onlyTheExactHeaderIsAccepted() {
        let token = BearerToken("s3cr3t-t0ken")
        #expect(token.accepts("Bearer s3cr3t-t0ken"))
        for wrong in [nil, "", "Bearer", "Bearer ", "Bearer s3cr3t-t0ke", "Bearer s3cr3t-t0kenn", "Bearer S3cr3t-t0ken", "bearer s3cr3t-t0ken", "s3cr3t-t0ken"] {
            #expect(!token.accepts(wrong), "\(wrong ?? "nil")")
        }
    }

    /// Every byte presented is read whether the first one differs, the last one, or none: how long the comparison
    /// takes cannot tell an attacker how much of a guess was right. (An early-exit comparison reads one byte of the
    /// first guess and all of the last.)
    @Test func theComparisonReadsEveryByteWhereverTheFirstDifferenceIs() {
        let expected = Array("Bearer s3cr3t-t0ken".utf8)
        var reads: [Int] = []
        for presented in ["Xearer s3cr3t-t0ken", "Bearer s3cr3t-t0keX", "Bearer s3cr3t-t0ken", "Bearer", "Bearer s3cr3t-t0ken-and-more"] {
            let bytes = CountingBytes(presented)
            _ = BearerToken.constantTimeEquals(bytes, expected)
            #expect(bytes.reads == bytes.bytes.count, "\(presented)")
            reads.append(bytes.reads)
        }
        #expect(reads[0] == reads[1] && reads[1] == reads[2])
    }
}
