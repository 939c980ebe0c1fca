import IPAddresses
import PortcullisAPI
import Tunnels

/// What a Tunnel's interface should be, and what the status and messages say about it.
struct TunnelPlan {
    var interface: WireGuardInterfaceConfiguration
    var peerAddress: IPNetwork
    var connectorSecretName: String
}
