import Foundation
import Kubernetes
import Testing

@Suite struct JSONPathTests {
    static let route: JSONValue = [
        "metadata": [
            "name": "web", "annotations": ["a.b/c": "x"], "creationTimestamp": "2025-01-01T00:00:00Z",
        ],
        "spec": [
            "match": ["path": ["value": "/api"]],
            "hostnames": ["a.example", "b.example"],
            "ports": [["port": 80, "name": "http"], ["port": 443, "name": "https"]],
            "ratio": 0.5,
            "enabled": true,
        ],
        "status": [
            "conditions": [
                ["type": "Accepted", "status": "True"], ["type": "Ready", "status": "False", "observedGeneration": 2],
            ]
        ],
    ]

    static let expressions: [(String, [JSONValue])] = [
        (".spec.match.path.value", ["/api"]),
        (#".status.conditions[?(@.type=="Ready")].status"#, ["False"]),
        (#"{.status.conditions[?(@.type=="Ready")].status}"#, ["False"]),
        (".status.conditions[?(@.type=='Accepted')].status", ["True"]),
        (".spec.hostnames", [["a.example", "b.example"]]),
        ("{.spec.hostnames}", [["a.example", "b.example"]]),
        (".spec.hostnames[0]", ["a.example"]),
        (".spec.hostnames[-1]", ["b.example"]),
        (".spec.hostnames[*]", ["a.example", "b.example"]),
        (".spec.ports[*].port", [80, 443]),
        ("$.spec.ports[1].name", ["https"]),
        ("{$.spec.ports[1].name}", ["https"]),
        (".spec.ports[?(@.port==443)].name", ["https"]),
        (".spec.ports[?(@.port>80)].name", ["https"]),
        (".spec.ports[?(@.port<=80)].name", ["http"]),
        (".spec.ports[?(@.port!=80)].name", ["https"]),
        (".spec.ports[?(@.port == 443.0)].name", ["https"]),
        (".spec.ports[?(@.name)].port", [80, 443]),
        (".spec.ports[?(@.missing)].port", []),
        (#".spec.ports[?(@.port=="80")].name"#, []),
        (".status.conditions[?(@.observedGeneration >= 2)].type", ["Ready"]),
        (".spec.ports[?(@.name < 'https')].port", [80]),
        (#".metadata.annotations.a\.b/c"#, ["x"]),
        (".metadata.annotations['a.b/c']", ["x"]),
        (#".spec['ratio',"enabled"]"#, [0.5, true]),
        ("..port", [80, 443]),
        ("$..value", ["/api"]),
        (".spec.ports[0:1].port", [80]),
        (".spec.ports[::-1].name", ["https", "http"]),
        (".spec.ports[-1:].name", ["https"]),
        (".spec.ports[0,1,5].port", [80, 443]),
        (".spec.match.*", [["value": "/api"]]),
        (".spec.match.path.*", ["/api"]),
        (".spec.nope", []),
        (".spec.hostnames.foo", []),
        (".spec.ports[5]", []),
        (".spec.match[?(@.x)]", []),
        (".spec.match[0]", []),
        ("", [route]),
    ]

    @Test(arguments: expressions)
    func evaluatesExpressions(expression: String, expected: [JSONValue]) throws {
        #expect(try JSONPath(parsing: expression).evaluate(JSONPathTests.route) == expected)
    }

    @Test func evaluatesAgainstLists() throws {
        let list: JSONValue = ["items": [["metadata": ["name": "a"]], ["metadata": ["name": "b"]]]]
        #expect(try JSONPath(parsing: ".items[0].metadata.name").evaluate(list) == ["a"])
        #expect(try JSONPath(parsing: "{.items[*].metadata.name}").evaluate(list) == ["a", "b"])
        #expect(try JSONPath(parsing: #"{.items[?(@.metadata.name=="b")].metadata.name}"#).evaluate(list) == ["b"])
    }

    @Test(arguments: [
        (#"{.metadata.name}{"\n"}"#, "web\n"),
        ("{.spec.ports[*].port}", "80 443"),
        ("name={.metadata.name} ports={.spec.ports[*].name}", "name=web ports=http https"),
        ("{.spec.hostnames}", #"["a.example","b.example"]"#),
        ("{.spec.match}", #"{"path":{"value":"/api"}}"#),
        ("{.spec.ratio} {.spec.enabled}", "0.5 true"),
        ("{.spec.nope}", ""),
        (#"{'\t'}{.metadata.name}"#, "\tweb"),
    ])
    func rendersKubectlTemplates(template: String, expected: String) throws {
        #expect(try JSONPath(parsing: template).render(JSONPathTests.route) == expected)
    }

    @Test(arguments: [
        ("spec.host", #"unexpected "s" at offset 0 of "spec.host""#),
        (".a[", #"unexpected end at offset 3 of ".a[""#),
        (".a[x]", #"unexpected "x" at offset 3 of ".a[x]""#),
        (".a[?(@.b", #"unterminated filter at offset 8 of ".a[?(@.b""#),
        (".a[?(@.b ~ 1)]", #"expected a comparison operator at offset 9 of ".a[?(@.b ~ 1)]""#),
        (#".a[?(@.b=="x)]"#, #"unterminated string at offset 10 of ".a[?(@.b==\"x)]""#),
        (".a[1:x]", #"unexpected "x" at offset 5 of ".a[1:x]""#),
        ("{.a", #"unclosed action at offset 3 of "{.a""#),
        ("{.a b}", #"unexpected "b" at offset 4 of "{.a b}""#),
        ("..", #"expected a name after ".." at offset 2 of "..""#),
    ])
    func syntaxErrorsNameTheOffset(expression: String, message: String) {
        let error = #expect(throws: JSONPathError.self) { try JSONPath(parsing: expression) }
        #expect(error?.message == message)
        #expect(error?.code == .invalidSyntax)
    }

    @Test func unsupportedConstructsAreReportedAsSuch() {
        let range = #expect(throws: JSONPathError.self) { try JSONPath(parsing: "{range .items[*]}{.x}{end}") }
        #expect(range?.code == .unsupported)
        #expect(range?.message == #""range" is not supported at offset 1 of "{range .items[*]}{.x}{end}""#)
        let regex = #expect(throws: JSONPathError.self) { try JSONPath(parsing: ".a[?(@.b=~/x/)]") }
        #expect(regex?.code == .unsupported)
    }

    @Test func keepsTheExpressionAsWritten() throws {
        #expect(try JSONPath(parsing: " .spec.host ").description == " .spec.host ")
        #expect(try JSONPath(parsing: ".a") == JSONPath(parsing: ".a"))
        #expect(try JSONPath(parsing: ".a") != JSONPath(parsing: ".b"))
    }
}

@Suite struct TableCellTests {
    static let now = Date(timeIntervalSince1970: 1_735_689_604)  // 2025-01-01T00:00:04Z

    func cell(_ path: String, _ type: String, _ object: JSONValue = JSONPathTests.route) throws -> JSONValue {
        try JSONPath(parsing: path).tableCell(for: object, type: type, now: TableCellTests.now)
    }

    @Test func stringColumns() throws {
        #expect(try cell(".spec.match.path.value", "string") == "/api")
        #expect(try cell(#".status.conditions[?(@.type=="Ready")].status"#, "string") == "False")
        #expect(try cell(".spec.hostnames", "string") == #"["a.example","b.example"]"#)
        #expect(try cell(".spec.match", "string") == #"{"path":{"value":"/api"}}"#)
        #expect(try cell(".spec.ports[*].port", "string") == "80")
        #expect(try cell(".spec.enabled", "string") == "true")
        #expect(try cell(".spec.ratio", "string") == "0.5")
        #expect(try cell(".spec.nope", "string") == nil)
    }

    @Test(arguments: [
        (0.5, "0.5"), (1e6, "1e+06"), (123_456.0, "123456"), (1_234_567.0, "1.234567e+06"), (0.0001, "0.0001"),
        (0.00001, "1e-05"), (1.5e-7, "1.5e-07"), (-2.5, "-2.5"), (1e21, "1e+21"), (100.25, "100.25"), (3.0, "3"),
    ])
    func numbersInStringColumnsArePrintedAsGoPrintsThem(value: Double, expected: String) throws {
        #expect(try cell(".v", "string", ["v": .double(value)]) == .string(expected))
    }

    @Test func typedColumnsKeepTheirJSONTypes() throws {
        #expect(try cell(".spec.ports[0].port", "integer") == .integer(80))
        #expect(try cell(".v", "integer", ["v": 2.9]) == .integer(2))
        #expect(try cell(".v", "integer", ["v": -2.9]) == .integer(-2))
        #expect(try cell(".spec.match.path.value", "integer") == nil)
        #expect(try cell(".spec.ports[0].port", "number") == .double(80))
        #expect(try cell(".spec.ratio", "number") == .double(0.5))
        #expect(try cell(".spec.ratio", "boolean") == nil)
        #expect(try cell(".spec.enabled", "boolean") == true)
        #expect(try cell(".v", "boolean", ["v": "true"]) == nil)
        #expect(try cell(".spec.enabled", "unknown-type") == nil)
        #expect(try cell(".v", "string", ["v": nil]) == nil)
        #expect(try cell(".v", "integer", ["v": nil]) == nil)
    }

    @Test func dateColumnsAreHumanisedAges() throws {
        #expect(try cell(".metadata.creationTimestamp", "date") == "4s")
        #expect(try cell(".v", "date", ["v": "2024-12-31T23:57:59Z"]) == "2m5s")
        #expect(try cell(".v", "date", ["v": "2025-01-01T00:00:10Z"]) == "<invalid>")
        #expect(try cell(".v", "date", ["v": ""]) == "<unknown>")
        #expect(try cell(".v", "date", ["v": "soon"]) == "<invalid>")
        #expect(try cell(".v", "date", ["v": 5]) == nil)
        #expect(try cell(".missing", "date") == nil)
    }
}
