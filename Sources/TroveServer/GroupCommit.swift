import Foundation
import NIOPosix
import TroveCore
import TroveStorage

/// Commits the objects that concurrent requests wrote to one hosted store together, the way an
/// import batch does: while one commit's syncs run, the next requests' objects queue up, and
/// they all share the following syncs. Each request still answers only once its own object is
/// durable under its ID. Without it, every small PUT would pay its own device cache flushes
/// (two per object), one after another.
final class GroupCommit: @unchecked Sendable {
    private struct Waiting {
        let writer: any ObjectWriter
        let id: ContentID
        let done: CheckedContinuation<Void, Error>
    }

    private let store: LocalStore
    private let pool: NIOThreadPool
    private let lock = NSLock()
    private var waiting: [Waiting] = []
    private var running = false

    init(store: LocalStore, pool: NIOThreadPool) {
        self.store = store
        self.pool = pool
    }

    /// Makes `writer`'s object durable as `id`, with whatever else is waiting.
    func commit(_ writer: SendableWriter, as id: ContentID) async throws {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
            let start = lock.withLock { () -> Bool in
                waiting.append(Waiting(writer: writer.writer, id: id, done: done))
                defer { running = true }
                return !running
            }
            if start { pool.submit { _ in self.drain() } }
        }
    }

    /// Commits batches until nothing waits. When a batch fails (a full or failing drive) every
    /// object in it is discarded and each request hears why; its peer sends the object again.
    private func drain() {
        while true {
            let batch = lock.withLock { () -> [Waiting] in
                defer { waiting = [] }
                if waiting.isEmpty { running = false }
                return waiting
            }
            if batch.isEmpty { return }
            do {
                try store.commitBatch(batch.map { (writer: $0.writer, id: $0.id) })
                for item in batch { item.done.resume() }
            } catch {
                for item in batch { item.done.resume(throwing: error) }
            }
        }
    }
}

/// Threads for the server's file work (writes, syncs, hashing whole objects): long blocking
/// calls that must not hold the event loops, the concurrency pool, or NIO's small shared pool.
enum FileWork {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 16)
        pool.start()
        return pool
    }()
}
