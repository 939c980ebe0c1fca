import Kubernetes
import Testing

@testable import KubernetesClient

@Suite struct StoreTests {
    static func configMap(_ name: String, version: String) -> CoreV1.ConfigMap {
        var object = CoreV1.ConfigMap.named(name)
        object.metadata.resourceVersion = version
        return object
    }

    @Test func listsStayInKeyOrderThroughAddsUpdatesRemovesAndReplaces() {
        let store = Store<CoreV1.ConfigMap>()
        let names = { store.list().map { "\($0.metadata.name ?? "")@\($0.metadata.resourceVersion ?? "")" } }
        store.upsert(Self.configMap("b", version: "1"))
        store.upsert(Self.configMap("a", version: "2"))
        #expect(names() == ["a@2", "b@1"])
        store.upsert(Self.configMap("b", version: "3"))
        #expect(names() == ["a@2", "b@3"], "an update shows in the next list")
        store.upsert(Self.configMap("c", version: "4"))
        store.upsert(Self.configMap("0", version: "5"))
        #expect(names() == ["0@5", "a@2", "b@3", "c@4"], "new keys take their place in the order")
        store.remove(ObjectKey(namespace: "default", name: "a"))
        #expect(names() == ["0@5", "b@3", "c@4"])
        #expect(store.keys.map(\.name) == ["0", "b", "c"])
        _ = store.replace(with: [Self.configMap("z", version: "6"), Self.configMap("b", version: "7")])
        #expect(names() == ["b@7", "z@6"])
    }
}
