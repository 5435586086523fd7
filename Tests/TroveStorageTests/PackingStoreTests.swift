import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveTesting

/// Packs through the Store contract, on every kind of store (docs/packs.md): what a batch of
/// small objects becomes, how each object reads, is quarantined, removed and listed, and how
/// the index is rebuilt from the trailers and mostly dead packs are rewritten.
@Suite(.serialized) struct PackingStoreTests {
    /// A pack index in a temporary catalog.
    final class Index {
        let folder = TempFolder("packindex")
        let catalog: SQLiteCatalog
        init() throws { catalog = try SQLiteCatalog(path: folder.at("catalog.sqlite")) }
    }

    static func objects(_ count: Int, seed: UInt64) -> [(id: ContentID, bytes: [UInt8])] {
        (0..<count).map { index in
            let bytes = testBytes(200 + (index * 997) % 6_000, seed: seed &+ UInt64(index))
            return (StoreConformance.idOf(bytes), bytes)
        }
    }

    static func commit(_ objects: [(id: ContentID, bytes: [UInt8])], to store: any Store) throws {
        var items: [(writer: any ObjectWriter, id: ContentID)] = []
        for object in objects {
            let writer = try store.makeWriter(for: object.id, expectedSize: UInt64(object.bytes.count))
            try object.bytes.withUnsafeBytes { try writer.write($0) }
            items.append((writer, object.id))
        }
        try store.commitBatch(items)
    }

