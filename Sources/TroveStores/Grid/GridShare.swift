import Crypto
import TroveCore

/// One share of an object on one grid member, stored on the member under the object's ID:
///
///     blocks   this share's block of each segment, in order (each segment encoded k-of-n)
///     hashes   SHA-256 of each block, bound to the share number and the segment index
///     root     SHA-256 of the footer's first 60 bytes and the block hashes: binds them to the object
///     footer   96 bytes: "TROVGSH1", version 1, k - 1, n (2), share number (2), 0 (2),
///              segment size (4), object size (8), object ID (32), SHA-256 of the 60 bytes before, 0 (4)
///
/// All integers big-endian. A block is ceil(segment length / k) bytes (zfec pads a segment with
/// zeros to k equal blocks). The footer comes last so a share streams out as it is encoded,
/// before the object's ID is known. Every block is checked on its own, without decoding, so a
/// corrupt share is named by the member that holds it. docs/grid.md describes the format.
struct GridShareHeader: Equatable, Sendable {
    static let magic = Array("TROVGSH1".utf8)
    static let size = 96
    static let checked = 60

    var k: Int
    var n: Int
    var share: Int
    var segmentSize: Int
    var objectSize: UInt64
    var objectID: ContentID

    var segments: Int { Int((objectSize + UInt64(segmentSize) - 1) / UInt64(segmentSize)) }
    /// Bytes of segment `s` of the object.
    func segmentLength(_ s: Int) -> Int { Int(min(UInt64(segmentSize), objectSize - UInt64(s) * UInt64(segmentSize))) }
    /// Bytes of this share's block of segment `s`.
    func blockLength(_ s: Int) -> Int { (segmentLength(s) + k - 1) / k }
    var fullBlock: Int { (segmentSize + k - 1) / k }
    /// Where block `s` starts in the share.
    func blockOffset(_ s: Int) -> UInt64 { UInt64(s) * UInt64(fullBlock) }
    var dataLength: UInt64 { segments == 0 ? 0 : UInt64(segments - 1) * UInt64(fullBlock) + UInt64(blockLength(segments - 1)) }
    /// The block hashes and the root that follow the blocks.
    var trailerOffset: UInt64 { dataLength }
    var trailerLength: Int { segments * 32 + 32 }
    /// The size the whole share must have.
    var shareSize: UInt64 { dataLength + UInt64(trailerLength + Self.size) }

    var encoded: [UInt8] {
        var bytes = Self.magic
        bytes.append(1)
        bytes.append(UInt8(k - 1))
        bytes += be(UInt64(n), 2) + be(UInt64(share), 2) + [0, 0]
        bytes += be(UInt64(segmentSize), 4) + be(objectSize, 8) + objectID.bytes
        // Byte 9 holds k - 1 so that k = 256 fits; n likewise sits in two bytes.
        bytes += Array(SHA256.hash(data: bytes))
        return bytes + [UInt8](repeating: 0, count: Self.size - bytes.count)
    }

    /// Reads a header; nil when the bytes are not an intact share header.
    init?(_ bytes: [UInt8]) {
        guard bytes.count >= Self.size, Array(bytes[0..<8]) == Self.magic, bytes[8] == 1,
              Array(bytes[Self.checked..<(Self.checked + 32)]) == Array(SHA256.hash(data: bytes[0..<Self.checked])),
              let id = ContentID(bytes: Array(bytes[28..<60])) else { return nil }
        k = Int(bytes[9]) + 1
        n = Int(unbe(bytes[10..<12]))
        share = Int(unbe(bytes[12..<14]))
        segmentSize = Int(unbe(bytes[16..<20]))
        objectSize = unbe(bytes[20..<28])
        objectID = id
        // Sizes a real object can have (no overflow in the layout arithmetic).
        guard k <= n, n <= 256, share < n, segmentSize > 0, objectSize < 1 << 56 else { return nil }
    }

    init(k: Int, n: Int, share: Int, segmentSize: Int, objectSize: UInt64, objectID: ContentID) {
        self.k = k
        self.n = n
        self.share = share
        self.segmentSize = segmentSize
        self.objectSize = objectSize
        self.objectID = objectID
    }

    /// The hash of block `s` of share `share`: bound to the share number and the segment, so a
    /// block moved to another share or place does not pass (the root binds the list to the object).
    static func blockHash(share: Int, segment s: Int, _ block: UnsafeRawBufferPointer) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("trove grid block\u{0}".utf8) + be(UInt64(share), 2) + be(UInt64(s), 8))
        hasher.update(bufferPointer: block)
        return Array(hasher.finalize())
    }

    /// The root that closes the trailer: the header's checked bytes and every block hash.
    func listRoot(_ hashes: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(encoded[0..<Self.checked]) + hashes))
    }
}

func be(_ value: UInt64, _ count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64(count - 1 - $0))) }
}

func unbe<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
    bytes.reduce(0) { $0 << 8 | UInt64($1) }
}
