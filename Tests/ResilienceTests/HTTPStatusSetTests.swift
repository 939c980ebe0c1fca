import Resilience
import Testing

@Suite struct HTTPStatusSetTests {
    @Test func membership() {
        let set: HTTPStatusSet = [408, 429, 503]
        #expect(set.contains(408) && set.contains(429) && set.contains(503))
        #expect(!set.contains(500) && !set.contains(409) && !set.contains(200))
        #expect(set.codes == [408, 429, 503])
        #expect(set.description == "[408, 429, 503]")
        #expect(!set.isEmpty && HTTPStatusSet().isEmpty)
    }

    /// Every code in range, including those on the bitmap's word edges, round-trips alone.
    @Test func everyCodeIsItsOwnBit() {
        for code in HTTPStatusSet.lowest...HTTPStatusSet.highest {
            var set = HTTPStatusSet()
            #expect(set.insert(code) == true)
            #expect(set.codes == [code])
            set.remove(code)
            #expect(set.isEmpty)
        }
    }

    @Test func codesOutsideTheRangeAreNeverMembers() {
        var set = HTTPStatusSet()
        #expect(set.insert(99) == false)
        #expect(set.insert(600) == false)
        #expect(set.insert(-1) == false)
        #expect(set.isEmpty)
        #expect(!set.contains(99) && !set.contains(600) && !set.contains(.max) && !set.contains(.min))
        #expect(HTTPStatusSet([99, 100, 599, 600]).codes == [100, 599])
    }

    @Test func equalityAndHashingFollowTheMembers() {
        let a = HTTPStatusSet([502, 503, 504])
        let b: HTTPStatusSet = [504, 503, 502, 503]
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a != [502, 503])
    }
}
