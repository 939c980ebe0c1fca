import CHeap
import Synchronization

/// Hands the memory that config rebuilds freed back to the system. glibc keeps freed memory in its
/// arenas, one per thread that allocated, so after rebuilds of a 10,000-route config the process's
/// resident memory grows to twice its live heap and stays there. After a rebuild, at most once per
/// ``interval``, this calls `malloc_trim(0)` (a few milliseconds at 10,000 Routes); with nothing
/// rebuilt it does nothing. On other C libraries it does nothing at all.
final class HeapTrimmer: Sendable {
    let interval: Duration
    private let rebuiltSinceTrim = Atomic<Bool>(false)

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// A config was rebuilt: its predecessor's memory is free to give back.
    func rebuilt() {
        rebuiltSinceTrim.store(true, ordering: .relaxed)
    }

    func run() async throws {
        while !Task.isCancelled {
            try await Task.sleep(for: interval)
            if rebuiltSinceTrim.exchange(false, ordering: .relaxed) { c_heap_trim() }
        }
    }
}
