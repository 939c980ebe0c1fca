import Foundation
import Kubernetes
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Durable storage for the API server: a snapshot of every object plus an append-only log of the
/// changes since, one JSON line per change, fsync'd before a write is acknowledged.
///
/// Appends happen inside the store's critical section, so the log is in resourceVersion order;
/// ``sync(upTo:)`` runs outside it and covers every earlier append, so concurrent writers share one
/// fsync (group commit). On start, ``recover(from:)`` loads the snapshot, replays the log (a torn last
/// line from a crash is dropped: it was never acknowledged), writes a fresh snapshot and starts an
/// empty log.
final class WriteAheadLog: Sendable {
    /// A position in the log; a write is durable once the log is synced up to its ticket.
    struct Ticket: Sendable, Comparable {
        var offset: Int64
        static func < (lhs: Ticket, rhs: Ticket) -> Bool { lhs.offset < rhs.offset }
    }

    /// A failure reading or writing the state directory.
    struct StorageError: Error, CustomStringConvertible {
        var description: String
    }

    private struct FileState {
        var descriptor: Int32
        var written: Int64 = 0
        var synced: Int64 = 0
        var failure: String?
    }

    private let file: Mutex<FileState>
    /// Serialises fsync calls; whoever holds it syncs everything written so far.
    private let syncLock = Mutex(())
    let directory: URL

    private static let snapshotName = "snapshot.json"
    private static let logName = "wal.log"

    private init(directory: URL, descriptor: Int32) {
        self.directory = directory
        self.file = Mutex(FileState(descriptor: descriptor))
    }

    deinit {
        file.withLock { _ = close($0.descriptor) }
    }

    /// Loads the state kept in `directory` (creating it, mode 0700, if needed) and opens a fresh log. Its files
    /// are created with mode 0600: they hold every object, Secrets among them.
    ///
    /// - Returns: The log to append to, and the objects and resourceVersion recovered.
    static func recover(
        from directory: URL
    ) throws -> (log: WriteAheadLog, objects: [String: [ObjectKey: JSONValue]], resourceVersion: Int64) {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var objects: [String: [ObjectKey: JSONValue]] = [:]
        var resourceVersion: Int64 = 0

        let snapshotURL = directory.appendingPathComponent(snapshotName)
        if let data = FileManager.default.contents(atPath: snapshotURL.path) {
            let snapshot: JSONValue
            do {
                snapshot = try JSONDecoder().decode(JSONValue.self, from: data)
            } catch {
                throw StorageError(description: "\(snapshotURL.path) is not a valid snapshot: \(error)")
            }
            resourceVersion = snapshot["resourceVersion"]?.integerValue ?? 0
            for entry in snapshot["objects"]?.arrayValue ?? [] {
                guard let resource = entry["resource"]?.stringValue, let name = entry["name"]?.stringValue,
                    let object = entry["object"]
                else { continue }
                let key = ObjectKey(namespace: entry["namespace"]?.stringValue ?? "", name: name)
                objects[resource, default: [:]][key] = object
            }
        }

        let logURL = directory.appendingPathComponent(logName)
        if let data = FileManager.default.contents(atPath: logURL.path) {
            let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true)
            for (index, line) in lines.enumerated() {
                guard let record = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
                    let version = record["rv"]?.integerValue, let resource = record["resource"]?.stringValue,
                    let name = record["name"]?.stringValue, let type = record["type"]?.stringValue
                else {
                    // Only the last line can be torn by a crash; anything else is corruption.
                    if index == lines.count - 1 { break }
                    throw StorageError(description: "\(logURL.path): record \(index + 1) is corrupt")
                }
                guard version > resourceVersion else { continue }
                let key = ObjectKey(namespace: record["namespace"]?.stringValue ?? "", name: name)
                if type == StoredEvent.Kind.deleted.rawValue {
                    objects[resource]?[key] = nil
                } else if let object = record["object"] {
                    objects[resource, default: [:]][key] = object
                }
                resourceVersion = version
            }
        }

