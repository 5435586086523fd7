import Foundation
import TroveCore

/// Where a store keeps an object inside one of its packs.
public struct PackedObject: Sendable, Equatable {
    public var pack: ContentID
    public var offset: UInt64
    public var length: UInt64
    public init(pack: ContentID, offset: UInt64, length: UInt64) {
        self.pack = pack
        self.offset = offset
        self.length = length
    }
}

/// A pack a store holds: its size and how many of its bytes still belong to objects.
public struct PackSummary: Sendable, Equatable {
    public var pack: ContentID
    public var size: UInt64
    public var liveBytes: UInt64
    public var liveObjects: Int
    public init(pack: ContentID, size: UInt64, liveBytes: UInt64, liveObjects: Int) {
        self.pack = pack
        self.size = size
        self.liveBytes = liveBytes
        self.liveObjects = liveObjects
    }
}

extension PackSummary {
    /// Below this fraction of live bytes, gc rewrites a pack (restic prunes at a similar share
    /// of unused space): a rewrite costs reading and writing the live part once, and frees the rest.
    public static let rewriteBelow = 0.5

    /// Whether gc should rewrite the pack now.
    public var worthRewriting: Bool { Double(liveBytes) < Self.rewriteBelow * Double(size) }
}

/// A pack as it is committed: its ID, size and the objects it holds.
public struct PackContents: Sendable, Equatable {
    public var pack: ContentID
    public var size: UInt64
    public var entries: [PackFormat.Entry]
    public init(pack: ContentID, size: UInt64, entries: [PackFormat.Entry]) {
        self.pack = pack
        self.size = size
        self.entries = entries
    }
}

/// Which object of a store lives in which pack. It belongs to the stores (every entry can be
/// rebuilt from the packs' trailers), but is kept in the catalog database so a lookup is an
/// index probe and a shared catalog shares it. Never journaled to the stores' library records.
public protocol PackIndex: AnyObject, Sendable {
    /// Where `id` is packed on the store, or nil when it is not in a pack there.
    func packedObject(store: String, id: ContentID) throws -> PackedObject?
    /// Which of `ids` are packed on the store (one read, however many).
    func packedAmong(store: String, ids: [ContentID]) throws -> Set<ContentID>
    /// Records committed packs and their objects in one transaction. An object already packed
    /// on the store moves to the new pack (its old bytes become dead space).
    func addPacks(store: String, _ packs: [PackContents]) throws
    /// Drops objects' entries in one transaction; their bytes stay in their packs as dead space.
    func removePackedObjects(store: String, ids: [ContentID]) throws
    /// Every pack of the store with its live bytes.
    func packs(store: String) throws -> [PackSummary]
    /// The live objects of one pack, in pack order.
    func packEntries(store: String, pack: ContentID) throws -> [PackFormat.Entry]
    /// In one transaction: records the new packs, points the old pack's live objects found in
    /// them to them and, when none is left in the old pack, forgets it. True when it was
    /// forgotten (its object may then be deleted).
    @discardableResult func replacePack(store: String, old: ContentID, with new: [PackContents]) throws -> Bool
    /// Packed objects of the store in ID order, a page after `after`.
    func packedObjects(store: String, after: ContentID?, limit: Int) throws -> [ContentID]
    /// Forgets every pack of the store (a purge, or before reindexing from the trailers).
    func forgetPacks(store: String) throws
}
