import Foundation
import NIOHTTP1
import Testing
@testable import UpstreamCredentials

@Suite struct WireFormatTests {
    /// golang/oauth2's STS test vector, byte for byte.
    @Test func formEncodingMatchesGolangOAuth2() {
        let body = FormEncoding.encode([
            ("subject_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ("subject_token", "Sample.Subject.Token"),
            ("scope", "https://www.googleapis.com/auth/devstorage.full_control"),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("audience", "32555940559.apps.googleusercontent.com"),
        ])
        #expect(
            body
                == "audience=32555940559.apps.googleusercontent.com&grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdevstorage.full_control&subject_token=Sample.Subject.Token&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt"
        )
        #expect(FormEncoding.escape("a b~c-d_e.f*ü") == "a+b~c-d_e.f%2A%C3%BC")
        #expect(FormEncoding.decode("a=b+c&d=%2F%C3%BC").map { "\($0.0)=\($0.1)" } == ["a=b c", "d=/ü"])
    }

    func response(_ status: Int, _ body: String) -> TokenEndpointResponse {
        TokenEndpointResponse(status: status, headers: [:], body: Array(body.utf8))
    }

    @Test(arguments: [
        ("invalid_request", CredentialError.Reason.invalidRequest), ("invalid_target", .invalidTarget),
        ("invalid_grant", .invalidGrant), ("invalid_client", .invalidClient), ("unauthorized_client", .unauthorizedClient),
        ("invalid_scope", .invalidScope), ("unsupported_grant_type", .unsupportedGrantType),
        ("temporarily_unavailable", .serverError), ("something_new", .tokenServiceError),
    ])
    func oauth2ErrorsMapToReasons(error: String, reason: CredentialError.Reason) {
        let decoded = TokenServiceErrors.error(
            for: response(400, #"{"error":"\#(error)","error_description":"why"}"#),
            dialect: .oauth2,
            endpoint: "https://sts",
            redacting: []
        )
        #expect(decoded.reason == reason)
        #expect(decoded.message == "\(error): why")
        #expect(decoded.httpStatus == 400)
    }

    @Test func entraErrorsUseTheAADSTSCodeAndFirstLine() {
        let body = #"{"error":"invalid_scope","error_description":"AADSTS70011: The provided value for the input parameter 'scope' is not valid.\r\nTrace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333\r\nCorrelation ID: aaaa0000-bb11-2222-33cc-444444dddddd\r\nTimestamp: 2016-01-09 02:02:12Z","error_codes":[70011],"timestamp":"2016-01-09 02:02:12Z","trace_id":"0000aaaa-11bb-cccc-dd22-eeeeee333333","correlation_id":"aaaa0000-bb11-2222-33cc-444444dddddd","error_uri":"https://login.microsoftonline.com/error?code=70011"}"#
        let decoded = TokenServiceErrors.error(for: response(400, body), dialect: .entra, endpoint: "https://login", redacting: [])
        #expect(decoded.reason == .aadsts(70011))
        #expect(decoded.reason.rawValue == "AADSTS70011")
        #expect(decoded.message == "The provided value for the input parameter 'scope' is not valid.")
        #expect(decoded.description == "AADSTS70011: The provided value for the input parameter 'scope' is not valid.")
        #expect(decoded.traceID == "0000aaaa-11bb-cccc-dd22-eeeeee333333")
        #expect(decoded.correlationID == "aaaa0000-bb11-2222-33cc-444444dddddd")
        #expect(!decoded.isTransient)
        // A 5xx from Entra is transient whatever its code.
        let unavailable = TokenServiceErrors.error(
            for: response(503, #"{"error":"temporarily_unavailable","error_description":"AADSTS50000: oops","error_codes":[50000]}"#),
            dialect: .entra,
            endpoint: "https://login",
            redacting: []
        )
        #expect(unavailable.reason == .aadsts(50000))
        #expect(unavailable.isTransient)
    }

    @Test func googleEnvelopeMapsStatus() {
        let body = #"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"IAM_PERMISSION_DENIED","domain":"iam.googleapis.com","metadata":{"permission":"iam.serviceAccounts.getAccessToken"}}]}}"#
        let decoded = TokenServiceErrors.error(for: response(403, body), dialect: .google, endpoint: "https://iam", redacting: [])
        #expect(decoded.reason == .permissionDenied)
        #expect(decoded.message.hasPrefix("PERMISSION_DENIED: Permission 'iam.serviceAccounts.getAccessToken'"))
        let unavailable = TokenServiceErrors.error(
            for: response(503, #"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#),
            dialect: .google,
            endpoint: "https://iam",
            redacting: []
        )
        #expect(unavailable.reason == .serverError)
        #expect(unavailable.isTransient)
    }

    @Test(arguments: [(429, CredentialError.Reason.rateLimited, true), (502, .serverError, true), (401, .unauthenticated, false), (403, .permissionDenied, false), (418, .malformedResponse, false)])
    func bodiesThatAreNotJSONFallBackToTheStatus(status: Int, reason: CredentialError.Reason, transient: Bool) {
        let decoded = TokenServiceErrors.error(for: response(status, "<html>nope</html>"), dialect: .oauth2, endpoint: "https://x", redacting: [])
        #expect(decoded.reason == reason)
        #expect(decoded.isTransient == transient)
    }

    @Test func rfc3339WithAndWithoutFractions() {
        #expect(WireJSON.date(rfc3339: "2024-05-01T12:00:00Z") == Date(timeIntervalSince1970: 1_714_564_800))
        #expect(WireJSON.date(rfc3339: "2024-05-01T12:00:00.123456789Z")!.timeIntervalSince1970 - 1_714_564_800 < 0.2)
        #expect(WireJSON.date(rfc3339: "2024-05-01T14:00:00+02:00") == Date(timeIntervalSince1970: 1_714_564_800))
        #expect(WireJSON.date(rfc3339: "yesterday") == nil)
    }

    @Test func expiresInAsStringIsAccepted() throws {
        let decoded = try #require(WireJSON.decode(OAuth2TokenResponse.self, from: Array(#"{"access_token":"x","expires_in":"3599","token_type":"Bearer"}"#.utf8)))
        #expect(decoded.expiresIn == 3599)
    }
}
