import Foundation
import TroveCore

/// A store that keeps its objects in memory: for tests, and as the smallest complete example
/// of the contract. `reachable = false` makes every call fail as unavailable.
public final class MemoryStore: Store, @unchecked Sendable {
    public let identity: StoreIdentity
    public var location: String { "memory:\(identity.label)" }
    private let lock = NSLock()
    private var objects: [ContentID: [UInt8]] = [:]
    private var quarantined: [String: [UInt8]] = [:]
    private var records: [RecordName: [UInt8]] = [:]
    private var down = false

    public init(label: String = "memory") {
        identity = StoreIdentity(id: StoreIdentity.newID(), label: label, created: Date(), kind: .local, copies: 1, filesystemUUID: nil)
    }

    /// Whether calls reach the store.
    public var reachable: Bool {
        get { lock.withLock { !down } }
        set { lock.withLock { down = !newValue } }
    }

    func locked<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            guard !down else { throw StoreError(.unavailable, "\(location) is not reachable (switched off).") }
            return try body()
        }
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? { try locked { objects[id].map { UInt64($0.count) } } }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        try locked { MemoryWriter(store: self, id: id) }
    }

    func publish(_ bytes: [UInt8], as id: ContentID) throws { try locked { objects[id] = objects[id] ?? bytes } }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        try locked {
            guard let bytes = objects[id] else { throw StoreError(.notFound, "\(location) does not hold \(id).") }
            let range = range.map { $0.clamped(to: 0..<UInt64(bytes.count)) } ?? 0..<UInt64(bytes.count)
            return MemoryReader(store: self, bytes: bytes, range: range)
        }
    }

    public func quarantine(_ id: ContentID) throws -> String {
        try locked {
            guard let bytes = objects.removeValue(forKey: id) else { throw StoreError(.notFound, "\(location) does not hold \(id).") }
            let name = "\(id).\(Int(Date().timeIntervalSince1970))"
            quarantined[name] = bytes
            return "\(location)/corrupt/\(name)"
        }
    }

    public func remove(_ id: ContentID) throws { try locked { objects[id] = nil } }

    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        let ids = try locked { Array(objects.keys) }
        for id in ids where try !body(id) { return }
    }

    public func space() throws -> StoreSpace? { try locked { nil } }
    public func isReadOnly() -> Bool { false }
    public func disk() -> DiskIdentity.Disk? { DiskIdentity.Disk(id: "memory:\(identity.id)", name: "memory") }
    public func cleanTemporary() throws -> Int { try locked { 0 } }
    public func readRecord(_ name: RecordName) throws -> [UInt8]? { try locked { records[name] } }
    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try locked { records[name] = bytes } }
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool {
        try locked {
            guard records[name] == nil else { return false }
            records[name] = bytes
            return true
        }
    }
    public func removeRecord(_ name: RecordName) throws { try locked { records[name] = nil } }
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        for item in items { try item.writer.commit(as: item.id) }
    }

    /// Changes one byte of a stored object (tests of corruption).
    public func flip(_ id: ContentID, at offset: Int) {
        lock.withLock { objects[id]?[offset] ^= 0x01 }
    }

    final class MemoryWriter: ObjectWriter {
        let store: MemoryStore
        let id: ContentID?
        var bytes: [UInt8] = []
        init(store: MemoryStore, id: ContentID?) { self.store = store; self.id = id }
        func write(_ bytes: UnsafeRawBufferPointer) throws {
            guard store.reachable else { throw StoreError(.unavailable, "\(store.location) is not reachable (switched off).") }
            self.bytes.append(contentsOf: bytes)
        }
        func commit(as id: ContentID) throws {
            precondition(self.id == nil || self.id == id, "a writer commits under the ID it was made for")
            try store.publish(bytes, as: id)
            bytes = []
        }
        func abort() { bytes = [] }
    }

    final class MemoryReader: ObjectReader {
        let store: MemoryStore
        let bytes: [UInt8]
        var position: Int
        let end: Int
        init(store: MemoryStore, bytes: [UInt8], range: Range<UInt64>) {
            self.store = store
            self.bytes = bytes
            position = Int(range.lowerBound)
            end = Int(range.upperBound)
        }
        var size: UInt64 { UInt64(bytes.count) }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            guard store.reachable else { throw StoreError(.unavailable, "\(store.location) is not reachable (switched off).") }
            let count = min(buffer.count, end - position)
            guard count > 0 else { return 0 }
            bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + position, byteCount: count) }
            position += count
            return count
        }
        func close() {}
    }
}
