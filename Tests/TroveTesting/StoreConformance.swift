import Crypto
import Foundation
import Testing
import TroveCore
import TroveStorage
import TroveStores

/// A store under test, and a way to get a handle on the same store that cannot be reached.
public struct StoreSubject: @unchecked Sendable {
    public let store: any Store
    /// The same store as a client sees it when the medium or server is gone.
    public let unreachable: () throws -> any Store
    /// Keeps what the subject needs alive (folders, servers).
    public let keepAlive: [Any]
}

/// The kinds of store every conformance check runs against.
public enum StoreKindUnderTest: String, CaseIterable, Sendable, CustomStringConvertible {
    case local, memory, s3, encryptedLocal = "encrypted-local", encryptedS3 = "encrypted-s3", grid, peer
    public var description: String { rawValue }

    /// A fresh, empty store of this kind.
    public func make() throws -> StoreSubject {
        switch self {
        case .local:
            let folder = try TempFolder()
            let root = folder.folder("drive")
            let store = try LocalStore.create(at: root, label: "local", copies: 1, now: Date())
            return StoreSubject(store: store, unreachable: {
                // The drive is unplugged: its mount point is empty.
                try FileManager.default.moveItem(atPath: root, toPath: root + ".gone")
                return store
            }, keepAlive: [folder])
        case .memory:
            let store = MemoryStore()
            return StoreSubject(store: store, unreachable: { store.reachable = false; return store }, keepAlive: [])
        case .s3:
            let moto = try MotoServer.shared.get()
            let bucket = "conformance-\(UUID().uuidString.prefix(8).lowercased())"
            try moto.createBucket(bucket)
            let environment = ["AWS_ACCESS_KEY_ID": MotoServer.credentials.accessKey, "AWS_SECRET_ACCESS_KEY": MotoServer.credentials.secretKey]
            let config = StoreConfig(endpoint: moto.endpoint.absoluteString, bucket: bucket, prefix: "lib", pathStyle: true)
            let identity = StoreIdentity(id: StoreIdentity.newID(), label: "s3", created: Date(), kind: .s3, copies: 1, filesystemUUID: nil)
            let store = try S3Store.create(config, identity: identity, environment: environment)
            store.listPageSize = 7
            return StoreSubject(store: store, unreachable: {
                // The same bucket through an endpoint where nothing listens (a server that is down).
                var dead = config
                dead.endpoint = "http://127.0.0.1:\(try MotoServer.freePort())"
                return try S3Store.handle(dead, identity: identity, environment: environment)
            }, keepAlive: [moto])
        case .encryptedLocal, .encryptedS3:
            let inner = try (self == .encryptedLocal ? StoreKindUnderTest.local : .s3).make()
            let (encryption, keys) = try StoreKeys.create(passphrase: nil, keyFileKey: SymmetricKey(size: .bits256),
                                                          chunkSize: ContentHash.leafSize)
            let wrap = { (base: any Store) in EncryptedStore(base, keys: keys, chunkSize: encryption.chunkSize) }
            return StoreSubject(store: wrap(inner.store), unreachable: { wrap(try inner.unreachable()) }, keepAlive: inner.keepAlive)
        case .grid:
            // 3-of-5 over five folder stores; gone = every member's drive unplugged.
            let fixture = try GridFixture(k: 3, n: 5, members: 5)
            let grid = try fixture.open()
            return StoreSubject(store: grid, unreachable: {
                for member in fixture.memberRecords {
                    try FileManager.default.moveItem(atPath: member.location, toPath: member.location + ".gone")
                }
                return grid
            }, keepAlive: [fixture])
        case .peer:
            // A store another machine's `trove serve` hosts, over loopback mutual TLS; gone = that server stopped.
            let fixture = try PeerFixture()
            let store = try fixture.peerStore()
            store.listPageSize = 7
            return StoreSubject(store: store, unreachable: {
                fixture.stopServer()
                return store
            }, keepAlive: [fixture])
        }
    }
}

/// The Store contract (docs/store-contract.md) as checks; a kind is done when it passes them all.
public enum StoreConformance {
    static let leaf = ContentHash.leafSize

