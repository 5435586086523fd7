import Foundation

/// A file's content as the catalog knows it: ID, size and leaf hashes.
public struct FileRecord: Sendable, Equatable {
    public var id: ContentID
    public var size: UInt64
    public var leafHashes: [LeafHash]
    public var firstSeen: Date

    public init(id: ContentID, size: UInt64, leafHashes: [LeafHash], firstSeen: Date) {
        self.id = id
        self.size = size
        self.leafHashes = leafHashes
        self.firstSeen = firstSeen
    }

    /// Why this record is inconsistent, or nil when the ID equals the root recomputed from
    /// the size and leaf hashes (the cryptographic consistency check).
    public var inconsistency: String? {
        let expected = ContentHash.leafCount(size: size)
        guard leafHashes.count == expected else {
            return "has \(leafHashes.count) leaf hashes but its size \(size) needs \(expected)"
        }
        guard leafHashes.allSatisfy({ $0.bytes.count == 32 }) else { return "has a leaf hash that is not 32 bytes" }
        let root = ContentHash.root(size: size, leafHashes: leafHashes)
        guard root == id else { return "its ID does not match the root of its size and leaf hashes (\(root))" }
        return nil
    }
}

/// Where and when a file was imported from (a file may have many origins).
public struct ImportRecord: Codable, Sendable, Equatable {
    public var fileID: ContentID
    public var path: String
    public var name: String
    public var mtime: Date
    public var time: Date

    public init(fileID: ContentID, path: String, name: String, mtime: Date, time: Date) {
        self.fileID = fileID
        self.path = path
        self.name = name
        self.mtime = mtime
        self.time = time
    }
}

/// One physical copy of a file on a store.
public struct CopyRecord: Codable, Sendable, Equatable {
    public var fileID: ContentID
    public var storeID: String
    /// Durability this copy is worth: the store's weight, or 0 until re-verified.
    public var copies: Int
    /// When the copy was written or adopted.
    public var mtime: Date
    /// When the copy last re-hashed correctly.
    public var verified: Date?

    public init(fileID: ContentID, storeID: String, copies: Int, mtime: Date, verified: Date?) {
        self.fileID = fileID
        self.storeID = storeID
        self.copies = copies
        self.mtime = mtime
        self.verified = verified
    }
}
