import Foundation
import TroveCore
import TroveStorage

/// A real store with faults injected: writes that fail or fill the disk after N bytes, commits
/// that fail, reads that return flipped bits or media errors, a store that vanishes mid-copy or
/// never answers, slow calls, failing listings and removals. It forwards batches to the store
/// it wraps, so wrapping never changes how writes are committed.
public final class FaultyStore: Store, @unchecked Sendable {
    public enum Fault: Sendable {
        /// Writes fail with "no space" once this many bytes were written (across objects).
        case fullAfter(bytes: Int)
        /// Every write fails with a media error.
        case failWrites
        /// Every commit fails as unavailable (the connection dropped at the last step).
        case failCommits
        /// The store commits each object alone, as object storage and peers do, and refuses the
        /// commit of this one object (one upload refused); the others land.
        case failCommitOf(ContentID)
        /// Reads flip one bit at this offset of every object.
        case flipBit(offset: Int)
        /// Reads fail with a media error at this offset (a bad sector).
        case mediaErrorAt(offset: Int)
        /// Reads fail as unavailable after this many bytes (unplugged mid-copy).
        case vanishAfter(bytes: Int)
        /// Every call fails as unavailable (a server that is down).
        case unavailable
        /// Listing fails as unavailable after this many IDs.
        case failListAfter(ids: Int)
        /// Deleting an object deletes it, then fails (the process died right after the unlink).
        case dieAfterRemove
        /// Every call waits this long first (a slow link).
        case latency(seconds: Double)
    }

    public let base: any Store
    private let lock = NSLock()
    private let faultLock = NSLock()
    private var written = 0
    private var currentFault: Fault
    /// The fault injected now; a test may change it while the store is in use (a drive that
    /// goes away in the middle of a read).
    public var fault: Fault {
        get { faultLock.withLock { currentFault } }
        set { faultLock.withLock { currentFault = newValue } }
    }

    /// Called with each object opened for reading (tests count where reads went).
    let onRead: (@Sendable (ContentID) -> Void)?

    public init(_ base: any Store, fault: Fault, onRead: (@Sendable (ContentID) -> Void)? = nil) {
        self.base = base
        currentFault = fault
        self.onRead = onRead
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }

    /// Applies the faults every call shares: latency and a store that is down.
    func call() throws {
        switch fault {
        case .latency(let seconds): Thread.sleep(forTimeInterval: seconds)
        case .unavailable: throw StoreError(.unavailable, "store '\(identity.label)' does not answer (injected)")
        default: break
        }
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? { try call(); return try base.objectSize(id) }
    public func quarantine(_ id: ContentID) throws -> String { try call(); return try base.quarantine(id) }
    public func remove(_ id: ContentID) throws {
        try call()
        try base.remove(id)
        if case .dieAfterRemove = fault { throw StoreError(.media, "killed right after deleting \(id) (injected)") }
    }
    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        try call()
        var count = 0
        try base.listObjects { id in
            if case .failListAfter(let limit) = fault, count >= limit {
                throw StoreError(.unavailable, "store '\(identity.label)' stopped answering while listing (injected)")
            }
            count += 1
            return try body(id)
        }
    }
    public func space() throws -> StoreSpace? { try call(); return try base.space() }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    /// No: injected read faults must reach the read-back of a new copy.
    public var checksWritesOnArrival: Bool { false }
    public var commitsEachAlone: Bool {
        if case .failCommitOf = fault { return true }
        return base.commitsEachAlone
    }
    public var hostMachine: String? { base.hostMachine }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try base.cleanTemporary() }
    public func readRecord(_ name: RecordName) throws -> [UInt8]? { try call(); return try base.readRecord(name) }
    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try call(); try base.writeRecord(name, bytes) }
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool { try call(); return try base.createRecord(name, bytes) }
    public func removeRecord(_ name: RecordName) throws { try call(); try base.removeRecord(name) }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        try call()
        return FaultyWriter(store: self, base: try base.makeWriter(for: id, expectedSize: expectedSize))
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        onRead?(id)
        try call()
        return FaultyReader(store: self, base: try base.openReader(id, range: range, fromMedia: fromMedia),
                            offset: Int(range?.lowerBound ?? 0))
    }

    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        try call()
        if case .failCommits = fault { throw StoreError(.unavailable, "store '\(identity.label)' dropped the connection at commit (injected)") }
        if case .failCommitOf = fault {
            // Each alone, the refused one last: the others are in place when the batch fails.
            var refused: Error?
            for item in items {
                do { try item.writer.commit(as: item.id) } catch { refused = refused ?? error }
            }
            if let refused { throw refused }
            return
        }
        try base.commitBatch(items.map { item in ((item.writer as? FaultyWriter)?.base ?? item.writer, item.id) })
    }

    func admit(write count: Int) throws {
        lock.lock(); defer { lock.unlock() }
        switch fault {
        case .failWrites:
            throw StoreError(.media, "Input/output error on store '\(identity.label)' (injected)")
        case .fullAfter(let limit):
            if written + count > limit {
                throw StoreError(.noSpace, "The drive holding store '\(identity.label)' is full (injected)")
            }
        default: break
        }
        written += count
    }

    final class FaultyWriter: ObjectWriter {
        let store: FaultyStore
        let base: ObjectWriter
        init(store: FaultyStore, base: ObjectWriter) { self.store = store; self.base = base }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            try store.admit(write: bytes.count)
            try base.write(bytes)
        }
        func commit(as id: ContentID) throws {
            if case .failCommits = store.fault {
                base.abort()
                throw StoreError(.unavailable, "store '\(store.identity.label)' dropped the connection at commit (injected)")
            }
            if case .failCommitOf(let refused) = store.fault, refused == id {
                base.abort()
                throw StoreError(.media, "store '\(store.identity.label)' refused the upload of \(id) (injected)")
            }
            try base.commit(as: id)
        }
        func abort() { base.abort() }
    }

    final class FaultyReader: ObjectReader {
        let store: FaultyStore
        let base: ObjectReader
        /// Offset in the object of the next byte read.
        var offset: Int
        init(store: FaultyStore, base: ObjectReader, offset: Int) { self.store = store; self.base = base; self.offset = offset }
        var size: UInt64 { base.size }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if case .vanishAfter(let limit) = store.fault, offset >= limit {
                throw StoreError(.unavailable, "store '\(store.identity.label)' vanished (injected)")
            }
            let n = try base.read(into: buffer)
            if case .mediaErrorAt(let at) = store.fault, at >= offset, at < offset + n {
                throw StoreError(.media, "Input/output error reading store '\(store.identity.label)' (injected)")
            }
            if case .flipBit(let at) = store.fault, at >= offset, at < offset + n { buffer[at - offset] ^= 0x01 }
            offset += n
            return n
        }
        func close() { base.close() }
    }
}
