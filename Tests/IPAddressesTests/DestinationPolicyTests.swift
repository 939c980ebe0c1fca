import IPAddresses
import Testing

@Suite struct DestinationPolicyTests {
    static func address(_ text: String) -> IPAddress { IPAddress(text)! }

    @Test(arguments: [
        ("127.0.0.1", DestinationPolicy.Refusal.loopback), ("127.8.9.10", .loopback), ("::1", .loopback), ("::ffff:127.0.0.1", .loopback),
        ("0.0.0.0", .unspecified), ("0.1.2.3", .unspecified), ("::", .unspecified),
        ("169.254.1.1", .linkLocal), ("fe80::1", .linkLocal), ("::ffff:169.254.1.1", .linkLocal),
        ("169.254.169.254", .metadata), ("fd00:ec2::254", .metadata), ("168.63.129.16", .metadata), ("100.100.100.200", .metadata),
        ("::ffff:169.254.169.254", .metadata),
    ])
    func specialAddressesAreRefusedByDefault(text: String, refusal: DestinationPolicy.Refusal) {
        #expect(DestinationPolicy().refusal(Self.address(text), port: 80) == refusal, "\(text)")
    }

    @Test func ordinaryAddressesAreAllowed() {
        for text in ["93.184.216.34", "10.1.2.3", "192.168.0.10", "2001:db8::1", "100.100.100.201"] {
            #expect(DestinationPolicy().refusal(Self.address(text), port: 443) == nil, "\(text)")
        }
    }

    @Test func allowedNetworksOpenExceptionsButNotTheAPIServerOrTheGatewaysOwnPorts() {
        let policy = DestinationPolicy(
            allowedNetworks: [IPNetwork("127.0.0.0/8")!, IPNetwork("10.0.0.0/8")!],
            apiServer: [.init(address: Self.address("127.0.0.1"), port: 6443), .init(address: Self.address("10.96.0.1"), port: nil)],
            gatewayPorts: [8080, 9090],
            localAddresses: [Self.address("10.244.1.7")]
        )
        #expect(policy.refusal(Self.address("127.0.0.1"), port: 8090) == nil, "loopback is allowed")
        #expect(policy.refusal(Self.address("127.0.0.1"), port: 6443) == .apiServer)
        #expect(policy.refusal(Self.address("10.96.0.1"), port: 443) == .apiServer, "every port of the API server's Service address")
        #expect(policy.refusal(Self.address("127.0.0.1"), port: 9090) == .gatewayPort(9090))
        #expect(policy.refusal(Self.address("127.0.0.2"), port: 8080) == .gatewayPort(8080), "any loopback address")
        #expect(policy.refusal(Self.address("10.244.1.7"), port: 8080) == .gatewayPort(8080), "the pod's own address")
        #expect(policy.refusal(Self.address("10.244.1.8"), port: 8080) == nil, "another pod's")
        #expect(policy.refusal(Self.address("169.254.169.254"), port: 80) == .metadata, "not covered by the allowed networks")
    }

    @Test func clusterNetworksAreForServicesTheControllerResolved() {
        let policy = DestinationPolicy(clusterNetworks: [IPNetwork("10.96.0.0/12")!])
        #expect(policy.refusal(Self.address("10.96.3.4"), port: 80) == .clusterNetwork(IPNetwork("10.96.0.0/12")!))
        #expect(policy.refusal(Self.address("10.96.3.4"), port: 80, intoClusterNetwork: true) == nil)
        #expect(policy.refusal(Self.address("169.254.169.254"), port: 80, intoClusterNetwork: true) == .metadata, "a Service never opens the rest")
    }

    @Test func mappedAddressesAreUnmapped() {
        #expect(Self.address("::ffff:10.1.2.3").unmapped == Self.address("10.1.2.3"))
        #expect(Self.address("2001:db8::1").unmapped == Self.address("2001:db8::1"))
        #expect(Self.address("10.1.2.3").unmapped == Self.address("10.1.2.3"))
    }
}
