import IPAddresses
import Testing

@Suite struct IPNetworkTests {
    @Test func parsesAndPrintsBothFamilies() throws {
        #expect(IPAddress("10.1.2.3")?.description == "10.1.2.3")
        #expect(IPAddress("fd00:0:0::1")?.description == "fd00::1")
        #expect(IPAddress("10.1.2") == nil)
        #expect(IPAddress("example.com") == nil)
        let network = try #require(IPNetwork("fd00:44::/64"))
        #expect(network.description == "fd00:44::/64")
        #expect(network.size == UInt64.max)
        #expect(try #require(IPNetwork("10.44.0.0/24")).size == 256)
    }

    @Test func containmentAndOverlap() throws {
        let pool = try #require(IPNetwork("10.44.0.0/24"))
        #expect(pool.contains(try #require(IPAddress("10.44.0.200"))))
        #expect(!pool.contains(try #require(IPAddress("10.45.0.1"))))
        #expect(!pool.contains(try #require(IPAddress("::1"))))
        #expect(pool.overlaps(try #require(IPNetwork("10.0.0.0/8"))))
        #expect(!pool.overlaps(try #require(IPNetwork("10.45.0.0/16"))))
        #expect(try #require(IPNetwork("10.44.0.7/24")).hasHostBits)
        #expect(try #require(IPNetwork("10.44.0.7/24")).networkAddress.description == "10.44.0.0")
    }
}
