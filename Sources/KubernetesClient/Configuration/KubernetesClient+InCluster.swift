public import Foundation

extension KubernetesClient.Configuration {
    /// Where the kubelet mounts a pod's service-account credentials.
    public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// The configuration of a process running in a pod, as client-go's `rest.InClusterConfig` builds it:
    /// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, the service account's `ca.crt`,
    /// its `token` (re-read at most every minute and after a 401, because the kubelet rotates it) and
    /// its `namespace`.
    ///
    /// - Parameters:
    ///   - environment: Where the two variables are read from (injectable for tests).
    ///   - serviceAccountDirectory: Where `token`, `ca.crt` and `namespace` are (injectable for tests).
    /// - Throws: ``ConfigurationError`` with ``ConfigurationError/Code/notInCluster`` when the variables
    ///   are absent, or naming the file that cannot be read.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = serviceAccountDirectory
    ) throws -> KubernetesClient.Configuration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw ConfigurationError(
                .notInCluster,
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set"
            )
        }
        guard let portNumber = Int(port), (1...65535).contains(portNumber) else {
            throw ConfigurationError(.invalidField, "KUBERNETES_SERVICE_PORT: \"\(port)\" is not a port number")
        }
        let directory =
            serviceAccountDirectory.hasSuffix("/")
            ? String(serviceAccountDirectory.dropLast()) : serviceAccountDirectory
        let tokenPath = directory + "/token"
        let token = try Kubeconfig.readFile(tokenPath, what: "service account token")
        if token.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw ConfigurationError(.invalidField, "service account token: \(tokenPath) is empty")
        }
        let certificateAuthority = try Kubeconfig.readFile(directory + "/ca.crt", what: "service account CA")
        let namespacePath = directory + "/namespace"
        var namespace = "default"
        if FileManager.default.fileExists(atPath: namespacePath) {
            let text = try Kubeconfig.readFile(namespacePath, what: "service account namespace")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            if !text.isEmpty { namespace = text }
        }
        let bracketed = host.contains(":") ? "[\(host)]" : host
        return KubernetesClient.Configuration(
            server: "https://\(bracketed):\(portNumber)",
            tls: TLS(certificateAuthorityPEM: certificateAuthority),
            authentication: .tokenFile(path: tokenPath),
            namespace: namespace
        )
    }

    /// The configuration `portcullis controller` uses: the kubeconfig at `kubeconfigPath` when given;
    /// otherwise in-cluster when `KUBERNETES_SERVICE_HOST` is set; otherwise `$KUBECONFIG` or `~/.kube/config`.
    ///
    /// - Throws: ``ConfigurationError`` from whichever source was chosen.
    public static func resolve(
        kubeconfigPath: String? = nil,
        context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = serviceAccountDirectory
    ) throws -> KubernetesClient.Configuration {
        if let kubeconfigPath {
            return try Kubeconfig.load(path: kubeconfigPath).configuration(context: context)
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment, serviceAccountDirectory: serviceAccountDirectory)
        }
        return try Kubeconfig.load(environment: environment).configuration(context: context)
    }
}
