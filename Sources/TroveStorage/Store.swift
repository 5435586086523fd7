import Foundation
import TroveCore

/// A place that holds objects by content ID: local folders, S3 buckets, and the wrappers around
/// them (encryption, bandwidth limits, retries, fault injection). docs/store-contract.md is the
/// contract every kind must keep; `StoreConformance` in the tests proves it for each kind.
///
/// Calls block. Trove runs store I/O on dedicated threads (one lane per store and copy), so a
/// slow remote store holds up only its own lanes, never hashing or the local drives, and
/// back-pressure stays a bounded buffer rather than an unbounded queue of tasks.
///
/// Every method throws only `StoreError` (a closed set of kinds) for trouble with the store.
public protocol Store: AnyObject, Sendable {
    /// The identity the store carries with it (`.trove/store.json` on a local store).
    var identity: StoreIdentity { get }
    /// Where it lives, for messages (a folder, `s3://bucket/prefix`, …).
    var location: String { get }
    /// Size of the stored object, or nil when the store does not hold it.
    func objectSize(_ id: ContentID) throws -> UInt64?
    /// Starts writing a new object. With `id` the store may write straight under its final
    /// name (an S3 multipart upload to its key); without it the ID is given at `commit(as:)`.
    /// Either way no reader ever sees a partial object under a real ID.
    func makeWriter(for id: ContentID?, expectedSize: UInt64?) throws -> ObjectWriter
    /// Opens an object for reading `range` (nil: all of it). With `fromMedia` the bytes must
    /// come from the medium itself, not from a cache of it (verify and scrub check the media);
    /// otherwise a cached copy is fine, since every read is checked against the leaf hashes.
    func openReader(_ id: ContentID, range: Range<UInt64>?, fromMedia: Bool) throws -> ObjectReader
    /// Moves a bad copy aside into quarantine; returns where it went, for messages.
    @discardableResult func quarantine(_ id: ContentID) throws -> String
    /// Deletes an object; deleting one that is not there is not an error.
    func remove(_ id: ContentID) throws
    /// Streams every object ID the store holds, in no particular order, a page at a time;
    /// `body` returns false to stop early.
    func listObjects(_ body: (ContentID) throws -> Bool) throws
    /// Capacity and free bytes, or nil when the store cannot tell (object storage).
    func space() throws -> StoreSpace?
    /// True when the store cannot take writes now (mounted read-only, no write permission).
    func isReadOnly() -> Bool
    /// The failure domain it lives on (the disk, the bucket's endpoint), when it can be told.
    func disk() -> DiskIdentity.Disk?
    /// Deletes leftovers of interrupted writes (temporaries, abandoned uploads); returns how many.
    func cleanTemporary() throws -> Int
    /// True when the store itself checks each write against a hash of its content on arrival
    /// and refuses a mismatch (S3's signed payload SHA-256): a new copy is then verified when
    /// the write succeeds, without reading it back. A drive checks nothing, so a new copy there
    /// is read back from the medium.
    var checksWritesOnArrival: Bool { get }
    /// True when the object just committed under `id` is known to be on the medium as written
    /// (the store checked it on arrival, or read it back itself), so the caller need not read
    /// it back. Asking consumes the answer.
    func verifiedOnCommit(_ id: ContentID) -> Bool
    /// The machine whose drive holds the store, when that is another machine (a store hosted
    /// by a peer); nil for a store this machine reaches itself. Alerts name it.
    var hostMachine: String? { get }
    /// True when each object commits on its own (a PUT or an upload per object, nothing shared
    /// between them): the engine then commits each copy as soon as it is written, so waiting on
    /// one commit overlaps reading the next, instead of holding a batch to commit together.
    var commitsEachAlone: Bool { get }
    /// Whether this writer's object commits on its own (`commitsEachAlone` for most stores; a
    /// small object bound for a pack waits for its batch).
    func commitsAlone(_ writer: any ObjectWriter) -> Bool
    /// The store's host, when it checks its own drive (`verify` then moves verdicts, not
    /// bytes); wrappers that keep object names and bytes pass their store's through.
    var remoteVerifier: RemoteVerifier? { get }
    /// Commits many finished writers at once with the same guarantees as `commit(as:)`, but
    /// sharing the syncs (small files would otherwise cost a journal commit each). On error some
    /// objects may already be in place; they are complete, merely not yet in the catalog.
    /// Wrappers pass batches through to the store they wrap.
    func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws
    /// A small named record kept beside the objects (the library head), or nil when the store
    /// holds none of that name. Names are `RecordName`s.
    func readRecord(_ name: RecordName) throws -> [UInt8]?
    /// Replaces a named record atomically: a reader sees the old bytes or the new, never a mix.
    func writeRecord(_ name: RecordName, _ bytes: [UInt8]) throws
    /// Writes a named record only if none of that name exists (test-and-set: of two writers at
    /// once, exactly one gets true). False when the name was taken; the record is then unchanged.
    func createRecord(_ name: RecordName, _ bytes: [UInt8]) throws -> Bool
    /// Deletes a named record; deleting one that is not there is not an error.
    func removeRecord(_ name: RecordName) throws
}

