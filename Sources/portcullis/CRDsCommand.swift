import ArgumentParser
import Foundation
import PortcullisAPI

/// `portcullis crds`: prints the CustomResourceDefinitions generated from the Swift types.
struct CRDsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crds",
        abstract: "Print the Route, UpstreamAuth and Tunnel CustomResourceDefinitions as YAML.",
        discussion: """
            The CRDs are generated from the Swift types, which are the single source of truth; crds/ in the \
            repository holds the same output, one file per CRD. Install them with:
              portcullis crds | kubectl apply -f -
            """
    )

    @Option(help: "Write one file per CRD into this folder instead of printing them.")
    var outputDir: String?

    func run() throws {
        guard let outputDir else {
            print(PortcullisAPIGroup.allCRDsYAML(), terminator: "")
            return
        }
        let folder = URL(fileURLWithPath: outputDir, isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for type in PortcullisAPIGroup.resourceTypes {
            let file = folder.appendingPathComponent(PortcullisAPIGroup.crdFileName(for: type))
            try PortcullisAPIGroup.crdYAML(for: type).write(to: file, atomically: true, encoding: .utf8)
            print("wrote \(file.path)")
        }
    }
}
