import Foundation

extension Duration {
    /// The duration in seconds, as Foundation counts time.
    var timeInterval: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }

    /// The duration in whole seconds, rounded down.
    var wholeSeconds: TimeInterval { TimeInterval(components.seconds) }
}

extension Date {
    /// The date rounded down to a whole second since 1970, the resolution the key ring stores.
    var wholeSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
