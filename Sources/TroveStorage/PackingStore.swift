import Foundation
import TroveCore

/// Keeps a store's small objects in packs (docs/packs.md): what is committed in a batch below
/// `threshold` bytes is written as packs of about `packSize`, each an ordinary object of the
/// store it wraps, so every kind of store (a folder, S3, an encrypted store, a peer, a grid)
/// gets them through its own atomic commit. Which object lives where is kept in a `PackIndex`;
/// the packs' trailers can rebuild it (`reindex`). To the engine it is a store like any other:
/// an object is read, verified, quarantined and removed by its ID, whether packed or loose.
///
/// A pack is committed first and its index rows after, in one transaction: a crash in between
/// leaves a pack nothing points to, which the store lists as an object no file needs (gc
/// deletes it). A reader never sees part of a pack: the store's commit is atomic.
public class PackingStore: Store, @unchecked Sendable {
    /// The store the packs (and the larger, loose objects) are written to.
    public let base: any Store
    /// The store's ID, the index's key.
    public let storeID: String
    let index: any PackIndex
    /// Objects smaller than this go into packs when they are committed in a batch.
    public let threshold: UInt64
    /// Packs are closed at about this size.
    public let packSize: UInt64
    /// A batch with fewer small objects than this commits them loose, as git keeps loose
    /// objects: a pack of a handful saves little, and many tiny packs would each need rewriting
    /// as their objects go. `trove store repack` gathers loose objects into packs later.
    public let minimumPackObjects: Int

    /// The threshold for a store that commits each object alone (S3, a peer): a PUT or an
    /// upload costs a round trip, worth several MiB of transfer.
    public static let remoteThreshold: UInt64 = 1 << 20
    /// The threshold for a drive: a file, a rename and a directory entry cost about what a
    /// quarter MiB takes to write (Benchmarks/RESULTS.md, issue 14).
    public static let driveThreshold: UInt64 = 256 << 10
    public static let defaultPackSize: UInt64 = 16 << 20

    /// The threshold for objects on `store`.
    public static func threshold(for store: any Store) -> UInt64 {
        store.commitsEachAlone ? remoteThreshold : driveThreshold
    }

    public init(_ base: any Store, storeID: String, index: any PackIndex,
                threshold: UInt64? = nil, packSize: UInt64 = PackingStore.defaultPackSize,
                minimumPackObjects: Int = 8) {
        self.base = base
        self.minimumPackObjects = minimumPackObjects
        self.storeID = storeID
        self.index = index
        self.threshold = threshold ?? Self.threshold(for: base)
        self.packSize = packSize
    }

