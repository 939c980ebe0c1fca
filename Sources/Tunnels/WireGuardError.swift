/// An error thrown by the Tunnels module: a ``code`` to match on, a message for people, and where it was thrown.
///
/// Equality and hashing consider the ``code`` only, so a test can compare with `WireGuardError(.listenPortInUse)`.
/// Messages name the interface, port, network or field involved and never contain key material.
public struct WireGuardError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong. New codes may be added: match the ones you handle and have a default.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Backing: String, Sendable, Hashable {
            case invalidKey
            case invalidConfiguration
            case poolExhausted
            case permissionDenied
            case tunUnavailable
            case toolMissing
            case interfaceConflict
            case listenPortInUse
            case routeConflict
            case interfaceNotFound
            case protocolError
            case commandFailed
        }

        private let backing: Backing

        private init(_ backing: Backing) { self.backing = backing }

        /// A key is not 32 bytes in standard base64 (or hex, on the UAPI socket).
        public static let invalidKey = Code(.invalidKey)
        /// A configuration value is malformed or out of range (an interface name, a port, an address).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The address pool has no two free addresses left.
        public static let poolExhausted = Code(.poolExhausted)
        /// The process may not create or configure network interfaces: it needs the NET_ADMIN capability.
        public static let permissionDenied = Code(.permissionDenied)
        /// Neither kernel WireGuard nor a TUN device (`/dev/net/tun`) for wireguard-go is available.
        public static let tunUnavailable = Code(.tunUnavailable)
        /// A program the interface manager runs (`ip`, `wg`, `wireguard-go`) is not installed.
        public static let toolMissing = Code(.toolMissing)
        /// An interface of that name exists and is not a WireGuard interface this manager can configure.
        public static let interfaceConflict = Code(.interfaceConflict)
        /// The UDP listen port is taken by another interface or program.
        public static let listenPortInUse = Code(.listenPortInUse)
        /// The routing table the interface's name selects is in use by another interface or program (a route
        /// through another interface, or a rule this manager did not make).
        public static let routeConflict = Code(.routeConflict)
        /// The interface does not exist.
        public static let interfaceNotFound = Code(.interfaceNotFound)
        /// The WireGuard implementation answered something unexpected, or refused a setting.
        public static let protocolError = Code(.protocolError)
        /// An external command failed for another reason; the message has what it printed.
        public static let commandFailed = Code(.commandFailed)

        public var description: String { backing.rawValue }
    }

    public var code: Code
    /// What happened, for people; never contains key material.
    public var message: String
    public var file: String
    public var line: UInt

    public init(_ code: Code, _ message: String = "", file: String = #fileID, line: UInt = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { "WireGuardError.\(code): \(message) (\(file):\(line))" }

    public static func == (lhs: WireGuardError, rhs: WireGuardError) -> Bool { lhs.code == rhs.code }

    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
