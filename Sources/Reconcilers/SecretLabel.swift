/// The label that lets the controller read a Secret (docs/security.md, "Blast radius").
///
/// Every replica caches only the Secrets that carry it, not every Secret of the cluster. Secrets the controller
/// writes for Routes, UpstreamAuths and Tunnels carry `portcullis.io/secret: owned`; Secrets users name in
/// `upstream.tls.caSecretRef`, `clientSecretRef` or `mutualTLS.secretRef` must carry it too (any value;
/// `referenced` is the one the docs suggest), or the reference does not resolve and the condition says why. The
/// installation's own Secrets (CA, peer CA, key ring, peer certificate) say `installation` and are never in that
/// cache, so no reference can name them: the controller reads them from its own namespace only.
public enum SecretLabel {
    /// `portcullis.io/secret`.
    public static let key = "portcullis.io/secret"
    /// The value on Secrets the controller writes for a Route, UpstreamAuth or Tunnel.
    public static let owned = "owned"
    /// The value the docs suggest for Secrets users reference.
    public static let referenced = "referenced"
    /// The value on the installation's own Secrets, which references never resolve to.
    public static let installation = "installation"

    /// The selector of the Secret cache references resolve against: labelled, and not the installation's.
    static let referenceableSelector = "\(key),\(key)!=\(installation)"

    /// Whether references may resolve to a Secret with these labels.
    static func isReferenceable(_ labels: [String: String]?) -> Bool {
        guard let value = labels?[key] else { return false }
        return value != installation
    }
}