    /// A random ID, for objects that are not there.
    public static func randomID() -> ContentID { ContentID(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })! }

    /// The content ID of `bytes`: objects are stored under their true IDs, since a store may
    /// check each write against its ID (a peer's server does) and refuse anything else.
    public static func idOf(_ bytes: [UInt8]) -> ContentID { ContentHash.hash(bytes).id }

    public static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
    }

    /// Writes `bytes` under `id` (naming it up front or only at commit) in pieces of `piece`.
    public static func put(_ bytes: [UInt8], as id: ContentID, in store: any Store, knownID: Bool = true, piece: Int = 1 << 20 + 7) throws {
        let writer = try store.makeWriter(for: knownID ? id : nil, expectedSize: UInt64(bytes.count))
        var offset = 0
        try bytes.withUnsafeBytes { all in
            while offset < all.count {
                let end = min(all.count, offset + piece)
                try writer.write(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
        }
        try writer.commit(as: id)
    }

    /// Reads `range` (all of it when nil) in odd-sized pieces.
    public static func get(_ id: ContentID, from store: any Store, range: Range<UInt64>? = nil, piece: Int = 999_983) throws -> [UInt8] {
        let reader = try store.openReader(id, range: range, fromMedia: true)
        defer { reader.close() }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: piece)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try reader.read(into: $0) }
            if n == 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Objects of every size around the leaf boundaries come back byte for byte, named up front or at commit.
    public static func roundTripAtLeafBoundaries(_ store: any Store) throws {
        for (index, size) in [0, 1, leaf - 1, leaf, leaf + 1, 2 * leaf + 3].enumerated() {
            let bytes = bytes(size, seed: UInt64(index))
            let id = idOf(bytes)
            try put(bytes, as: id, in: store, knownID: index % 2 == 0)
            #expect(try store.objectSize(id) == UInt64(size), "size \(size)")
            #expect(try get(id, from: store) == bytes, "size \(size)")
        }
    }

    /// Ranged reads return exactly the bytes asked for, across leaf boundaries and at the end.
    public static func rangedReads(_ store: any Store) throws {
        let bytes = bytes(2 * leaf + 5, seed: 7)
        let id = idOf(bytes)
        try put(bytes, as: id, in: store)
        let l = UInt64(leaf)
        for range in [0..<10, l - 3..<l + 3, l..<2 * l, 2 * l..<2 * l + 5, 5..<5, 2 * l + 4..<2 * l + 5] as [Range<UInt64>] {
            #expect(try get(id, from: store, range: range) == Array(bytes[Int(range.lowerBound)..<Int(range.upperBound)]), "range \(range)")
        }
        #expect(try get(id, from: store, range: l..<10 * l) == Array(bytes[leaf...]), "a range past the end stops at the end")
    }

    /// Listing delivers every object once (across pages), and stops when asked.
    public static func listingWithPagination(_ store: any Store) throws {
        var ids = Set<ContentID>()
        for index in 0..<23 {
            let id = idOf(bytes(index, seed: UInt64(index)))
            try put(bytes(index, seed: UInt64(index)), as: id, in: store, knownID: index % 2 == 0)
            ids.insert(id)
        }
        var seen: [ContentID] = []
        try store.listObjects { seen.append($0); return true }
        #expect(seen.count == ids.count)
        #expect(Set(seen) == ids)
        var delivered = 0
        try store.listObjects { _ in delivered += 1; return false }
        #expect(delivered == 1)
    }

    /// A reader never sees a partial object under a real ID: not while it is written, not after an abort.
    public static func atomicVisibility(_ store: any Store) throws {
        for knownID in [true, false] {
            let bytes = bytes(leaf + leaf / 2, seed: knownID ? 3 : 4)
            let id = idOf(bytes)
            let writer = try store.makeWriter(for: knownID ? id : nil, expectedSize: UInt64(bytes.count))
            try bytes.withUnsafeBytes { try writer.write($0) }
            #expect(try store.objectSize(id) == nil, "visible before commit")
            var listed = false
            try store.listObjects { listed = listed || $0 == id; return true }
            #expect(!listed, "listed before commit")
            writer.abort()
            #expect(try store.objectSize(id) == nil, "visible after abort")
            try put(bytes, as: id, in: store, knownID: knownID)
            #expect(try get(id, from: store) == bytes)
        }
    }

    /// Two writers of one ID at once: both succeed and the object is whole.
    public static func concurrentWritersOfOneID(_ store: any Store) throws {
        let bytes = bytes(leaf + 17, seed: 11)
        let id = idOf(bytes)
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            do { try put(bytes, as: id, in: store, knownID: index == 0) } catch { errors.add(error) }
        }
        #expect(errors.all.isEmpty, "\(errors.all)")
        #expect(try get(id, from: store) == bytes)
    }

    /// Removal and quarantine take the object away; removing what is not there is fine.
    public static func removalAndQuarantine(_ store: any Store) throws {
        let id = idOf(bytes(100, seed: 1)), other = idOf(bytes(100, seed: 2))
        try put(bytes(100, seed: 1), as: id, in: store)
        try put(bytes(100, seed: 2), as: other, in: store)
        try store.remove(id)
        #expect(try store.objectSize(id) == nil)
        try store.remove(id)
        let moved = try store.quarantine(other)
        #expect(!moved.isEmpty)
        #expect(try store.objectSize(other) == nil)
        var left = 0
        try store.listObjects { _ in left += 1; return true }
        #expect(left == 0, "quarantined objects are not listed")
    }

    /// Named records: absent until written, replaced whole, kept apart from the objects, and
    /// unreachable like the rest of the store when it is gone.
    public static func namedRecords(_ subject: StoreSubject) throws {
        let store = subject.store
        let head = RecordName.libraryHead, other = RecordName("other-record")!
        #expect(try store.readRecord(head) == nil)
        try store.writeRecord(head, bytes(3000, seed: 7))
        try store.writeRecord(other, [])
        #expect(try store.readRecord(head) == bytes(3000, seed: 7))
        try store.writeRecord(head, Array("second".utf8))
        #expect(try store.readRecord(head) == Array("second".utf8), "a record is replaced, not appended to")
        #expect(try store.readRecord(other) == [])
        #expect(try store.objectIDs().isEmpty, "records are not objects")
        // Test-and-set: only the first create of a name wins, and leaves the record as it wrote it.
        let slot = RecordName("slot-1")!
        #expect(try store.createRecord(slot, Array("first".utf8)))
        #expect(try !store.createRecord(slot, Array("second".utf8)))
        #expect(try store.readRecord(slot) == Array("first".utf8))
        try store.removeRecord(slot)
        #expect(try store.readRecord(slot) == nil)
        try store.removeRecord(slot)
        #expect(try store.createRecord(slot, Array("again".utf8)), "a removed name can be created again")
        // Racing writers: exactly one create wins.
        let race = RecordName("slot-race")!
        let wins = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 4) { index in
            if (try? store.createRecord(race, [UInt8(index)])) == true { wins.add(StoreError(.notFound, "won \(index)")) }
        }
        #expect(wins.all.count == 1, "\(wins.all)")
        #expect(RecordName("../store.json") == nil && RecordName("Head") == nil && RecordName("") == nil)
        let gone = try subject.unreachable()
        #expect(kind { _ = try gone.readRecord(head) } == .unavailable)
        #expect(kind { try gone.writeRecord(head, [1]) } == .unavailable)
        #expect(kind { _ = try gone.createRecord(RecordName("slot-2")!, [1]) } == .unavailable)
    }

    /// Each failure comes back as its kind: a missing object is notFound; a store that cannot
    /// be reached is unavailable for every call.
    public static func typedErrors(_ subject: StoreSubject) throws {
        let store = subject.store
        let missing = randomID()
        #expect(try store.objectSize(missing) == nil)
        #expect(kind { _ = try store.openReader(missing, range: nil, fromMedia: false) } == .notFound)
        #expect(kind { _ = try store.quarantine(missing) } == .notFound)
        let id = idOf(bytes(1000, seed: 5))
        try put(bytes(1000, seed: 5), as: id, in: store)
        let gone = try subject.unreachable()
        #expect(kind { _ = try gone.objectSize(id) } == .unavailable)
        #expect(kind { _ = try gone.openReader(id, range: nil, fromMedia: false) } == .unavailable)
        #expect(kind { try gone.listObjects { _ in true } } == .unavailable)
        #expect(kind { try put(bytes(1000, seed: 6), as: idOf(bytes(1000, seed: 6)), in: gone) } == .unavailable)
    }

    /// The kind of store error `body` throws (nil when it throws none or another error).
    public static func kind(_ body: () throws -> Void) -> StoreError.Kind? {
        do { try body() } catch let error as StoreError { return error.kind } catch { return nil }
        return nil
    }
}

/// Errors of concurrent work.
public final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    public init() {}
    public func add(_ error: Error) { lock.withLock { errors.append(error) } }
    public var all: [Error] { lock.withLock { errors } }
}