    public var identity: StoreIdentity { base.identity }
    public var location: String { base.location }
    public var checksWritesOnArrival: Bool { base.checksWritesOnArrival }
    public var hostMachine: String? { base.hostMachine }
    public var commitsEachAlone: Bool { base.commitsEachAlone }
    /// A small object waits for its batch, to go into a pack with the others.
    public func commitsAlone(_ writer: any ObjectWriter) -> Bool { !(writer is BufferedWriter) && base.commitsEachAlone }
    public var remoteVerifier: RemoteVerifier? { base.remoteVerifier.map { PackedRemoteVerifier(store: self, base: $0) } }
    public func space() throws -> StoreSpace? { try base.space() }
    public func isReadOnly() -> Bool { base.isReadOnly() }
    public func disk() -> DiskIdentity.Disk? { base.disk() }
    public func cleanTemporary() throws -> Int { try base.cleanTemporary() }
    public func readRecord(_ name: RecordName) throws -> [UInt8]? { try base.readRecord(name) }
    public func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try base.writeRecord(name, bytes) }
    public func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool { try base.createRecord(name, bytes) }
    public func removeRecord(_ name: RecordName) throws { try base.removeRecord(name) }

    /// Where `id` is packed here, or nil when it is not in a pack.
    public func packed(_ id: ContentID) throws -> PackedObject? {
        do { return try index.packedObject(store: storeID, id: id) } catch {
            throw StoreError(.unavailable, "The pack index of \(location) cannot be read: \(error). Check the library folder (`trove check`), then retry.")
        }
    }

    public func objectSize(_ id: ContentID) throws -> UInt64? {
        if let packed = try packed(id) { return packed.length }
        return try base.objectSize(id)
    }

    public func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter {
        if let size = expectedSize, size < threshold { return BufferedWriter(store: self, capacity: Int(size)) }
        return try base.makeWriter(for: id, expectedSize: expectedSize)
    }

    public func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        guard let packed = try packed(id) else { return try base.openReader(id, range: range, fromMedia: fromMedia) }
        let wanted = range.map { $0.clamped(to: 0..<packed.length) } ?? 0..<packed.length
        let reader = try base.openReader(packed.pack, range: packed.offset + wanted.lowerBound..<packed.offset + wanted.upperBound,
                                         fromMedia: fromMedia)
        return PackedReader(base: reader, size: packed.length, offset: packed.offset)
    }

    /// A packed object is not moved: its entry goes (and it is recorded dead in its pack), and
    /// its bytes stay in the pack until gc rewrites it. The pack's other objects are untouched.
    public func quarantine(_ id: ContentID) throws -> String {
        guard let packed = try packed(id) else { return try base.quarantine(id) }
        try remove([id])
        return "bytes \(packed.offset)–\(packed.offset + packed.length) of pack \(packed.pack) in \(location) (left in place until `trove gc` rewrites the pack)"
    }

    public func remove(_ id: ContentID) throws { try remove([id]) }

    /// Deletes objects: loose ones from the store; packed ones are recorded dead in their pack
    /// (`dead-PACK`, one record write per pack, before the index forgets them), so a pack index
    /// rebuilt from the trailers never brings them back.
    public func remove(_ ids: [ContentID]) throws {
        var byPack: [ContentID: [ContentID]] = [:]
        for id in ids {
            if let packed = try packed(id) { byPack[packed.pack, default: []].append(id) } else { try base.remove(id) }
        }
        guard !byPack.isEmpty else { return }
        for (pack, dead) in byPack {
            let known = try tombstones(of: pack)
            let all = known.union(dead)
            if all.count > known.count { try base.writeRecord(Self.tombstoneName(pack), Self.encodeTombstones(all)) }
        }
        try indexCall { try index.removePackedObjects(store: storeID, ids: byPack.values.flatMap { $0 }) }
    }

    /// The record that lists a pack's dead objects: named by a hash of the pack's ID, so an
    /// encrypted store's record names show no content ID.
    static func tombstoneName(_ pack: ContentID) -> RecordName {
        RecordName("dead-" + Base32.encode(Array(ContentHash.hash(Array("trove/dead/v1".utf8) + [0] + pack.bytes).id.bytes.prefix(20))))!
    }
    static let tombstoneMagic = Array("TROVDEAD".utf8)

    /// The objects recorded dead in a pack.
    func tombstones(of pack: ContentID) throws -> Set<ContentID> {
        guard let bytes = try base.readRecord(Self.tombstoneName(pack)), bytes.count >= 8, Array(bytes.prefix(8)) == Self.tombstoneMagic,
              (bytes.count - 8) % 32 == 0 else { return [] }
        return Set(stride(from: 8, to: bytes.count, by: 32).compactMap { ContentID(bytes: Array(bytes[$0..<$0 + 32])) })
    }

    static func encodeTombstones(_ ids: Set<ContentID>) -> [UInt8] {
        ids.sorted().reduce(into: tombstoneMagic) { $0 += $1.bytes }
    }

    /// Packed objects from the index, then the loose objects of the store (packs themselves,
    /// and loose objects that are also packed, left out).
    public func listObjects(_ body: (ContentID) throws -> Bool) throws {
        var after: ContentID?
        while true {
            let page: [ContentID]
            do { page = try index.packedObjects(store: storeID, after: after, limit: 10_000) } catch {
                throw StoreError(.unavailable, "The pack index of \(location) cannot be read: \(error). Check the library folder (`trove check`), then retry.")
            }
            for id in page where try !body(id) { return }
            guard page.count == 10_000, let last = page.last else { break }
            after = last
        }
        let packs = Set(try packSummaries().map(\.pack))
        try base.listObjects { id in
            if try packs.contains(id) || packed(id) != nil { return true }
            return try body(id)
        }
    }

    /// The store's packs, with how much of each is still live.
    public func packSummaries() throws -> [PackSummary] {
        do { return try index.packs(store: storeID) } catch {
            throw StoreError(.unavailable, "The pack index of \(location) cannot be read: \(error). Check the library folder (`trove check`), then retry.")
        }
    }

    /// Small objects go into packs; the rest are committed by the store as they are. When
    /// anything fails, every writer not yet committed is aborted (nothing is left half-made).
    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        let buffered = items.filter { $0.writer is BufferedWriter }.count
        var small: [(id: ContentID, bytes: [UInt8])] = []
        var other: [(writer: any ObjectWriter, id: ContentID)] = []
        for (index, item) in items.enumerated() {
            if buffered >= minimumPackObjects, let writer = item.writer as? BufferedWriter {
                small.append((item.id, writer.take()))
            } else if let writer = item.writer as? BufferedWriter {
                do { other.append((try writer.loose(as: item.id), item.id)) } catch {
                    for done in other { done.writer.abort() }
                    for rest in items[(index + 1)...] { rest.writer.abort() }
                    throw error
                }
            } else {
                other.append(item)
            }
        }
        if !other.isEmpty {
            if base.commitsEachAlone { try base.commitIndependently(other) } else { try base.commitBatch(other) }
        }
        if !small.isEmpty { try writePacks(small) }
    }

    /// Writes objects as packs of about `packSize` and records them. Objects already packed
    /// here are not written again.
    func writePacks(_ objects: [(id: ContentID, bytes: [UInt8])]) throws {
        let present = try indexCall { try index.packedAmong(store: storeID, ids: objects.map(\.id)) }
        var seen = Set<ContentID>()
        let fresh = objects.filter { !present.contains($0.id) && seen.insert($0.id).inserted }
        // Each pack is read back from the medium whole and checked against its ID (one read
        // instead of one per object): every object in it is then on the medium as written.
        let contents = try commitPacks(fresh)
        do { try index.addPacks(store: storeID, contents) } catch {
            throw StoreError(.unavailable, "The packs were written to \(location) but could not be recorded in the pack index: \(error). Nothing counts them yet; the next `trove gc` removes them. Check the library folder's free space (`trove check`), then retry.")
        }
        let verified = Set(contents.flatMap { $0.entries.map(\.id) })
        lock.withLock { readBack = verified }
    }

    /// The objects of the packs the last batch wrote, read back whole (`verifiedOnCommit`).
    private var readBack = Set<ContentID>()
    private let lock = NSLock()

    public func verifiedOnCommit(_ id: ContentID) -> Bool {
        base.checksWritesOnArrival || lock.withLock { readBack.remove(id) != nil }
    }

    /// Splits objects of these lengths, in order, into packs of about `packSize`: a pack is
    /// closed once it reaches the size.
    static func groups(_ lengths: [UInt64], packSize: UInt64) -> [[Int]] {
        var groups: [[Int]] = []
        var current: [Int] = []
        var bytes: UInt64 = 0
        for (index, length) in lengths.enumerated() {
            current.append(index)
            bytes += length
            if bytes >= packSize {
                groups.append(current)
                current = []
                bytes = 0
            }
        }
        if !current.isEmpty { groups.append(current) }
        return groups
    }

    /// Holds a small object's bytes until it is committed into a pack (alone, it is committed
    /// as a loose object).
    final class BufferedWriter: ObjectWriter {
        let store: PackingStore
        private var bytes: [UInt8]
        init(store: PackingStore, capacity: Int) {
            self.store = store
            bytes = []
            bytes.reserveCapacity(capacity)
        }
        func write(_ chunk: UnsafeRawBufferPointer) throws { bytes += chunk }
        func commit(as id: ContentID) throws {
            let writer = try loose(as: id)
            do { try writer.commit(as: id) } catch {
                writer.abort()
                throw error
            }
        }
        /// The bytes handed to a writer of the store itself, not yet committed.
        func loose(as id: ContentID) throws -> any ObjectWriter {
            let writer = try store.base.makeWriter(for: id, expectedSize: UInt64(bytes.count))
            do { try bytes.withUnsafeBytes { try writer.write($0) } } catch {
                writer.abort()
                throw error
            }
            bytes = []
            return writer
        }
        func abort() { bytes = [] }
        func take() -> [UInt8] {
            defer { bytes = [] }
            return bytes
        }
    }

    /// An object read from its pack: offsets as the object's own.
    final class PackedReader: ObjectReader {
        let base: any ObjectReader
        let size: UInt64
        let offset: UInt64
        init(base: any ObjectReader, size: UInt64, offset: UInt64) {
            self.base = base
            self.size = size
            self.offset = offset
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            do { return try base.read(into: buffer) } catch let corrupt as ObjectCorrupt {
                throw ObjectCorrupt(offset: corrupt.offset > offset ? corrupt.offset - offset : 0, reason: corrupt.reason)
            }
        }
        func close() { base.close() }
    }
}