/// The name of a record a store keeps beside its objects: 1–64 of `a-z`, `0-9` and `-`, so it
/// is a safe file name and object key everywhere.
public struct RecordName: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init?(_ text: String) {
        guard (1...64).contains(text.utf8.count),
              text.utf8.allSatisfy({ (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }) else { return nil }
        description = text
    }
    /// The library head: where a store's copy of the library's records starts.
    public static let libraryHead = RecordName("library-head")!
}

extension Store {
    public var checksWritesOnArrival: Bool { false }
    public func verifiedOnCommit(_ id: ContentID) -> Bool { checksWritesOnArrival }
    public var hostMachine: String? { nil }
    public var commitsEachAlone: Bool { false }
    public func commitsAlone(_ writer: any ObjectWriter) -> Bool { commitsEachAlone }
    public var remoteVerifier: RemoteVerifier? { nil }

    /// Opens a whole object for a read that may be served from a cache.
    public func openReader(_ id: ContentID) throws -> ObjectReader { try openReader(id, range: nil, fromMedia: false) }
    /// Opens a whole object.
    public func openReader(_ id: ContentID, fromMedia: Bool) throws -> ObjectReader {
        try openReader(id, range: nil, fromMedia: fromMedia)
    }
    /// A writer whose ID is given at commit.
    public func makeWriter(expectedSize: UInt64?) throws -> ObjectWriter { try makeWriter(for: nil, expectedSize: expectedSize) }

    /// Every object ID, sorted (for stores small enough to hold the list; prefer `listObjects`).
    public func objectIDs() throws -> [ContentID] {
        var ids: [ContentID] = []
        try listObjects { ids.append($0); return true }
        return ids.sorted()
    }

    /// Commits writers that are each complete on their own (an upload per object) many at a
    /// time: each commit is a round trip, and a batch of them in a row would wait for each.
    /// Lanes are threads of their own, so the waiting starves nothing.
    public func commitIndependently(_ items: [(writer: any ObjectWriter, id: ContentID)], lanes: Int = remoteLanes) throws {
        let failure = FirstError()
        nonisolated(unsafe) let items = items
        runConcurrently(items.count, lanes: lanes) { index in
            do { try items[index].writer.commit(as: items[index].id) } catch { failure.record(error) }
        }
        if let error = failure.value { throw error }
    }
}

extension ObjectReader {
    /// Reads up to `count` bytes, fewer only when the object ends first.
    public func readBytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try bytes.withUnsafeMutableBytes { try read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if n == 0 { break }
            filled += n
        }
        return filled == count ? bytes : Array(bytes.prefix(filled))
    }
}

/// Thrown by a reader when an object's own integrity check fails (an encrypted chunk that does
/// not authenticate): the copy is corrupt from `offset` on. The engine treats it like a leaf
/// that does not match its hash.
public struct ObjectCorrupt: Error, Sendable {
    /// Offset in the object (plaintext) of the first byte that cannot be trusted.
    public let offset: UInt64
    public let reason: String
    public init(offset: UInt64, reason: String) { self.offset = offset; self.reason = reason }
}

/// Capacity and free bytes of a store.
public struct StoreSpace: Sendable, Equatable {
    public var capacity: Int64
    public var free: Int64
    public init(capacity: Int64, free: Int64) { self.capacity = capacity; self.free = free }
}

/// An object being written: bytes go to a temporary place until `commit` makes them durable
/// under their ID, so a crash never leaves a partial object under a real ID.
public protocol ObjectWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Makes the object durable under `id` (which must equal the ID given to `makeWriter`, if
    /// one was). If the store already held `id`, either object may remain: they hold the same
    /// bytes by construction (a copy found corrupt is quarantined before it is healed).
    func commit(as id: ContentID) throws
    /// Discards what was written.
    func abort()
}

