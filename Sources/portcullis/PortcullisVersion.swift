/// The version this binary reports.
enum PortcullisVersion {
    static let current = "0.1.0-dev"
}
