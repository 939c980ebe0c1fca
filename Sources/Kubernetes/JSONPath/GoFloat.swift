/// Formatting a `Double` as Go's `fmt.Sprint` does (`%v`, that is `strconv.FormatFloat(f, 'g', -1, 64)`):
/// the shortest digits that read back the same, in exponent form when the exponent is below -4
/// or at least 6 (`0.5`, `123456`, `1.234567e+06`, `1e-05`).
enum GoFloat {
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        let sign = value < 0 ? "-" : ""
        // Swift's description is also the shortest round-tripping form; take its digits and exponent.
        let text = "\(abs(value))"
        let parts = text.split(separator: "e", maxSplits: 1)
        let mantissa = parts[0]
        let exponent = parts.count > 1 ? Int(parts[1])! : 0
        let pointOffset =
            mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) } ?? mantissa.count
        var digits = Array(mantissa.filter { $0 != "." })
        var decimalPoint = pointOffset + exponent
        while digits.first == "0" {
            digits.removeFirst()
            decimalPoint -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        let exponent10 = decimalPoint - 1
        if exponent10 < -4 || exponent10 >= 6 {
            var result = sign + String(digits[0])
            if digits.count > 1 { result += "." + String(digits[1...]) }
            let magnitude = abs(exponent10)
            result += (exponent10 < 0 ? "e-" : "e+") + (magnitude < 10 ? "0" : "") + String(magnitude)
            return result
        }
        var integerPart = ""
        var fractionPart = ""
        if decimalPoint <= 0 {
            integerPart = "0"
            fractionPart = String(repeating: "0", count: -decimalPoint) + String(digits)
        } else if decimalPoint >= digits.count {
            integerPart = String(digits) + String(repeating: "0", count: decimalPoint - digits.count)
        } else {
            integerPart = String(digits[..<decimalPoint])
            fractionPart = String(digits[decimalPoint...])
        }
        return sign + integerPart + (fractionPart.isEmpty ? "" : "." + fractionPart)
    }
}