/// An object (or a range of it) being read.
public protocol ObjectReader: AnyObject {
    /// Size of the whole object.
    var size: UInt64 { get }
    /// Fills the buffer (fully, except at the end of the range); returns the byte count, 0 at the end.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    func close()
}

/// The identity file every store carries (`.trove/store.json` on a local store).
public struct StoreIdentity: Codable, Sendable, Equatable {
    public var format: Int
    public var id: String
    public var label: String
    public var created: Date
    public var kind: StoreKind
    public var copies: Int
    public var filesystemUUID: String?
    /// The library that made the store; only that library's `gc` deletes objects it does not know.
    public var library: String?
    /// How objects are encrypted and the wrapped master key (nil: stored in the clear).
    public var encryption: StoreEncryption?

    public init(format: Int = 1, id: String, label: String, created: Date, kind: StoreKind, copies: Int,
                filesystemUUID: String?, library: String? = nil, encryption: StoreEncryption? = nil) {
        self.format = format
        self.id = id
        self.label = label
        self.created = created
        self.kind = kind
        self.copies = copies
        self.filesystemUUID = filesystemUUID
        self.library = library
        self.encryption = encryption
    }

    enum CodingKeys: String, CodingKey {
        case format, id, label, created, kind, copies, library, encryption
        case filesystemUUID = "filesystem_uuid"
    }

    /// A fresh random ID: 15 random bytes in base32 (24 characters).
    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next(), b = generator.next()
        let bytes = (0..<8).map { UInt8(truncatingIfNeeded: a >> (8 * UInt64($0))) }
            + (0..<7).map { UInt8(truncatingIfNeeded: b >> (8 * UInt64($0))) }
        return Base32.encode(bytes)
    }
}

/// An encrypted store's parameters, kept in its identity: the cipher and the master key, sealed
/// under each key that may unlock it. The store plus its passphrase (or key file) is enough to
/// read it back; nothing here reveals the key. See docs/store-contract.md#encryption.
public struct StoreEncryption: Codable, Sendable, Equatable {
    public var format: Int
    /// `AES-256-GCM`, per chunk.
    public var cipher: String
    /// Plaintext bytes per sealed chunk (the leaf size, so a leaf is one chunk).
    public var chunkSize: Int
    /// The master key sealed under each unlocking key.
    public var wraps: [KeyWrap]

    public init(format: Int = 1, cipher: String = "AES-256-GCM", chunkSize: Int, wraps: [KeyWrap]) {
        self.format = format
        self.cipher = cipher
        self.chunkSize = chunkSize
        self.wraps = wraps
    }

    enum CodingKeys: String, CodingKey {
        case format, cipher, wraps
        case chunkSize = "chunk_size"
    }
}

/// The master key sealed (AES-256-GCM) under a key derived from a passphrase (scrypt) or read
/// from a key file.
public struct KeyWrap: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case scrypt, keyFile = "key-file" }
    public var kind: Kind
    /// scrypt: salt (base64) and cost parameters.
    public var salt: String?
    public var n: Int?
    public var r: Int?
    public var p: Int?
    /// key-file: a fingerprint of the file's key (first 8 bytes of its SHA-256, hex), to tell files apart.
    public var keyID: String?
    /// The sealed master key (base64 of nonce ‖ ciphertext ‖ tag).
    public var sealed: String

    public init(kind: Kind, salt: String? = nil, n: Int? = nil, r: Int? = nil, p: Int? = nil, keyID: String? = nil, sealed: String) {
        self.kind = kind
        self.salt = salt
        self.n = n
        self.r = r
        self.p = p
        self.keyID = keyID
        self.sealed = sealed
    }

    enum CodingKeys: String, CodingKey {
        case kind, salt, n, r, p, sealed
        case keyID = "key_id"
    }
}

/// A store whose host checks objects against their content IDs itself, reading its own drive,
/// so `verify` moves verdicts over the network rather than bytes (a store a peer hosts).
public protocol RemoteVerifier: Sendable {
    /// The host's verdict on each object: good, corrupt (its bytes do not hash to its ID) or
    /// missing. The sizes (the catalog's) let the asker give the host time to read them.
    func verifyOnHost(_ objects: [(id: ContentID, size: UInt64)]) throws -> [ContentID: RemoteVerdict]
}

public enum RemoteVerdict: Sendable, Equatable { case good, corrupt, missing }
