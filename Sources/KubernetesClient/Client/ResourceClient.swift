import AsyncHTTPClient
import Kubernetes
import NIOCore
import NIOHTTP1

/// The verbs on one resource, decoding objects as `Object` (client-go's dynamic client
/// `client.Resource(gvr).Namespace(ns)` and typed clients in one generic shape).
///
/// For a namespaced resource, a `nil` namespace means the object's own `metadata.namespace` (for
/// writes), the client's default namespace (for get/patch/delete) or all namespaces (for list/watch).
public struct ResourceClient<Object: KubernetesObject>: Sendable {
    public let client: KubernetesClient
    public let resource: ResourceDescriptor

    public init(client: KubernetesClient, resource: ResourceDescriptor) {
        self.client = client
        self.resource = resource
    }

    /// Reads one object.
    ///
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/notFound`` when it does not exist).
    public func get(_ name: String, namespace: String? = nil) async throws -> Object {
        let path = resource.path(namespace: scoped(namespace), name: name)
        let body = try await client.perform(.GET, path: path)
        return try KubernetesClient.decode(Object.self, from: body, what: "GET \(path)")
    }

    /// Reads one page of objects.
    ///
    /// - Parameter namespace: `nil` lists every namespace.
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/gone`` for an expired continue token).
    public func list(namespace: String? = nil, options: ListOptions = ListOptions()) async throws -> ObjectList<Object>
    {
        let path = resource.path(namespace: namespace)
        let body = try await client.perform(.GET, path: path, query: options.queryItems)
        let list = try KubernetesClient.decode(ListBody<Object>.self, from: body, what: "GET \(path)")
        return ObjectList(
            items: list.items ?? [],
            resourceVersion: list.metadata?.resourceVersion ?? "",
            continueToken: list.metadata?.continue.flatMap { $0.isEmpty ? nil : $0 },
            remainingItemCount: list.metadata?.remainingItemCount
        )
    }

    /// Reads every object, `pageSize` at a time, following continue tokens (client-go's pager).
    ///
    /// The result's resourceVersion is the first page's: a watch from it misses nothing. When a continue
    /// token expires mid-way (410), the list restarts once without paging, as client-go's pager does.
    public func listAll(
        namespace: String? = nil,
        options: ListOptions = ListOptions(),
        pageSize: Int = 500
    ) async throws -> ObjectList<Object> {
        var pageOptions = options
        pageOptions.limit = pageSize
        pageOptions.continueToken = nil
        var first = try await list(namespace: namespace, options: pageOptions)
        var items = first.items
        var token = first.continueToken
        while let next = token {
            pageOptions.continueToken = next
            do {
                let page = try await list(namespace: namespace, options: pageOptions)
                items += page.items
                token = page.continueToken
            } catch let error as KubernetesError where error.code == .gone {
                var full = options
                full.limit = nil
                full.continueToken = nil
                return try await list(namespace: namespace, options: full)
            }
        }
        first.items = items
        first.continueToken = nil
        first.remainingItemCount = nil
        return first
    }

    /// Creates an object (POST). The namespace is `namespace`, else the object's, else the client's default.
    ///
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/alreadyExists``, ``KubernetesError/Code/invalid`` with causes).
    public func create(
        _ object: Object,
        namespace: String? = nil,
        options: WriteOptions = WriteOptions()
    ) async throws -> Object {
        let path = resource.path(namespace: scoped(namespace ?? object.metadata.namespace))
        let body = try await client.perform(
            .POST,
            path: path,
            query: options.queryItems(defaultFieldManager: client.configuration.fieldManager),
            body: try KubernetesClient.encode(object, as: resource)
        )
        return try KubernetesClient.decode(Object.self, from: body, what: "POST \(path)")
    }

    /// Replaces an object (PUT), conditional on its `metadata.resourceVersion`.
    ///
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/conflict`` when the resourceVersion is stale).
    public func update(_ object: Object, options: WriteOptions = WriteOptions()) async throws -> Object {
        try await put(object, subresource: nil, options: options)
    }

    /// Replaces an object's status (PUT `/status`); everything but `status` is ignored by the server.
    ///
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/conflict`` when the resourceVersion is stale).
    public func updateStatus(_ object: Object, options: WriteOptions = WriteOptions()) async throws -> Object {
        try await put(object, subresource: "status", options: options)
    }

    /// Patches an object, or its `status` with `subresource: "status"`.
    ///
    /// Merge and JSON patches are unconditional unless they set `metadata.resourceVersion`. A
    /// server-side apply needs a field manager: ``WriteOptions/fieldManager`` or the client's.
    public func patch(
        _ name: String,
        namespace: String? = nil,
        _ patch: Patch,
        subresource: String? = nil,
        options: WriteOptions = WriteOptions()
    ) async throws -> Object {
        let path = resource.path(namespace: scoped(namespace), name: name, subresource: subresource)
        var query = options.queryItems(defaultFieldManager: client.configuration.fieldManager)
        if case .apply(_, let force) = patch, force { query.append(("force", "true")) }
        let body = try await client.perform(
            .PATCH,
            path: path,
            query: query,
            body: ByteBuffer(string: patch.body.description),
            contentType: patch.contentType
        )
        return try KubernetesClient.decode(Object.self, from: body, what: "PATCH \(path)")
    }

    /// Deletes an object. With finalizers it stays (with a deletionTimestamp) until they are removed.
    ///
    /// - Throws: ``KubernetesError`` (``KubernetesError/Code/notFound``; ``KubernetesError/Code/conflict``
    ///   when a precondition does not hold).
    public func delete(_ name: String, namespace: String? = nil, options: DeleteOptions = DeleteOptions()) async throws
    {
        let path = resource.path(namespace: scoped(namespace), name: name)
        _ = try await client.perform(.DELETE, path: path, body: ByteBuffer(string: options.body.description))
    }

    /// Opens a watch: a stream of events decoded as they arrive (see ``WatchStream``).
    ///
    /// - Parameter namespace: `nil` watches every namespace.
    /// - Throws: ``KubernetesError`` when the server refuses the watch (e.g. 410 for a too-old resourceVersion
    ///   on servers that answer it with a status code rather than an ERROR event).
    public func watch(
        namespace: String? = nil,
        options: WatchOptions = WatchOptions()
    ) async throws -> WatchStream<Object> {
        let path = resource.path(namespace: namespace)
        let response = try await client.send(.GET, path: path, query: options.queryItems)
        return WatchStream(body: response.body)
    }

    private func put(_ object: Object, subresource: String?, options: WriteOptions) async throws -> Object {
        guard let name = object.metadata.name, !name.isEmpty else {
            throw KubernetesError(
                code: .badRequest,
                message: "\(resource.kind): metadata.name is required for an update"
            )
        }
        let path = resource.path(namespace: scoped(object.metadata.namespace), name: name, subresource: subresource)
        let body = try await client.perform(
            .PUT,
            path: path,
            query: options.queryItems(defaultFieldManager: client.configuration.fieldManager),
            body: try KubernetesClient.encode(object, as: resource)
        )
        return try KubernetesClient.decode(Object.self, from: body, what: "PUT \(path)")
    }

    /// The namespace a single-object request uses: the given one, else the client's default; none when cluster-scoped.
    private func scoped(_ namespace: String?) -> String? {
        guard resource.namespaced else { return nil }
        if let namespace, !namespace.isEmpty { return namespace }
        return client.configuration.namespace
    }
}
