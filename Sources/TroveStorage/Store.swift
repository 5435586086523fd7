import Foundation
import TroveCore

/// A place that holds objects by content ID. Local folders implement it today; peers, S3,
/// grids and archives will; decorators (fault injection, rate limits) wrap it.
public protocol Store: AnyObject, Sendable {
    /// The identity the store carries with it (`.trove/store.json` for a local store).
    var identity: StoreIdentity { get }
    /// Where it lives, for messages.
    var location: String { get }
    /// Size of the stored object, or nil when the store does not hold it.
    func objectSize(_ id: ContentID) throws -> UInt64?
    /// Starts writing a new object under a temporary name.
    func makeWriter(expectedSize: UInt64?) throws -> ObjectWriter
    /// Opens an object for a (verifying) read. With `fromMedia` the bytes must come from the
    /// drive itself, not from a cache of it (verify and scrub check the media); otherwise a
    /// cached copy is fine, since every read is checked against the leaf hashes anyway.
    func openReader(_ id: ContentID, fromMedia: Bool) throws -> ObjectReader
    /// Moves a bad copy aside into quarantine; returns where it went.
    @discardableResult func quarantine(_ id: ContentID) throws -> String
    /// Deletes an object.
    func remove(_ id: ContentID) throws
    /// Every object ID the store holds.
    func objectIDs() throws -> [ContentID]
    /// Capacity and free bytes.
    func space() throws -> (capacity: Int64, free: Int64)
    /// True when the store cannot take writes now (mounted read-only, no write permission).
    func isReadOnly() -> Bool
    /// The failure domain it lives on (the disk), when it can be told.
    func disk() -> DiskIdentity.Disk?
    /// Deletes leftovers of interrupted writes; returns how many there were.
    func cleanTemporary() throws -> Int
    /// Commits many finished writers at once with the same guarantees as `commit(as:)`, but
    /// sharing the syncs (small files would otherwise cost a journal commit each). On error some
    /// objects may already be in place; they are complete, merely not yet in the catalog.
    func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws
}

extension Store {
    /// Opens an object for a read that may be served from a cache.
    public func openReader(_ id: ContentID) throws -> ObjectReader { try openReader(id, fromMedia: false) }

    public func commitBatch(_ items: [(writer: any ObjectWriter, id: ContentID)]) throws {
        for item in items { try item.writer.commit(as: item.id) }
    }
}

/// An object being written: bytes go to a temporary name until `commit` makes them durable
/// under their ID, so a crash never leaves a partial object under a real ID.
public protocol ObjectWriter: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// fsync, rename into place, fsync the folder. Replaces any existing copy of the same ID.
    func commit(as id: ContentID) throws
    /// Discards the temporary file.
    func abort()
}

/// An object being read.
public protocol ObjectReader: AnyObject {
    var size: UInt64 { get }
    /// Fills the buffer (fully, except at the end); returns the byte count, 0 at the end.
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

    public init(format: Int = 1, id: String, label: String, created: Date, kind: StoreKind, copies: Int,
                filesystemUUID: String?, library: String? = nil) {
        self.format = format
        self.id = id
        self.label = label
        self.created = created
        self.kind = kind
        self.copies = copies
        self.filesystemUUID = filesystemUUID
        self.library = library
    }

    enum CodingKeys: String, CodingKey {
        case format, id, label, created, kind, copies, library
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
