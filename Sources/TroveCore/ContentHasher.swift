import Crypto

/// Computes a content ID over bytes that arrive in pieces of any size, holding no more than
/// one running SHA-256 (a leaf hash is a plain SHA-256 over its domain, index and bytes, so it
/// streams too). Used where bytes arrive from the network and must be checked before they count.
public struct ContentHasher: Sendable {
    private var current: SHA256?
    private var inLeaf = 0
    private var leaves: [LeafHash] = []
    public private(set) var size: UInt64 = 0

    public init() {}

    /// Hashes bytes that start at leaf `index` of a larger object (a part of an upload): its
    /// leaves come out of `finishLeaves()`.
    public init(startingAtLeaf index: Int) {
        leafBase = index
    }

    private var leafBase = 0

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            if current == nil {
                var hasher = SHA256()
                hasher.update(data: ContentHash.leafDomain)
                hasher.update(data: ContentHash.bigEndian(UInt64(leafBase + leaves.count)))
                current = hasher
            }
            let take = min(ContentHash.leafSize - inLeaf, bytes.count - offset)
            current!.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]))
            inLeaf += take
            offset += take
            if inLeaf == ContentHash.leafSize { closeLeaf() }
        }
        size += UInt64(bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    private mutating func closeLeaf() {
        guard let hasher = current else { return }
        leaves.append(LeafHash(bytes: Array(hasher.finalize())))
        current = nil
        inLeaf = 0
    }

    /// The leaf hashes of everything given (the last leaf may be short).
    public mutating func finishLeaves() -> [LeafHash] {
        closeLeaf()
        return leaves
    }

    /// The content ID of everything given.
    public mutating func finish() -> ContentID {
        closeLeaf()
        return ContentHash.root(size: size, leafHashes: leaves)
    }
}