        try writeSnapshot(objects: objects, resourceVersion: resourceVersion, to: directory)
        let descriptor = open(logURL.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageError(description: "cannot open \(logURL.path): \(String(cString: strerror(errno)))")
        }
        guard fsync(descriptor) == 0 else {
            throw StorageError(description: "cannot sync \(logURL.path): \(String(cString: strerror(errno)))")
        }
        try syncDirectory(directory)
        return (WriteAheadLog(directory: directory, descriptor: descriptor), objects, resourceVersion)
    }

    /// Appends one change. Called inside the store's critical section, so records are in order.
    func append(_ event: StoredEvent) -> Ticket {
        var record: JSONValue = [
            "rv": .integer(event.resourceVersion), "type": .string(event.kind.rawValue), "resource": .string(event.resource),
            "namespace": .string(event.key.namespace), "name": .string(event.key.name),
        ]
        if event.kind != .deleted { record["object"] = event.object }
        let line = Array((record.description + "\n").utf8)
        return file.withLock { state in
            guard state.failure == nil else { return Ticket(offset: state.written) }
            var offset = 0
            while offset < line.count {
                let count = line[offset...].withUnsafeBytes { write(state.descriptor, $0.baseAddress, $0.count) }
                if count < 0 {
                    if errno == EINTR { continue }
                    state.failure = "write failed: \(String(cString: strerror(errno)))"
                    break
                }
                offset += count
            }
            state.written += Int64(offset)
            return Ticket(offset: state.written)
        }
    }

    /// Blocks until every record up to `ticket` is on stable storage. Run it off the event loops
    /// and the cooperative pool (it calls fsync).
    ///
    /// - Throws: ``StorageError`` when a write or fsync failed; the change must then not be acknowledged.
    func sync(upTo ticket: Ticket) throws {
        try syncLock.withLock { _ in
            let (descriptor, written, synced, failure) = file.withLock { ($0.descriptor, $0.written, $0.synced, $0.failure) }
            if let failure { throw StorageError(description: failure) }
            guard synced < ticket.offset else { return }
            guard fsync(descriptor) == 0 else {
                let message = "fsync failed: \(String(cString: strerror(errno)))"
                file.withLock { $0.failure = message }
                throw StorageError(description: message)
            }
            file.withLock { $0.synced = max($0.synced, written) }
        }
    }

    /// Writes `objects` as the snapshot, atomically (temporary file, fsync, rename, directory fsync).
    static func writeSnapshot(objects: [String: [ObjectKey: JSONValue]], resourceVersion: Int64, to directory: URL) throws {
        var entries: [JSONValue] = []
        for (resource, byKey) in objects.sorted(by: { $0.key < $1.key }) {
            for (key, object) in byKey.sorted(by: { $0.key < $1.key }) {
                entries.append([
                    "resource": .string(resource), "namespace": .string(key.namespace), "name": .string(key.name), "object": object,
                ])
            }
        }
        let snapshot: JSONValue = ["resourceVersion": .integer(resourceVersion), "objects": .array(entries)]
        let temporary = directory.appendingPathComponent(snapshotName + ".tmp")
        let bytes = Array(snapshot.description.utf8)
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw StorageError(description: "cannot write \(temporary.path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StorageError(description: "cannot write \(temporary.path): \(String(cString: strerror(errno)))")
            }
            offset += count
        }
        guard fsync(descriptor) == 0 else {
            throw StorageError(description: "cannot sync \(temporary.path): \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, directory.appendingPathComponent(snapshotName).path) == 0 else {
            throw StorageError(description: "cannot replace the snapshot: \(String(cString: strerror(errno)))")
        }
        try syncDirectory(directory)
    }

    private static func syncDirectory(_ directory: URL) throws {
        let descriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StorageError(description: "cannot open \(directory.path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw StorageError(description: "cannot sync \(directory.path)") }
    }
}
