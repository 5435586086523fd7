import Crypto
import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveStores
import TroveTesting

/// Encryption: tampering with any byte is corruption of that copy, from that leaf on; keys unlock
/// only with the right passphrase or key file.
struct EncryptionTests {
    let leaf = ContentHash.leafSize

    func encrypted() throws -> (EncryptedStore, MemoryStore) {
        let base = MemoryStore()
        let (encryption, keys) = try StoreKeys.create(passphrase: nil, keyFileKey: SymmetricKey(size: .bits256), chunkSize: leaf)
        return (EncryptedStore(base, keys: keys, chunkSize: encryption.chunkSize), base)
    }

    /// The one object the base store holds under its keyed name.
    func storedName(_ base: MemoryStore) throws -> ContentID {
        let names = try base.objectIDs()
        #expect(names.count == 1)
        return names[0]
    }

    func corruptLeaf(_ store: any Store, _ id: ContentID) -> UInt64? {
        do { _ = try StoreConformance.get(id, from: store); return nil } catch let error as ObjectCorrupt { return error.offset / UInt64(leaf) } catch { return nil }
    }

    @Test func aFlippedByteInAnyChunkIsCorruptionFromThatLeaf() throws {
        for (chunk, offset) in [(0, 30), (1, 24 + leaf + 28 + 100), (2, 24 + 2 * (leaf + 28) + 3)] {
            let (store, base) = try encrypted()
            let id = StoreConformance.randomID()
            let bytes = StoreConformance.bytes(2 * leaf + 100, seed: 1)
            try StoreConformance.put(bytes, as: id, in: store)
            #expect(try StoreConformance.get(id, from: store) == bytes)
            base.flip(try storedName(base), at: offset)
            #expect(corruptLeaf(store, id) == UInt64(chunk), "byte \(offset)")
            // A ranged read of an earlier, intact leaf still succeeds.
            if chunk > 0 { #expect(try StoreConformance.get(id, from: store, range: 0..<UInt64(leaf)) == Array(bytes[0..<leaf])) }
        }
    }

    @Test func aDamagedTrailerOrPrefixMakesTheWholeCopyCorrupt() throws {
        for offset in [3, 10, -5] {
            let (store, base) = try encrypted()
            let id = StoreConformance.randomID()
            try StoreConformance.put(StoreConformance.bytes(1000, seed: 2), as: id, in: store)
            let name = try storedName(base)
            let size = Int(try base.objectSize(name)!)
            base.flip(name, at: offset < 0 ? size + offset : offset)
            #expect(corruptLeaf(store, id) == 0, "byte \(offset)")
        }
    }

    @Test func anObjectSwappedUnderAnotherNameIsCorrupt() throws {
        let (store, base) = try encrypted()
        let a = StoreConformance.randomID(), b = StoreConformance.randomID()
        try StoreConformance.put(StoreConformance.bytes(500, seed: 3), as: a, in: store)
        try StoreConformance.put(StoreConformance.bytes(500, seed: 4), as: b, in: store)
        let names = try base.objectIDs()
        let objectA = try StoreConformance.get(names[0], from: base), objectB = try StoreConformance.get(names[1], from: base)
        // The provider swaps the two objects' bytes.
        try base.remove(names[0]); try base.remove(names[1])
        try StoreConformance.put(objectB, as: names[0], in: base)
        try StoreConformance.put(objectA, as: names[1], in: base)
        #expect(corruptLeaf(store, a) == 0)
        #expect(corruptLeaf(store, b) == 0)
    }

    @Test func aTruncatedObjectIsCorrupt() throws {
        let (store, base) = try encrypted()
        let id = StoreConformance.randomID()
        try StoreConformance.put(StoreConformance.bytes(leaf + 10, seed: 5), as: id, in: store)
        let name = try storedName(base)
        let whole = try StoreConformance.get(name, from: base)
        try base.remove(name)
        // Drop the last chunk and the trailer: what is left would look like a shorter object.
        try StoreConformance.put(Array(whole[0..<(24 + leaf + 28)]), as: name, in: base)
        #expect(corruptLeaf(store, id) == 0)
    }

    @Test func theStoreSeesNeitherTheIDNorThePlaintext() throws {
        let (store, base) = try encrypted()
        let id = StoreConformance.randomID()
        let bytes = Array(repeating: UInt8(ascii: "A"), count: 5000)
        try StoreConformance.put(bytes, as: id, in: store)
        let name = try storedName(base)
        #expect(name != id)
        let stored = try StoreConformance.get(name, from: base)
        #expect(!stored.containsSubsequence(Array(repeating: UInt8(ascii: "A"), count: 32)))
        #expect(!stored.containsSubsequence(id.bytes))
        #expect(try store.objectIDs() == [id], "listing learns the ID from the sealed trailer")
    }

    @Test func thePassphraseOrTheKeyFileUnlocksAndNothingElse() throws {
        let keyFileKey = SymmetricKey(size: .bits256)
        let (encryption, keys) = try StoreKeys.create(passphrase: "correct horse", keyFileKey: keyFileKey, chunkSize: leaf)
        let probe = StoreConformance.randomID()
        let (byPassphrase, _) = try StoreKeys.unlock(encryption, keyFileKey: nil, passphrase: "correct horse")
        let (byFile, _) = try StoreKeys.unlock(encryption, keyFileKey: keyFileKey, passphrase: nil)
        // Same keys: objects written with one are read with the others.
        let base = MemoryStore()
        try StoreConformance.put([1, 2, 3], as: probe, in: EncryptedStore(base, keys: keys, chunkSize: leaf))
        #expect(try StoreConformance.get(probe, from: EncryptedStore(base, keys: byPassphrase, chunkSize: leaf)) == [1, 2, 3])
        #expect(try StoreConformance.get(probe, from: EncryptedStore(base, keys: byFile, chunkSize: leaf)) == [1, 2, 3])
        #expect(StoreConformance.kind { _ = try StoreKeys.unlock(encryption, keyFileKey: nil, passphrase: "wrong horse") } == .permissionDenied)
        #expect(StoreConformance.kind { _ = try StoreKeys.unlock(encryption, keyFileKey: SymmetricKey(size: .bits256), passphrase: nil) } == .permissionDenied)
        // Nothing in the identity gives the key away.
        let json = String(decoding: try JSONEncoder().encode(encryption), as: UTF8.self)
        for secret in ["correct horse", keyFileKey.withUnsafeBytes { Data($0).base64EncodedString() }] { #expect(!json.contains(secret)) }
    }

    @Test func aKeyFileOthersCanReadIsRefused() throws {
        let folder = try TempFolder()
        let path = folder.at("store.key")
        _ = try StoreKeys.makeKeyFile(path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        _ = try StoreKeys.readKeyFile(path)
        chmod(path, 0o644)
        #expect(StoreConformance.kind { _ = try StoreKeys.readKeyFile(path) } == .permissionDenied)
        #expect(StoreConformance.kind { _ = try StoreKeys.readKeyFile(folder.at("missing.key")) } == .permissionDenied)
    }
}

/// The wrappers keep the contract and do their one job.
struct WrapperTests {
    @Test func aBandwidthLimitHoldsTheRate() throws {
        let slept = SleepRecorder()
        // Sleeping moves the clock: no real waiting.
        let store = ThrottledStore(MemoryStore(), bytesPerSecond: 1_000_000, now: { Date(timeIntervalSince1970: slept.total) },
                                   sleep: { slept.add($0) })
        try StoreConformance.put(StoreConformance.bytes(5_000_000, seed: 1), as: StoreConformance.randomID(), in: store, piece: 100_000)
        // One second's burst is free; the other 4 MB wait about 4 s.
        #expect(slept.total > 3.5 && slept.total < 4.5, "slept \(slept.total) s")
    }

    @Test func theTokenBucketRefillsWithTime() {
        var bucket = TokenBucket(rate: 100)
        let start = Date(timeIntervalSince1970: 0)
        #expect(bucket.take(100, now: start) == 0)
        #expect(bucket.take(50, now: start) == 0.5)
        #expect(bucket.take(0, now: start.addingTimeInterval(1.5)) == 0)
    }

    @Test func aReadThatDropsOnceResumesWhereItStopped() throws {
        let base = MemoryStore()
        let id = StoreConformance.randomID()
        let bytes = StoreConformance.bytes(3_000_000, seed: 9)
        try StoreConformance.put(bytes, as: id, in: base)
        let flaky = DropsOnce(base, after: 1_000_000)
        let store = RetryingStore(flaky, sleep: { _ in })
        #expect(try StoreConformance.get(id, from: store) == bytes)
        #expect(flaky.reopenedAt == [1_000_000 - 1_000_000 % 999_983], "re-opened at the first byte not yet delivered")
    }

    @Test func retriesGiveUpAsUnavailable() throws {
        let base = MemoryStore()
        base.reachable = false
        let slept = SleepRecorder()
        let store = RetryingStore(base, backoff: RetryPolicy(attempts: 4), sleep: { slept.add($0) })
        #expect(StoreConformance.kind { _ = try store.objectSize(StoreConformance.randomID()) } == .unavailable)
        #expect(slept.count == 3)
    }
}

final class SleepRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var waits: [Double] = []
    func add(_ wait: Double) { lock.withLock { waits.append(wait) } }
    var total: Double { lock.withLock { waits.reduce(0, +) } }
    var count: Int { lock.withLock { waits.count } }
}

/// A store whose first reader fails as unavailable after `after` bytes; records where readers were opened.
final class DropsOnce: Store, @unchecked Sendable {
    let base: MemoryStore
    let after: Int
    var dropped = false
    var reopenedAt: [UInt64] = []
    init(_ base: MemoryStore, after: Int) { self.base = base; self.after = after }
    var identity: StoreIdentity { base.identity }
    var location: String { base.location }
    func objectSize(_ id: ContentID) throws -> UInt64? { try base.objectSize(id) }
    func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter { try base.makeWriter(for: id, expectedSize: expectedSize) }
    func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader {
        if let range, range.lowerBound > 0 { reopenedAt.append(range.lowerBound) }
        let reader = try base.openReader(id, range: range, fromMedia: fromMedia)
        return dropped ? reader : Dropping(self, reader)
    }
    func quarantine(_ id: ContentID) throws -> String { try base.quarantine(id) }
    func remove(_ id: ContentID) throws { try base.remove(id) }
    func listObjects(_ body: (ContentID) throws -> Bool) throws { try base.listObjects(body) }
    func space() throws -> StoreSpace? { nil }
    func isReadOnly() -> Bool { false }
    func disk() -> DiskIdentity.Disk? { nil }
    func cleanTemporary() throws -> Int { 0 }
    func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws { try base.commitBatch(items) }
    func readRecord(_ name: RecordName) throws -> [UInt8]? { try base.readRecord(name) }
    func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws { try base.writeRecord(name, bytes) }
    func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool { try base.createRecord(name, bytes) }
    func removeRecord(_ name: RecordName) throws { try base.removeRecord(name) }

    final class Dropping: ObjectReader {
        let owner: DropsOnce
        let base: ObjectReader
        var done = 0
        init(_ owner: DropsOnce, _ base: ObjectReader) { self.owner = owner; self.base = base }
        var size: UInt64 { base.size }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
            if done + buffer.count > owner.after {
                owner.dropped = true
                throw StoreError(.unavailable, "connection reset (test)")
            }
            let n = try base.read(into: buffer)
            done += n
            return n
        }
        func close() {}
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<$0 + needle.count]) == needle }
    }
}
