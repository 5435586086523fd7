import Foundation
import TroveCore
import TroveStorage

/// The leaf hashes of an upload's parts, taken as each part arrives (`<upload>.leaves` beside
/// it), so committing a large upload needs no second pass over its bytes. A part counts only
/// when it is exactly one leaf at a leaf boundary (or the last, short leaf), and only when this
/// very process received it: after a restart the bytes on disk may not be what was hashed (a
/// crash loses unsynced pages), so the upload is then hashed again from the drive.
enum UploadLeaves {
    /// Tells this process's entries from a previous one's.
    static let instance: [UInt8] = (0..<8).map { _ in UInt8.random(in: 0...255) }
    /// Instance, part length (big-endian), leaf hash.
    static let entrySize = 8 + 8 + 32

    static func path(_ store: LocalStore, _ upload: String) -> String { Uploads.path(store, upload) + ".leaves" }

    /// The hasher for a part starting at `offset`, or nil when it does not start a leaf.
    static func hasher(forPartAt offset: UInt64) -> ContentHasher? {
        offset % UInt64(ContentHash.leafSize) == 0 ? ContentHasher(startingAtLeaf: Int(offset / UInt64(ContentHash.leafSize))) : nil
    }

    /// Records a part that arrived whole. Best effort: a missing entry only costs a re-read.
    static func record(_ store: LocalStore, _ upload: String, offset: UInt64, hasher: ContentHasher) {
        var hasher = hasher
        let length = hasher.size
        let leaves = hasher.finishLeaves()
        guard leaves.count == 1, length > 0 else { return }
        let fd = open(path(store, upload), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let entry = instance + ContentHash.bigEndian(length) + leaves[0].bytes
        let index = offset / UInt64(ContentHash.leafSize)
        _ = entry.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(index) * off_t(entrySize)) }
    }

    /// The content ID of an upload of `size` bytes from its recorded leaves, or nil when any
    /// leaf is missing, of another length, or recorded by another process.
    static func id(_ store: LocalStore, _ upload: String, size: UInt64) -> ContentID? {
        let count = ContentHash.leafCount(size: size)
        guard size > 0, let data = FileManager.default.contents(atPath: path(store, upload)),
              data.count >= count * entrySize else { return nil }
        let bytes = [UInt8](data)
        var leaves: [LeafHash] = []
        for index in 0..<count {
            let entry = bytes[index * entrySize..<(index + 1) * entrySize]
            let expected = min(UInt64(ContentHash.leafSize), size - UInt64(index) * UInt64(ContentHash.leafSize))
            guard Array(entry.prefix(8)) == instance,
                  entry.dropFirst(8).prefix(8).reduce(UInt64(0), { $0 << 8 | UInt64($1) }) == expected else { return nil }
            leaves.append(LeafHash(bytes: Array(entry.suffix(32))))
        }
        return ContentHash.root(size: size, leafHashes: leaves)
    }

    static func remove(_ store: LocalStore, _ upload: String) { unlink(path(store, upload)) }
}
