import Foundation
import IPAddresses

/// Routing per interface: the interface's networks are routes in a table of its own
/// (``WireGuardInterfaceConfiguration/routingTable``), with an `unreachable` default per address family,
/// and one rule, `from <address> lookup <table>` at ``WireGuardInterfaceManager/rulePriority``, selects
/// that table for connections from the interface's address. So only a connection bound to the tunnel
/// address enters the tunnel, it never leaves through another interface, and the main table holds
/// nothing of the tunnel's. The rule also makes reverse-path filtering accept the replies: the lookup
/// back to their source, from the tunnel address, finds the interface they came in on.
///
/// ```
/// $ ip rule
/// 0:      from all lookup local
/// 10000:  from 10.44.0.1 lookup 320998598
/// 32766:  from all lookup main
/// $ ip route show table 320998598
/// unreachable default
/// 10.44.0.0/24 dev wgeeb6edc3c0 scope link
/// 192.168.10.0/24 dev wgeeb6edc3c0 scope link
/// ```
///
/// A table or rule this manager did not make (a route through another interface in the table, or a rule for
/// the table with another priority or selector) is a ``WireGuardError/Code/routeConflict`` naming the
/// interface and the table, and nothing is changed.
extension WireGuardInterfaceManager {
    /// The priority of every tunnel's rule: after `local` (0), before `main` (32766).
    public static let rulePriority = 10_000

    /// What the interface's table and rules hold, as this manager makes them.
    struct Routing: Hashable {
        /// Source addresses of the rules `from <address> lookup <table>` at ``rulePriority``.
        var rules: [IPAddress] = []
        /// Routes through the interface in the table.
        var routes: [IPNetwork] = []
        /// The address families (32 or 128 bits) with an `unreachable default` in the table.
        var unreachableFamilies: Set<Int> = []
        /// What is in the table, or selects it, that this manager did not make, for messages.
        var foreign: [String] = []
    }

    /// The interface's routing, refusing a table someone else uses.
    ///
    /// - Throws: ``WireGuardError/Code/routeConflict`` naming the interface, the table and what is in it.
    func routingState(table: UInt32, of name: String) async throws -> Routing {
        let routing = try await ownRouting(table: table, of: name)
        guard routing.foreign.isEmpty else {
            throw WireGuardError(
                .routeConflict,
                "interface \(name): its routing table \(table) is in use: \(routing.foreign.joined(separator: "; ")); "
                    + "another program or interface chose the same table (ip rule; ip route show table \(table))"
            )
        }
        return routing
    }

    /// What the table and the rules selecting it hold, sorted into what is this interface's and what is not.
    func ownRouting(table: UInt32, of name: String) async throws -> Routing {
        var routing = Routing()
        let tableName = String(table)
        for bits in [32, 128] {
            let routes = try await ipJSON(
                [Self.family(bits), "route", "show", "table", tableName],
                doing: "reading routing table \(tableName) of interface \(name)"
            )
            for route in routes {
                let type = route["type"] as? String ?? "unicast"
                let destination = route["dst"] as? String ?? ""
                let device = route["dev"] as? String
                if type == "unreachable" && destination == "default" {
                    routing.unreachableFamilies.insert(bits)
                } else if type == "unicast", device == name, let network = Self.network(destination) {
                    routing.routes.append(network)
                } else {
                    let through = device.map { " through \($0)" } ?? ""
                    routing.foreign.append("a route to \(destination)\(through) (\(type))")
                }
            }
            let rules = try await ipJSON([Self.family(bits), "rule", "show"], doing: "reading the routing rules for interface \(name)")
            for rule in rules {
                guard rule["table"] as? String == tableName else { continue }
                let priority = rule["priority"] as? Int
                let source = (rule["src"] as? String).flatMap(IPAddress.init)
                let selectors = Set(rule.keys).subtracting(["priority", "src", "srclen", "table", "protocol"])
                guard priority == Self.rulePriority, let source, (rule["srclen"] as? Int ?? bits) == bits, selectors.isEmpty else {
                    let selected = "from \(rule["src"] as? String ?? "all") lookup \(tableName)"
                    let others = selectors.isEmpty ? "" : " (\(selectors.sorted().joined(separator: ", ")))"
                    routing.foreign.append("the rule \(priority.map { "\($0): " } ?? "")\(selected)\(others)")
                    continue
                }
                // This manager's rule: the interface's, from its current or an earlier address. (Another interface
                // whose name maps to the same table shows by its routes.)
                routing.rules.append(source)
            }
        }
        return routing
    }

