public import Foundation

/// The repository's own files (examples, crds, manifests), found from this source file's location.
public enum RepositoryFiles {
    /// The repository root.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// A file or folder relative to the repository root.
    public static func url(_ relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// The text of a file relative to the repository root.
    public static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: url(relativePath), encoding: .utf8)
    }

    /// A product built beside the test bundle, such as the `portcullis` executable.
    public static func builtProduct(_ name: String) -> URL {
        var folder = Bundle.main.bundleURL
        if folder.pathExtension == "xctest" { folder.deleteLastPathComponent() }
        let candidates = [folder, Bundle.main.bundleURL.deletingLastPathComponent()]
            + [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate.appendingPathComponent(name).path) {
            return candidate.appendingPathComponent(name)
        }
        return folder.appendingPathComponent(name)
    }

    /// Every file below a folder whose name ends in one of `extensions`, sorted by path.
    public static func files(under relativePath: String, extensions: Set<String>) -> [URL] {
        let base = url(relativePath)
        guard let enumerator = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { return [] }
        var found: [URL] = []
        for case let file as URL in enumerator where extensions.contains(file.pathExtension) {
            found.append(file)
        }
        return found.sorted { $0.path < $1.path }
    }
}
