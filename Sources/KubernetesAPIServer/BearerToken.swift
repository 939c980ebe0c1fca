/// The bearer token the embedded API server requires, checked in constant time: how long a wrong
/// token takes to refuse says nothing about how much of it was right.
struct BearerToken: Sendable {
    private let expected: [UInt8]

    init(_ token: String) {
        expected = Array("Bearer \(token)".utf8)
    }

    /// Whether an `Authorization` header value carries the token.
    func accepts(_ authorization: String?) -> Bool {
        Self.constantTimeEquals(Array((authorization ?? "").utf8), expected)
    }

    /// Whether `presented` equals `expected`, reading every byte of `presented` whatever the bytes are: the time
    /// taken depends on the lengths only, never on where the first difference is. (A presented value of another
    /// length is still read in full, against the expected bytes repeated.)
    static func constantTimeEquals<Presented: Collection<UInt8>>(_ presented: Presented, _ expected: [UInt8]) -> Bool {
        guard !expected.isEmpty else { return presented.isEmpty }
        var difference: UInt8 = presented.count == expected.count ? 0 : 1
        var index = 0
        for byte in presented {
            difference |= byte ^ expected[index % expected.count]
            index += 1
        }
        return difference == 0
    }
}
