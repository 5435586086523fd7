import Foundation
import TroveCore
import TroveStorage

/// Holds reads and writes of the store it wraps to a bandwidth limit (`store set --limit`):
/// one token bucket for writes and one for reads, shared by every lane.
public final class ThrottledStore: Store, @unchecked Sendable {
    public let base: any Store
    private let lock = NSLock()
    private var writes: TokenBucket
    private var reads: TokenBucket
    let sleep: @Sendable (TimeInterval) -> Void
    let now: @Sendable () -> Date

    /// `now` and `sleep` are injectable so tests move time without waiting.
    public init(_ base: any Store, bytesPerSecond: Double, now: @escaping @Sendable () -> Date = { Date() },
                sleep: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        self.base = base
        writes = TokenBucket(rate: bytesPerSecond)
        reads = TokenBucket(rate: bytesPerSecond)
        self.now = now
        self.sleep = sleep
    }

    func pace(_ bytes: Int, write: Bool) {
        lock.lock()
        let wait = write ? writes.take(bytes, now: now()) : reads.take(bytes, now: now())
        lock.unlock()
        if wait > 0 { sleep(wait) }
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }
    public func objectSize(_ id: ContentID) throws -> UInt64? { try base.objectSize(id) }
    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        ThrottledWriter(store: self, base: try base.makeWriter(for: id, expectedSize: expectedSize))
    }
    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        ThrottledReader(store: self, base: try base.openReader(id, range: range, fromMedia: fromMedia))
    }
    public func quarantine(_ id: ContentID) throws -> String { try base.quarantine(id) }
    public func remove(_ id: ContentID) throws { try base.remove(id) }
    public func listObjects(_ body: (ContentID) throws -> Bool) throws { try base.listObjects(body) }
    public func space() throws -> StoreSpace? { try base.space() }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    public var checksWritesOnArrival: Bool { base.checksWritesOnArrival }
    public var hostMachine: String? { base.hostMachine }
    public var commitsEachAlone: Bool { base.commitsEachAlone }
    public var remoteVerifier: RemoteVerifier? { base.remoteVerifier }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try base.cleanTemporary() }
    public func readRecord(_ name: RecordName) throws -> [UInt8]? { try base.readRecord(name) }
    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try base.writeRecord(name, bytes) }
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool { try base.createRecord(name, bytes) }
    public func removeRecord(_ name: RecordName) throws { try base.removeRecord(name) }
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        try base.commitBatch(items.map { (($0.writer as? ThrottledWriter)?.base ?? $0.writer, $0.id) })
    }

    final class ThrottledWriter: ObjectWriter {
        let store: ThrottledStore
        let base: ObjectWriter
        init(store: ThrottledStore, base: ObjectWriter) { self.store = store; self.base = base }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            store.pace(bytes.count, write: true)
            try base.write(bytes)
        }
        func commit(as id: ContentID) throws { try base.commit(as: id) }
        func abort() { base.abort() }
    }

    final class ThrottledReader: ObjectReader {
        let store: ThrottledStore
        let base: ObjectReader
        init(store: ThrottledStore, base: ObjectReader) { self.store = store; self.base = base }
        var size: UInt64 { base.size }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            let n = try base.read(into: buffer)
            store.pace(n, write: false)
            return n
        }
        func close() { base.close() }
    }
}
