// Yams composes a document from libyaml's events and shares an anchored node with every alias to it, so a
// few hundred bytes of aliases ("billion laughs") become billions of values as soon as anything walks the
// tree: converting it, or even comparing mapping keys while composing. The only place to refuse them cheaply is
// the event stream, before Yams composes anything; Yams builds libyaml as its module CYaml, whose event API is
// used here for that one pass.
internal import CYaml

/// Refuses YAML anchors (`&name`) and aliases (`*name`) at libyaml's event level, before a document is composed.
///
/// Kubernetes objects never need them, and expanding them is how a small document exhausts memory and time.
enum YAMLAnchors {
    /// Throws at the first anchor or alias in `yaml`; a document without either passes after one streaming pass of
    /// the parser, which holds only the current event. Syntax errors pass too: Yams reports them with their context.
    ///
    /// - Throws: ``YAMLError`` naming the line and the anchor or alias.
    static func refuse(in yaml: String) throws {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) == 1 else {
            throw YAMLError(description: "the YAML parser could not start")
        }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(yaml.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                let line = event.start_mark.line + 1
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return
                case YAML_ALIAS_EVENT:
                    throw refusal("an alias (*\(name(event.data.alias.anchor)))", line: line)
                case YAML_SCALAR_EVENT where event.data.scalar.anchor != nil:
                    throw refusal("an anchor (&\(name(event.data.scalar.anchor)))", line: line)
                case YAML_SEQUENCE_START_EVENT where event.data.sequence_start.anchor != nil:
                    throw refusal("an anchor (&\(name(event.data.sequence_start.anchor)))", line: line)
                case YAML_MAPPING_START_EVENT where event.data.mapping_start.anchor != nil:
                    throw refusal("an anchor (&\(name(event.data.mapping_start.anchor)))", line: line)
                default:
                    continue
                }
            }
        }
    }

    private static func refusal(_ what: String, line: Int) -> YAMLError {
        YAMLError(
            description: "YAML anchors and aliases are not accepted: line \(line) has \(what); write the values out in full"
        )
    }

    private static func name(_ anchor: UnsafeMutablePointer<yaml_char_t>?) -> String {
        guard let anchor else { return "" }
        let text = String(cString: anchor)
        return text.count > 64 ? String(text.prefix(64)) + "…" : text
    }
}
