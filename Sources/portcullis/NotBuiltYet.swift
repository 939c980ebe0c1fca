import ArgumentParser

/// The error a command that is not built yet exits with: it says so instead of pretending to work.
struct NotBuiltYet: Error, CustomStringConvertible {
    var command: String
    var tracking: String

    var description: String {
        "portcullis \(command) is not available in this build yet (\(tracking)); nothing was started."
    }
}
