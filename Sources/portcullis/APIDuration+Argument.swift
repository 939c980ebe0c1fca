public import ArgumentParser
public import Kubernetes

/// Durations on the command line are written as in Kubernetes objects and kube-controller-manager's
/// flags: `15s`, `500ms`, `1m30s`.
extension APIDuration: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }

    public var defaultValueDescription: String { description }
}