/// Verify on the host for a packed store: loose objects are asked about as they are, packed
/// ones through their packs (a pack that hashes to its ID holds every object as written). The
/// objects of a pack the host finds corrupt are read and hashed here, to name the bad ones.
struct PackedRemoteVerifier: RemoteVerifier {
    let store: PackingStore
    let base: RemoteVerifier

    func verifyOnHost(_ objects: [(id: ContentID, size: UInt64)]) throws -> [ContentID: RemoteVerdict] {
        var loose: [(id: ContentID, size: UInt64)] = []
        var byPack: [ContentID: [ContentID]] = [:]
        var packSizes: [ContentID: UInt64] = [:]
        for object in objects {
            guard let packed = try store.packed(object.id) else { loose.append(object); continue }
            byPack[packed.pack, default: []].append(object.id)
            if packSizes[packed.pack] == nil {
                packSizes[packed.pack] = try store.base.objectSize(packed.pack) ?? 0
            }
        }
        var verdicts = loose.isEmpty ? [:] : try base.verifyOnHost(loose)
        let packVerdicts = byPack.isEmpty ? [:] : try base.verifyOnHost(packSizes.map { ($0.key, $0.value) })
        for (pack, members) in byPack {
            switch packVerdicts[pack] ?? .missing {
            case .good: for id in members { verdicts[id] = .good }
            case .missing: for id in members { verdicts[id] = .missing }
            case .corrupt:
                for id in members { verdicts[id] = try hashesToItsID(id) ? .good : .corrupt }
            }
        }
        return verdicts
    }

