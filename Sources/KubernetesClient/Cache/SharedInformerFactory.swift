public import Logging
public import Metrics
public import ServiceLifecycle
import Synchronization

/// Hands out one ``Informer`` per resource, namespace, selectors and object type, so every consumer
/// of a kind shares one watch and one cache (client-go's `SharedInformerFactory`), and runs them all.
///
/// Ask for informers before or while it runs: ``run()`` starts informers requested later too.
public final class SharedInformerFactory: Service, CacheSyncing, Sendable {
    private struct Key: Hashable {
        var resource: ResourceDescriptor
        var namespace: String?
        var labelSelector: String?
        var fieldSelector: String?
        var type: ObjectIdentifier
    }

    private struct Entry: Sendable {
        var informer: any Service & CacheSyncing
    }

    public let client: KubernetesClient
    /// The configuration of informers that do not bring their own selectors.
    public let defaultConfiguration: InformerConfiguration
    /// The namespace informers watch unless told otherwise; `nil` for all.
    public let namespace: String?
    private let logger: Logger
    private let metricsFactory: any MetricsFactory
    private let informers = Mutex<[Key: Entry]>([:])
    private let started: (stream: AsyncStream<any Service>, continuation: AsyncStream<any Service>.Continuation)

    /// - Parameters:
    ///   - client: The client every informer lists and watches with.
    ///   - namespace: The namespace informers watch unless told otherwise; `nil` for all.
    ///   - defaultConfiguration: The configuration of informers that do not bring their own selectors.
    ///   - logger: Passed to every informer.
    ///   - metricsFactory: Where the informers' metrics go. Default: the process's `MetricsSystem.factory`.
    public init(
        client: KubernetesClient,
        namespace: String? = nil,
        defaultConfiguration: InformerConfiguration = InformerConfiguration(),
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.client = client
        self.namespace = namespace
        self.defaultConfiguration = defaultConfiguration
        self.logger = logger
        self.metricsFactory = metricsFactory
        self.started = AsyncStream.makeStream()
    }

    /// The shared informer of a typed resource, e.g. `factory.informer(for: Route.self)`.
    public func informer<Object: KubernetesResource>(
        for type: Object.Type,
        namespace: String?? = nil,
        labelSelector: String? = nil,
        fieldSelector: String? = nil
    ) -> Informer<Object> {
        informer(Object.resource, as: type, namespace: namespace, labelSelector: labelSelector, fieldSelector: fieldSelector)
    }

    /// The shared informer of a resource decoded as `Object` (a typed model or `JSONValue`).
    ///
    /// - Parameters:
    ///   - namespace: `nil` uses the factory's namespace; `.some(nil)` watches all namespaces.
    ///   - labelSelector: Only objects with these labels (a separate informer and watch per selector).
    ///   - fieldSelector: Only objects with these fields, e.g. `metadata.name=tls` (a separate informer and watch
    ///     per selector).
    public func informer<Object: KubernetesObject>(
        _ resource: ResourceDescriptor,
        as type: Object.Type,
        namespace: String?? = nil,
        labelSelector: String? = nil,
        fieldSelector: String? = nil
    ) -> Informer<Object> {
        let scope = resource.namespaced ? (namespace ?? self.namespace) : nil
        var configuration = defaultConfiguration
        if let labelSelector { configuration.labelSelector = labelSelector }
        if let fieldSelector { configuration.fieldSelector = fieldSelector }
        let key = Key(
            resource: resource,
            namespace: scope,
            labelSelector: configuration.labelSelector,
            fieldSelector: configuration.fieldSelector,
            type: ObjectIdentifier(Object.self)
        )
        let (informer, isNew) = informers.withLock { informers -> (Informer<Object>, Bool) in
            if let existing = informers[key]?.informer as? Informer<Object> { return (existing, false) }
            let informer = Informer<Object>(
                client: client,
                resource: resource,
                namespace: scope,
                configuration: configuration,
                logger: logger,
                metricsFactory: metricsFactory
            )
            informers[key] = Entry(informer: informer)
            return (informer, true)
        }
        if isNew { started.continuation.yield(informer) }
        return informer
    }

    /// True when every informer handed out so far has synced.
    public var hasSynced: Bool {
        informers.withLock { $0.values.allSatisfy { $0.informer.hasSynced } }
    }

    /// Runs every informer (also those requested after the start) until cancelled or gracefully shut down.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for await informer in self.started.stream {
                    group.addTask {
                        do { try await informer.run() } catch {}
                    }
                }
                group.cancelAll()
            }
        }
    }
}
