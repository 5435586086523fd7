import Foundation
import TroveCore
import TroveStorage

/// A real store with faults injected: writes that fail or fill the disk after N bytes, reads
/// that return flipped bits, and a store that disappears mid-copy.
public final class FaultyStore: Store, @unchecked Sendable {
    public enum Fault: Sendable {
        /// Writes fail with "disk full" once this many bytes were written (across objects).
        case fullAfter(bytes: Int)
        /// Every write fails with an I/O error.
        case failWrites
        /// Reads flip one bit at this offset of every object.
        case flipBit(offset: Int)
        /// Reads fail with "not connected" after this many bytes (unplugged mid-copy).
        case vanishAfter(bytes: Int)
        /// Deleting an object deletes it, then fails (the process died right after the unlink).
        case dieAfterRemove
    }

    public let base: any Store
    public let fault: Fault
    private let lock = NSLock()
    private var written = 0

    public init(_ base: any Store, fault: Fault) {
        self.base = base
        self.fault = fault
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }
    public func objectSize(_ id: ContentID) throws -> UInt64? { try base.objectSize(id) }
    public func quarantine(_ id: ContentID) throws -> String { try base.quarantine(id) }
    public func remove(_ id: ContentID) throws {
        try base.remove(id)
        if case .dieAfterRemove = fault { throw TroveError(.io, "killed right after deleting \(id) (injected)") }
    }
    public func objectIDs() throws -> [ContentID] { try base.objectIDs() }
    public func space() throws -> (capacity: Int64, free: Int64) { try base.space() }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try base.cleanTemporary() }

    public func makeWriter(expectedSize: UInt64?) throws -> ObjectWriter {
        FaultyWriter(store: self, base: try base.makeWriter(expectedSize: expectedSize))
    }

    public func openReader(_ id: ContentID, fromMedia: Bool) throws -> ObjectReader {
        FaultyReader(store: self, base: try base.openReader(id, fromMedia: fromMedia))
    }

    func admit(write count: Int) throws {
        lock.lock(); defer { lock.unlock() }
        switch fault {
        case .failWrites:
            throw TroveError(.io, "Input/output error on store '\(identity.label)' (injected)")
        case .fullAfter(let limit):
            if written + count > limit {
                throw TroveError(.diskFull, "The drive holding store '\(identity.label)' is full (injected)")
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
        func commit(as id: ContentID) throws { try base.commit(as: id) }
        func abort() { base.abort() }
    }

    final class FaultyReader: ObjectReader {
        let store: FaultyStore
        let base: ObjectReader
        var offset = 0
        init(store: FaultyStore, base: ObjectReader) { self.store = store; self.base = base }
        var size: UInt64 { base.size }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if case .vanishAfter(let limit) = store.fault, offset >= limit {
                throw TroveError(.storeNotConnected, "store '\(store.identity.label)' vanished (injected)")
            }
            let n = try base.read(into: buffer)
            if case .flipBit(let at) = store.fault, at >= offset, at < offset + n { buffer[at - offset] ^= 0x01 }
            offset += n
            return n
        }
        func close() { base.close() }
    }
}

extension FaultyStore {
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        try base.commitBatch(items.map { item in ((item.writer as? FaultyWriter)?.base ?? item.writer, item.id) })
    }
}
