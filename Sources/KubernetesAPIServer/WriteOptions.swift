/// The query parameters every write accepts.
struct WriteOptions: Sendable {
    /// How unknown fields are treated (`fieldValidation`).
    enum FieldValidation: String, Sendable {
        /// 400 BadRequest naming the unknown field.
        case strict = "Strict"
        /// Dropped, with a Warning header (the server default).
        case warn = "Warn"
        /// Dropped silently.
        case ignore = "Ignore"
    }

    /// `dryRun=All`: validate and answer as if the write happened, storing nothing.
    var dryRun = false
    var fieldValidation = FieldValidation.warn
    var fieldManager: String?
    /// `force=true` on server-side apply takes ownership of conflicting fields.
    var force = false

    init() {}

    init(query: [String: String]) throws {
        if let dryRun = query["dryRun"], !dryRun.isEmpty {
            guard dryRun == "All" else {
                throw APIError.badRequest("Invalid dryRun value: \(dryRun); the only valid value is All")
            }
            self.dryRun = true
        }
        if let validation = query["fieldValidation"], !validation.isEmpty {
            guard let parsed = FieldValidation(rawValue: validation) else {
                throw APIError.badRequest("fieldValidation must be one of Strict, Warn or Ignore, not \(validation)")
            }
            fieldValidation = parsed
        }
        fieldManager = query["fieldManager"]
        force = query["force"] == "true"
    }
}