    @Test(arguments: StoreKindUnderTest.allCases)
    func packsKeepEveryObjectReadableOnEveryKind(_ kind: StoreKindUnderTest) throws {
        let subject = try kind.make()
        let index = try Index()
        let store = PackingStore(subject.store, storeID: "store-a", index: index.catalog, packSize: 40_000)
        let small = Self.objects(30, seed: 7)
        let large = testBytes(Int(PackingStore.remoteThreshold) + 5, seed: 99)
        try Self.commit(small + [(StoreConformance.idOf(large), large)], to: store)

        // The store itself holds a few packs and the large object, not 31 objects.
        let held = try subject.store.objectIDs()
        let packs = try store.packSummaries()
        #expect(packs.count >= 2 && packs.count <= 6)
        #expect(Set(held) == Set(packs.map(\.pack) + [StoreConformance.idOf(large)]))
        #expect(packs.allSatisfy { $0.liveBytes > 0 && $0.liveBytes < $0.size })

        for object in small {
            #expect(try StoreConformance.get(object.id, from: store) == object.bytes)
            #expect(try store.objectSize(object.id) == UInt64(object.bytes.count))
            let end = UInt64(min(object.bytes.count, 150))
            #expect(try StoreConformance.get(object.id, from: store, range: 17..<end) == Array(object.bytes[17..<Int(end)]))
        }
        #expect(try StoreConformance.get(StoreConformance.idOf(large), from: store) == large)
        // Listed as objects; the packs themselves are not.
        #expect(Set(try store.objectIDs()) == Set(small.map(\.id) + [StoreConformance.idOf(large)]))

        // The index is rebuilt from the trailers alone.
        let fresh = try Index()
        let again = PackingStore(subject.store, storeID: "store-a", index: fresh.catalog)
        let found = try again.reindex()
        #expect(found.packs == packs.count && found.objects == small.count)
        for object in small { #expect(try StoreConformance.get(object.id, from: again) == object.bytes) }

        // One quarantined object goes; its neighbours in the pack stay.
        let where3 = try #require(try store.packed(small[3].id))
        let moved = try store.quarantine(small[3].id)
        #expect(moved.contains(where3.pack.description))
        #expect(StoreConformance.kind { _ = try store.openReader(small[3].id) } == .notFound)
        #expect(try store.objectSize(small[3].id) == nil)
        for object in small where object.id != small[3].id { #expect(try StoreConformance.get(object.id, from: store) == object.bytes) }

        // Most objects removed: gc's rewrite keeps the rest and deletes the old packs.
        let kept = small.enumerated().filter { $0.offset % 5 == 0 && $0.offset != 3 }.map(\.element)
        for object in small where !kept.contains(where: { $0.id == object.id }) { try store.remove(object.id) }
        let report = try store.compact()
        #expect(report.corrupt.isEmpty)
        #expect(report.packsRemoved == packs.count)
        #expect(report.objectsMoved == kept.count)
        #expect(report.bytesFreed > 0)
        for object in kept { #expect(try StoreConformance.get(object.id, from: store) == object.bytes) }
        let after = try subject.store.objectIDs()
        #expect(packs.allSatisfy { !after.contains($0.pack) })
        #expect(Set(try store.objectIDs()) == Set(kept.map(\.id) + [StoreConformance.idOf(large)]))
        withExtendedLifetime((subject, index, fresh)) {}
    }

    @Test func aFewSmallObjectsStayLooseAndRepackGathersThem() throws {
        let subject = try StoreKindUnderTest.local.make()
        let index = try Index()
        let store = PackingStore(subject.store, storeID: "s", index: index.catalog)
        let objects = Self.objects(20, seed: 3)
        for group in stride(from: 0, to: 20, by: 4) { try Self.commit(Array(objects[group..<group + 4]), to: store) }
        #expect(try store.packSummaries().isEmpty)
        #expect(try subject.store.objectIDs().count == 20)
        let repacker = PackingStore.Repacker(store)
        for object in objects { try repacker.add(object.id, size: UInt64(object.bytes.count)) }
        let report = try repacker.finish()
        #expect(report.objectsMoved == 20 && report.packsWritten == 1)
        #expect(try subject.store.objectIDs() == store.packSummaries().map(\.pack))
        for object in objects { #expect(try StoreConformance.get(object.id, from: store) == object.bytes) }
        withExtendedLifetime((subject, index)) {}
    }

    /// A crash or failure at each step of writing a pack: the writer's error reaches the caller,
    /// no object is indexed unless its pack is whole in the store, and a pack committed but not
    /// recorded is listed as an object nothing needs (gc removes it).
    @Test func aFailureAtEachStepOfWritingAPackLeavesNothingHalfDone() throws {
        let objects = Self.objects(12, seed: 5)
        for fault in [FaultyStore.Fault.failWrites, .fullAfter(bytes: 10_000), .failCommits] {
            let subject = try StoreKindUnderTest.local.make()
            let index = try Index()
            let store = PackingStore(FaultyStore(subject.store, fault: fault), storeID: "s", index: index.catalog)
            #expect(throws: StoreError.self, "\(fault)") { try Self.commit(objects, to: store) }
            #expect(try store.packSummaries().isEmpty)
            #expect(try subject.store.objectIDs().isEmpty)
            #expect(try subject.store.cleanTemporary() == 0)
            for object in objects { #expect(StoreConformance.kind { _ = try store.openReader(object.id) } == .notFound) }
            withExtendedLifetime((subject, index)) {}
        }
        // The pack is committed, then the process dies before the index rows are written.
        let subject = try StoreKindUnderTest.local.make()
        let index = try Index()
        let failing = PackingStore(subject.store, storeID: "s", index: RefusingIndex(index.catalog))
        #expect(throws: StoreError.self) { try Self.commit(objects, to: failing) }
        let store = PackingStore(subject.store, storeID: "s", index: index.catalog)
        let orphan = try subject.store.objectIDs()
        #expect(orphan.count == 1)
        #expect(try store.objectIDs() == orphan)
        for object in objects { #expect(StoreConformance.kind { _ = try store.openReader(object.id) } == .notFound) }
        withExtendedLifetime((subject, index)) {}
    }

    /// A pack is read back whole when committed: one that does not read back as written is
    /// refused (nothing indexed, nothing vouched for); one that does vouches for its objects.
    @Test func aPackIsReadBackBeforeItsObjectsCount() throws {
        let objects = Self.objects(10, seed: 6)
        let subject = try StoreKindUnderTest.local.make()
        let index = try Index()
        let faulty = FaultyStore(subject.store, fault: .flipBit(offset: 5_000))
        let store = PackingStore(faulty, storeID: "s", index: index.catalog)
        #expect(StoreConformance.kind { try Self.commit(objects, to: store) } == .media)
        #expect(try store.packSummaries().isEmpty)
        #expect(try subject.store.objectIDs().isEmpty, "the pack that did not read back is deleted")
        for object in objects { #expect(!store.verifiedOnCommit(object.id)) }
        faulty.fault = .latency(seconds: 0)
        try Self.commit(objects, to: store)
        for object in objects { #expect(store.verifiedOnCommit(object.id)) }
        #expect(!store.verifiedOnCommit(objects[0].id), "asking consumes the answer")
        withExtendedLifetime((subject, index)) {}
    }

    /// A rewrite that fails at the commit keeps the old pack and its index rows: nothing lost.
    @Test func aRewriteThatFailsKeepsTheOldPack() throws {
        let subject = try StoreKindUnderTest.local.make()
        let index = try Index()
        let faulty = FaultyStore(subject.store, fault: .latency(seconds: 0))
        let store = PackingStore(faulty, storeID: "s", index: index.catalog)
        let objects = Self.objects(16, seed: 8)
        try Self.commit(objects, to: store)
        for object in objects.prefix(12) { try store.remove(object.id) }
        faulty.fault = .failCommits
        #expect(throws: StoreError.self) { try store.compact() }
        faulty.fault = .latency(seconds: 0)
        for object in objects.suffix(4) { #expect(try StoreConformance.get(object.id, from: store) == object.bytes) }
        #expect(try store.compact().packsRemoved == 1)
        for object in objects.suffix(4) { #expect(try StoreConformance.get(object.id, from: store) == object.bytes) }
        #expect(try subject.store.objectIDs().count == 1)
        withExtendedLifetime((subject, index)) {}
    }

    /// A corrupt object in a pack being rewritten is not copied into the new pack: it is
    /// reported, keeps its entry (for the engine to settle), and its pack stays until then.
    @Test func aRewriteReportsACorruptObjectAndKeepsItsPack() throws {
        let subject = try StoreKindUnderTest.local.make()
        let index = try Index()
        let store = PackingStore(subject.store, storeID: "s", index: index.catalog)
        let objects = Self.objects(10, seed: 4)
        try Self.commit(objects, to: store)
        let local = try #require(subject.store as? LocalStore)
        let victim = try #require(try store.packed(objects[9].id))
        try flipBit(in: local.objectPath(victim.pack), at: Int(victim.offset) + 3)
        for object in objects.prefix(8) { try store.remove(object.id) }
        let report = try store.compact()
        #expect(report.corrupt == [objects[9].id])
        #expect(report.objectsMoved == 1 && report.packsRemoved == 0)
        #expect(try StoreConformance.get(objects[8].id, from: store) == objects[8].bytes)
        #expect(try store.packed(objects[9].id)?.pack == victim.pack)
        withExtendedLifetime((subject, index)) {}
    }
}

/// A pack index whose writes fail (the process died before the rows were written).
final class RefusingIndex: PackIndex, @unchecked Sendable {
    let base: any PackIndex
    init(_ base: any PackIndex) { self.base = base }
    struct Refused: Error {}
    func packedObject(store: String, id: ContentID) throws -> PackedObject? { try base.packedObject(store: store, id: id) }
    func packedAmong(store: String, ids: [ContentID]) throws -> Set<ContentID> { try base.packedAmong(store: store, ids: ids) }
    func addPacks(store: String, _ packs: [PackContents]) throws { throw Refused() }
    func removePackedObjects(store: String, ids: [ContentID]) throws { throw Refused() }
    func packs(store: String) throws -> [PackSummary] { try base.packs(store: store) }
    func packEntries(store: String, pack: ContentID) throws -> [PackFormat.Entry] { try base.packEntries(store: store, pack: pack) }
    func replacePack(store: String, old: ContentID, with new: [PackContents]) throws -> Bool { throw Refused() }
    func packedObjects(store: String, after: ContentID?, limit: Int) throws -> [ContentID] {
        try base.packedObjects(store: store, after: after, limit: limit)
    }
    func forgetPacks(store: String) throws { throw Refused() }
}