    /// Brings the interface's table and rule to `interface`, changing only what differs: the routes and the
    /// `unreachable` defaults first, the rule last, so that the rule never selects a table that could let a
    /// connection fall through to the main one; then removes routes through the interface from the main table.
    func ensureRouting(_ interface: WireGuardInterfaceConfiguration, present: Routing) async throws {
        let name = interface.name
        let table = String(interface.routingTable)
        let networks = interface.routedNetworks
        let families = Set([interface.address.address.bitCount] + networks.map(\.address.bitCount))
        for network in networks where !present.routes.contains(network) {
            try await run(
                ["route", "add", network.description, "dev", name, "table", table],
                doing: "adding a route to \(network) through interface \(name) in table \(table)"
            )
        }
        for bits in families.subtracting(present.unreachableFamilies).sorted() {
            try await run(
                [Self.family(bits), "route", "add", "unreachable", "default", "table", table],
                doing: "adding the unreachable default to table \(table) of interface \(name)"
            )
        }
        for stale in present.routes where !networks.contains(stale) {
            try await run(
                ["route", "del", stale.description, "dev", name, "table", table],
                doing: "removing the route to \(stale) through interface \(name) from table \(table)"
            )
        }
        try await deleteUnreachableDefaults(present.unreachableFamilies.subtracting(families), table: interface.routingTable, of: name)
        let address = interface.address.address
        if !present.rules.contains(address) {
            try await run(
                [Self.family(address.bitCount), "rule", "add", "from", address.description, "lookup", table]
                    + ["priority", String(Self.rulePriority)],
                doing: "adding the rule from \(address) to table \(table) of interface \(name)"
            )
        }
        try await deleteRules(present.rules.filter { $0 != address }, table: interface.routingTable, of: name)
        try await deleteMainTableRoutes(of: name)
    }

    /// Deletes the rules from `sources` to `table`.
    func deleteRules(_ sources: [IPAddress], table: UInt32, of name: String) async throws {
        for source in sources {
            try await run(
                [Self.family(source.bitCount), "rule", "del", "from", source.description, "lookup", String(table)]
                    + ["priority", String(Self.rulePriority)],
                doing: "removing the rule from \(source) to table \(table) of interface \(name)"
            )
        }
    }

    /// Deletes the `unreachable` defaults of `families` from `table`.
    func deleteUnreachableDefaults(_ families: Set<Int>, table: UInt32, of name: String) async throws {
        for bits in families.sorted() {
            try await run(
                [Self.family(bits), "route", "del", "unreachable", "default", "table", String(table)],
                doing: "removing the unreachable default from table \(table) of interface \(name)"
            )
        }
    }

    /// Deletes routes through the interface from the main table (an older version of this manager put the
    /// tunnel's networks there); the kernel's own (IPv6 link-local) stay.
    private func deleteMainTableRoutes(of name: String) async throws {
        for bits in [32, 128] {
            let routes = try await ipJSON(
                [Self.family(bits), "route", "show", "table", "main", "dev", name],
                doing: "reading the main table's routes through interface \(name)"
            )
            for route in routes where route["protocol"] as? String != "kernel" {
                guard let destination = route["dst"] as? String else { continue }
                try await run(
                    [Self.family(bits), "route", "del", destination, "dev", name, "table", "main"],
                    doing: "removing the route to \(destination) through interface \(name) from the main table"
                )
            }
        }
    }

    // MARK: - ip

    /// Runs `ip` and throws what it printed when it fails.
    private func run(_ arguments: [String], doing action: String) async throws {
        let output = try await ip(arguments)
        guard output.status == 0 else { throw Self.failure(output, doing: action) }
    }

    /// Runs `ip -j` and parses its JSON; a table that does not exist yet lists nothing.
    private func ipJSON(_ arguments: [String], doing action: String) async throws -> [[String: Any]] {
        let output = try await ip(["-j"] + arguments)
        if output.status != 0 && output.printed.contains("table does not exist") { return [] }
        guard output.status == 0 else { throw Self.failure(output, doing: action) }
        let text = output.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.isEmpty { return [] }
        guard let objects = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]] else {
            throw WireGuardError(
                .protocolError,
                "\(action): ip -j printed no JSON list; iproute2 5.0 or later is needed (\(text.prefix(80)))"
            )
        }
        return objects
    }

    private static func family(_ bits: Int) -> String { bits == 32 ? "-4" : "-6" }

    /// A destination as `ip -j` prints it: a network, or a host address without a prefix length.
    private static func network(_ text: String) -> IPNetwork? {
        if let network = IPNetwork(text) { return network }
        return IPAddress(text).map { IPNetwork(address: $0, prefixLength: $0.bitCount) }
    }
}
