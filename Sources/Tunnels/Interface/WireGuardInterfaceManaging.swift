/// Creates, configures, reads and deletes the gateway's WireGuard interfaces. ``WireGuardInterfaceManager``
/// does it on this host; controllers take any conformance, so their logic can be tested without root.
public protocol WireGuardInterfaceManaging: Sendable {
    /// Creates the interface if it does not exist and brings it to `configuration` (key, listen port, peer,
    /// address, link up, a route per allowed IP and for the address pool in the interface's own routing
    /// table, and the rule that selects it for the interface's address), changing only what differs.
    ///
    /// - Throws: ``WireGuardError`` naming the interface, port or network: ``WireGuardError/Code/permissionDenied``,
    ///   ``WireGuardError/Code/tunUnavailable``, ``WireGuardError/Code/interfaceConflict``,
    ///   ``WireGuardError/Code/listenPortInUse``, ``WireGuardError/Code/routeConflict``, …
    func apply(_ configuration: WireGuardInterfaceConfiguration) async throws

    /// The live state of the interface, or `nil` when it does not exist.
    func state(of name: String) async throws -> WireGuardDeviceState?

    /// Deletes the interface, its routing table and its rule. Deleting one that does not exist is not an error.
    func remove(_ name: String) async throws
}
