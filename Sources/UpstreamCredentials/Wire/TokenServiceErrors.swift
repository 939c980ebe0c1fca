import NIOHTTP1

/// Turns a token service's error response into a ``CredentialError``.
enum TokenServiceErrors {
    /// Whose error format to expect.
    enum Dialect: Sendable {
        /// RFC 6749 §5.2 (`error`, `error_description`): STS and generic OAuth2 servers.
        case oauth2
        /// RFC 6749 plus `error_codes`, `trace_id`, `correlation_id`; reasons are the AADSTS codes.
        case entra
        /// Google's envelope, reasons from `status`: IAM Credentials.
        case google
    }

    /// The error for a non-2xx `response` from `endpoint`.
    static func error(
        for response: TokenEndpointResponse,
        dialect: Dialect,
        endpoint: String,
        redacting secrets: [String]
    ) -> CredentialError {
        let status = response.status
        if (300...399).contains(status) {
            let location = response.headers.first(name: "location").map { " to \($0)" } ?? ""
            return CredentialError(
                .redirected,
                "\(endpoint) answered HTTP \(status), a redirect\(location); token requests do not follow redirects (one would send the credential to another host): configure the endpoint's final URL",
                httpStatus: status,
                redacting: secrets
            )
        }
        let transientStatus = status >= 500 || status == 429
        switch dialect {
        case .oauth2, .entra:
            if let body = WireJSON.decode(OAuth2ErrorResponse.self, from: response.body) {
                var reason = reason(forOAuth2Error: body.error)
                var message = body.errorDescription ?? body.error
                if dialect == .entra {
                    // "AADSTS700016: Application with identifier … \r\nTrace ID: …\r\nCorrelation ID: …\r\nTimestamp: …"
                    message = firstLine(of: message)
                    if let code = body.errorCodes?.first ?? aadstsCode(in: message) {
                        reason = .aadsts(code)
                        let prefix = "AADSTS\(code): "
                        if message.hasPrefix(prefix) { message = String(message.dropFirst(prefix.count)) }
                    }
                } else if body.errorDescription != nil {
                    message = "\(body.error): \(message)"
                }
                let transient = transientStatus || ["temporarily_unavailable", "server_error"].contains(body.error)
                return CredentialError(
                    reason,
                    message,
                    httpStatus: status,
                    isTransient: transient,
                    traceID: body.traceID,
                    correlationID: body.correlationID,
                    redacting: secrets
                )
            }
        case .google:
            if let envelope = WireJSON.decode(GoogleErrorEnvelope.self, from: response.body),
                envelope.error.status != nil || envelope.error.message != nil
            {
                let googleStatus = envelope.error.status ?? ""
                let reason = reason(forGoogleStatus: googleStatus, httpStatus: status)
                var message = envelope.error.message ?? googleStatus
                if !googleStatus.isEmpty { message = "\(googleStatus): \(message)" }
                return CredentialError(
                    reason,
                    message,
                    httpStatus: status,
                    isTransient: transientStatus || CredentialError.transientReasons.contains(reason),
                    redacting: secrets
                )
            }
        }
        return statusOnlyError(status: status, endpoint: endpoint, redacting: secrets)
    }

    /// An error from the HTTP status alone, when the body is not the documented shape.
    static func statusOnlyError(status: Int, endpoint: String, redacting secrets: [String]) -> CredentialError {
        switch status {
        case 429:
            return CredentialError(.rateLimited, "\(endpoint) answered HTTP 429", httpStatus: status, redacting: secrets)
        case 500...599:
            return CredentialError(.serverError, "\(endpoint) answered HTTP \(status)", httpStatus: status, redacting: secrets)
        case 401:
            return CredentialError(.unauthenticated, "\(endpoint) answered HTTP 401", httpStatus: status, redacting: secrets)
        case 403:
            return CredentialError(.permissionDenied, "\(endpoint) answered HTTP 403", httpStatus: status, redacting: secrets)
        default:
            return CredentialError(
                .malformedResponse,
                "\(endpoint) answered HTTP \(status) without a recognisable error body",
                httpStatus: status,
                redacting: secrets
            )
        }
    }

    static func reason(forOAuth2Error error: String) -> CredentialError.Reason {
        switch error {
        case "invalid_request": .invalidRequest
        case "invalid_client": .invalidClient
        case "invalid_grant": .invalidGrant
        case "unauthorized_client": .unauthorizedClient
        case "unsupported_grant_type": .unsupportedGrantType
        case "invalid_scope": .invalidScope
        case "invalid_target": .invalidTarget
        case "temporarily_unavailable", "server_error": .serverError
        default: .tokenServiceError
        }
    }

    static func reason(forGoogleStatus status: String, httpStatus: Int) -> CredentialError.Reason {
        switch status {
        case "PERMISSION_DENIED": return .permissionDenied
        case "UNAUTHENTICATED": return .unauthenticated
        case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE": return .invalidArgument
        case "NOT_FOUND": return .notFound
        case "RESOURCE_EXHAUSTED": return .rateLimited
        case "UNAVAILABLE", "INTERNAL", "UNKNOWN": return .serverError
        case "DEADLINE_EXCEEDED": return .timeout
        default:
            switch httpStatus {
            case 401: return .unauthenticated
            case 403: return .permissionDenied
            case 404: return .notFound
            case 429: return .rateLimited
            case 500...599: return .serverError
            default: return .tokenServiceError
            }
        }
    }

    /// The text before the first line break (Entra appends trace and correlation IDs and a timestamp after `\r\n`).
    static func firstLine(of text: String) -> String {
        let line = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" })
            .first
        return line.map(String.init) ?? text
    }

    /// The number after a leading `AADSTS`, if any.
    static func aadstsCode(in text: String) -> Int? {
        guard text.hasPrefix("AADSTS") else { return nil }
        return Int(text.dropFirst(6).prefix(while: \.isNumber))
    }
}
