/// Metrics in the Prometheus text format 0.0.4, parsed for assertions: the samples, and the `# TYPE` of
/// each metric family.
public struct PrometheusText: Sendable {
    /// One line of a metric: its name, its labels and its value.
    public struct Sample: Sendable, Hashable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public private(set) var samples: [Sample] = []
    /// `counter`, `gauge`, `histogram`, … by metric family name.
    public private(set) var types: [String: String] = [:]

    /// Parses `text`; lines that are neither samples nor `# TYPE` comments are skipped.
    public init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst("# TYPE ".count).split(separator: " ")
                if parts.count == 2 { types[String(parts[0])] = String(parts[1]) }
                continue
            }
            if line.hasPrefix("#") { continue }
            if let sample = Self.sample(line) { samples.append(sample) }
        }
    }

    /// The value of the sample with this name and exactly these labels, or `nil` when there is none.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The samples with this name whose labels include `labels`.
    public func samples(_ name: String, matching labels: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
        }
    }

    private static func sample(_ line: Substring) -> Sample? {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
            return nil
        }
        let series = line[..<space]
        guard let open = series.firstIndex(of: "{") else {
            return Sample(name: String(series), labels: [:], value: value)
        }
        guard series.last == "}" else { return nil }
        var labels: [String: String] = [:]
        var rest = series[series.index(after: open)..<series.index(before: series.endIndex)]
        while let equals = rest.firstIndex(of: "=") {
            let key = rest[..<equals].trimmingPrefix(",")
            var cursor = rest.index(after: equals)
            guard cursor < rest.endIndex, rest[cursor] == "\"" else { return nil }
            cursor = rest.index(after: cursor)
            var labelValue = ""
            while cursor < rest.endIndex, rest[cursor] != "\"" {
                if rest[cursor] == "\\", rest.index(after: cursor) < rest.endIndex {
                    cursor = rest.index(after: cursor)
                    labelValue.append(rest[cursor] == "n" ? "\n" : rest[cursor])
                } else {
                    labelValue.append(rest[cursor])
                }
                cursor = rest.index(after: cursor)
            }
            guard cursor < rest.endIndex else { return nil }
            labels[String(key)] = labelValue
            rest = rest[rest.index(after: cursor)...]
        }
        return Sample(name: String(series[..<open]), labels: labels, value: value)
    }
}
