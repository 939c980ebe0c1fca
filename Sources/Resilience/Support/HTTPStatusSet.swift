/// A set of HTTP response status codes (100–599) held as a 500-bit bitmap.
///
/// Membership is one shift and one mask, without hashing or allocation, so the per-request checks
/// "is this status retried?" and "does this status count against the upstream?" cost next to nothing.
/// Codes outside 100–599 are not HTTP status codes and are never members.
public struct HTTPStatusSet: Sendable, Hashable, ExpressibleByArrayLiteral, CustomStringConvertible {
    /// The lowest code a set can hold.
    public static let lowest = 100
    /// The highest code a set can hold.
    public static let highest = 599

    // Bit `(code - 100) % 128` of word `(code - 100) / 128`.
    private var word0: UInt128 = 0
    private var word1: UInt128 = 0
    private var word2: UInt128 = 0
    private var word3: UInt128 = 0

    /// The empty set.
    public init() {}

    /// A set of the given codes.
    ///
    /// - Parameter codes: Status codes; codes outside 100–599 are left out.
    public init(_ codes: some Sequence<Int>) {
        for code in codes { self.insert(code) }
    }

    public init(arrayLiteral codes: Int...) {
        self.init(codes)
    }

    /// Whether the set holds `code`.
    ///
    /// - Parameter code: A status code.
    /// - Returns: `true` if `code` is a member; always `false` outside 100–599.
    public func contains(_ code: Int) -> Bool {
        guard let (word, bit) = Self.position(of: code) else { return false }
        return self[word] & (1 << bit) != 0
    }

    /// Adds `code` to the set.
    ///
    /// - Parameter code: A status code.
    /// - Returns: `false` if `code` is outside 100–599 and so was not added; `true` otherwise.
    @discardableResult
    public mutating func insert(_ code: Int) -> Bool {
        guard let (word, bit) = Self.position(of: code) else { return false }
        self[word] |= 1 << bit
        return true
    }

    /// Removes `code` from the set.
    ///
    /// - Parameter code: A status code.
    public mutating func remove(_ code: Int) {
        guard let (word, bit) = Self.position(of: code) else { return }
        self[word] &= ~(1 << bit)
    }

    /// Whether the set is empty.
    public var isEmpty: Bool { word0 == 0 && word1 == 0 && word2 == 0 && word3 == 0 }

    /// The members in ascending order.
    public var codes: [Int] { (Self.lowest...Self.highest).filter { self.contains($0) } }

    public var description: String { "\(self.codes)" }

    private static func position(of code: Int) -> (word: Int, bit: Int)? {
        guard code >= lowest && code <= highest else { return nil }
        let offset = code - lowest
        return (offset >> 7, offset & 127)
    }

    private subscript(word: Int) -> UInt128 {
        get {
            switch word {
            case 0: word0
            case 1: word1
            case 2: word2
            default: word3
            }
        }
        set {
            switch word {
            case 0: word0 = newValue
            case 1: word1 = newValue
            case 2: word2 = newValue
            default: word3 = newValue
            }
        }
    }
}
