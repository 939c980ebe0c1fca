import NIOPosix

/// Request ids, 128 bits as 32 lowercase hex digits, from a generator per thread seeded from the
/// system's random source: no `getrandom` call per request (there were two), and no lock.
///
/// The ids need to be unique, not secret: a request id travels in headers and logs. Each thread's
/// generator walks its own 64-bit sequence from a random start (wyrand), two steps per id.
final class RequestIDGenerator: @unchecked Sendable {  // touched only by the thread it belongs to (``forThisThread``)
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    private static let perThread = ThreadSpecificVariable<RequestIDGenerator>()

    /// The calling thread's generator, made on its first use.
    static var forThisThread: RequestIDGenerator {
        if let generator = perThread.currentValue { return generator }
        var random = SystemRandomNumberGenerator()
        let generator = RequestIDGenerator(seed: random.next())
        perThread.currentValue = generator
        return generator
    }

    private func next() -> UInt64 {
        state &+= 0xa076_1d64_78bd_642f
        let product = state.multipliedFullWidth(by: state ^ 0xe703_7ed1_a0b4_28db)
        return product.high ^ product.low
    }

    /// A new request id.
    func make() -> String {
        let high = next()
        let low = next()
        return String(unsafeUninitializedCapacity: 32) { buffer in
            Self.writeHex(high, into: buffer, at: 0)
            Self.writeHex(low, into: buffer, at: 16)
            return 32
        }
    }

    private static func writeHex(_ value: UInt64, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) {
        var value = value
        for index in stride(from: start + 15, through: start, by: -1) {
            let digit = UInt8(truncatingIfNeeded: value & 0xf)
            buffer[index] = digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10
            value >>= 4
        }
    }
}
