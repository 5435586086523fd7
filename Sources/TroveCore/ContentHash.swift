import Crypto

/// The content-address construction of protocol v1 (see docs/protocol.md).
///
/// `leaf_hash[i] = SHA-256("trove/leaf/v1" || 0x00 || u64be(i) || leaf)`;
/// `file_id = SHA-256("trove/root/v1" || 0x00 || u64be(size) || leaf_hash[0] || …)`.
public enum ContentHash {
    /// Bytes per leaf: 8 MiB. The last leaf may be shorter; an empty file has no leaves.
    public static let leafSize = 8 * 1024 * 1024
    static let leafDomain = Array("trove/leaf/v1".utf8) + [0]
    static let rootDomain = Array("trove/root/v1".utf8) + [0]

    /// Number of leaves of a file of `size` bytes.
    public static func leafCount(size: UInt64) -> Int {
        Int((size + UInt64(leafSize) - 1) / UInt64(leafSize))
    }

    /// Hashes one leaf; `index` is bound in so leaves cannot be reordered.
    public static func leafHash(index: Int, leaf: UnsafeRawBufferPointer) -> LeafHash {
        var hasher = SHA256()
        hasher.update(data: leafDomain)
        hasher.update(data: bigEndian(UInt64(index)))
        hasher.update(bufferPointer: leaf)
        return LeafHash(bytes: Array(hasher.finalize()))
    }

    /// Convenience for small in-memory leaves.
    public static func leafHash(index: Int, leaf: [UInt8]) -> LeafHash {
        leaf.withUnsafeBytes { leafHash(index: index, leaf: $0) }
    }

    /// The root over the file size and its leaf hashes: the file's ID.
    public static func root(size: UInt64, leafHashes: [LeafHash]) -> ContentID {
        var hasher = SHA256()
        hasher.update(data: rootDomain)
        hasher.update(data: bigEndian(size))
        for leaf in leafHashes { hasher.update(data: leaf.bytes) }
        return ContentID(digest: Array(hasher.finalize()))
    }

    /// Hashes a whole in-memory byte string (tests, small manifests).
    public static func hash(_ data: [UInt8]) -> (id: ContentID, leaves: [LeafHash]) {
        var leaves: [LeafHash] = []
        var offset = 0
        data.withUnsafeBytes { all in
            while offset < all.count {
                let end = min(offset + leafSize, all.count)
                leaves.append(leafHash(index: leaves.count, leaf: UnsafeRawBufferPointer(rebasing: all[offset..<end])))
                offset = end
            }
        }
        return (root(size: UInt64(data.count), leafHashes: leaves), leaves)
    }

    public static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * UInt64($0))) }
    }
}

/// The SHA-256 of one leaf, bound to its index.
public struct LeafHash: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init(bytes: [UInt8]) { self.bytes = bytes }
    public var description: String { Base32.encode(bytes) }

    /// Packs leaf hashes into the 32-bytes-each blob the catalog keeps.
    public static func pack(_ leaves: [LeafHash]) -> [UInt8] { leaves.flatMap(\.bytes) }

    /// Splits a packed blob; nil when its length is not a multiple of 32.
    public static func unpack(_ blob: [UInt8]) -> [LeafHash]? {
        guard blob.count % 32 == 0 else { return nil }
        return stride(from: 0, to: blob.count, by: 32).map { LeafHash(bytes: Array(blob[$0..<$0 + 32])) }
    }
}
