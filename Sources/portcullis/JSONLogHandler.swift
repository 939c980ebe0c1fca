import Foundation
import Logging

/// Writes each record as one JSON object on a line of standard output: `time`, `level`, `logger`,
/// `message` and the metadata as string members. The gateway's access log uses it, so that log
/// pipelines can read it without parsing.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var record: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) { record[key] = "\(value)" }
        record["time"] = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        record["level"] = event.level.rawValue
        record["logger"] = label
        record["message"] = "\(event.message)"
        guard var line = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        FileHandle.standardOutput.write(line)
    }
}

extension LoggingSystem {
    /// The process's logging: the access log as JSON lines on standard output, everything else as
    /// text on standard error.
    static func bootstrapPortcullis() {
        bootstrap { label in
            label == accessLogLabel ? JSONLogHandler(label: label) as any LogHandler : StreamLogHandler.standardError(label: label)
        }
    }

    /// The gateway's access log.
    static let accessLogLabel = "portcullis.access"
}