    func hashesToItsID(_ id: ContentID) throws -> Bool {
        do { return ContentHash.hash(try store.readWhole(id, fromMedia: true)).id == id } catch is ObjectCorrupt { return false }
    }
}

/// A packing store over a grid: an object's shares are its pack's shares, so auditing a packed
/// object audits (and repairs) its pack. A pack's audit is remembered for a minute, since
/// verify and the grid pass ask about each object of a pack in turn.
public final class PackingShareStore: PackingStore, ShareStore, @unchecked Sendable {
    let shares: any ShareStore
    private let auditLock = NSLock()
    private var audited: [String: (audit: ShareAudit, at: Date)] = [:]

    public init(_ base: any ShareStore, storeID: String, index: any PackIndex) {
        shares = base
        super.init(base, storeID: storeID, index: index)
    }

    public var fullWeight: Int { shares.fullWeight }

    public func audit(_ id: ContentID, fromMedia: Bool, repair: ShareRepair) throws -> ShareAudit {
        guard let packed = try packed(id) else { return try shares.audit(id, fromMedia: fromMedia, repair: repair) }
        let key = "\(packed.pack) \(fromMedia) \(repair)"
        if let cached = auditLock.withLock({ audited[key] }), Date().timeIntervalSince(cached.at) < 60 { return cached.audit }
        let audit = try shares.audit(packed.pack, fromMedia: fromMedia, repair: repair)
        auditLock.withLock { audited[key] = (audit, Date()) }
        return audit
    }
}
