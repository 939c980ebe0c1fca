import IPAddresses
import Testing
@testable import Tunnels

@Suite struct TunnelAddressAllocatorTests {
    static func allocate(_ pool: String, taken: [String] = []) throws -> [String] {
        let allocation = try TunnelAddressAllocator.allocate(in: IPNetwork(pool)!, taken: Set(taken.map { IPAddress($0)! }))
        return [allocation.gateway.description, allocation.peer.description]
    }

    @Test func theDocumentedTable() throws {
        #expect(try Self.allocate("10.44.0.0/24") == ["10.44.0.1", "10.44.0.2"])
        #expect(try Self.allocate("10.44.0.0/24", taken: ["10.44.0.1", "10.44.0.2"]) == ["10.44.0.3", "10.44.0.4"])
        #expect(try Self.allocate("10.44.0.0/24", taken: ["10.44.0.2"]) == ["10.44.0.1", "10.44.0.3"])
        #expect(try Self.allocate("10.44.0.0/30") == ["10.44.0.1", "10.44.0.2"])
        #expect(try Self.allocate("fd00:44::/64") == ["fd00:44::1", "fd00:44::2"])
    }

    @Test func addressesOutsideThePoolDoNotCount() throws {
        #expect(try Self.allocate("10.44.0.0/24", taken: ["10.45.0.1", "192.168.0.2", "fd00::1"]) == ["10.44.0.1", "10.44.0.2"])
    }

    @Test func carriesAcrossOctets() throws {
        let taken = (1...254).map { "10.44.0.\($0)" } + ["10.44.0.255", "10.44.1.0"]
        #expect(try Self.allocate("10.44.0.0/23", taken: taken) == ["10.44.1.1", "10.44.1.2"])
    }

    @Test func tunnelsSharingAPoolNeverCollideAndSkipNetworkAndBroadcast() throws {
        let pool = IPNetwork("10.44.0.0/28")!
        var taken = Set<IPAddress>()
        for _ in 0..<7 {
            let allocation = try TunnelAddressAllocator.allocate(in: pool, taken: taken)
            for address in [allocation.gateway, allocation.peer] {
                #expect(pool.contains(address))
                #expect(!taken.contains(address))
                #expect(address.description != "10.44.0.0" && address.description != "10.44.0.15")
                taken.insert(address)
            }
        }
        #expect(taken.count == 14)
        #expect(throws: WireGuardError(.poolExhausted)) { try TunnelAddressAllocator.allocate(in: pool, taken: taken) }
    }

    @Test func exhaustionNamesThePool() {
        #expect {
            try Self.allocate("10.44.0.0/30", taken: ["10.44.0.1"])
        } throws: { error in
            (error as? WireGuardError)?.message.contains("10.44.0.0/30") == true
        }
    }

    @Test func refusesPoolsItCannotUse() {
        #expect(throws: WireGuardError(.invalidConfiguration)) { try Self.allocate("10.44.0.1/24") }
        #expect(throws: WireGuardError(.invalidConfiguration)) { try Self.allocate("10.44.0.0/31") }
    }

    @Test func hostNetworks() {
        #expect(TunnelAddressAllocator.hostNetwork(IPAddress("10.44.0.1")!).description == "10.44.0.1/32")
        #expect(TunnelAddressAllocator.hostNetwork(IPAddress("fd00::1")!).description == "fd00::1/128")
    }
}
