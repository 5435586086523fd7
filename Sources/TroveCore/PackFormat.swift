import Crypto

/// A pack: many small objects stored as one object, so a store holds a few large objects
/// instead of one file (or one PUT) per small file. docs/packs.md, version 1:
///
///     "TROVPAK1"                                  8 bytes
///     object bytes, back to back                  (each object's offset and length in the trailer)
///     trailer: one entry per object               48 bytes each: ID (32) ‖ u64be offset ‖ u64be length
///     footer: u64be entry count ‖ checksum (the first 8 bytes of SHA-256("trove/pack/v1" ‖ 0 ‖ trailer))
///             ‖ u64be trailer offset ‖ "TROVPAK1"   32 bytes
///
/// A pack is named by its own content ID, so every kind of store keeps it as it keeps any
/// object. The footer at a fixed place lets the trailer be found with one small ranged read,
/// which is how a catalog is rebuilt from packs alone.
public enum PackFormat {
    public static let version = 1
    public static let magic: [UInt8] = Array("TROVPAK1".utf8)
    public static let entrySize = 48
    public static let footerSize = 32
    static let checksumDomain = Array("trove/pack/v1".utf8) + [0]

    /// One object in a pack.
    public struct Entry: Sendable, Hashable {
        public var id: ContentID
        public var offset: UInt64
        public var length: UInt64
        public init(id: ContentID, offset: UInt64, length: UInt64) {
            self.id = id
            self.offset = offset
            self.length = length
        }
        public var range: Range<UInt64> { offset..<offset + length }
    }

    /// Where the trailer is, read from the footer.
    public struct Footer: Sendable, Equatable {
        public var count: Int
        public var trailerOffset: UInt64
        var checksum: [UInt8]
        /// The bytes the trailer spans.
        public var trailerRange: Range<UInt64> { trailerOffset..<trailerOffset + UInt64(count * PackFormat.entrySize) }
    }

    /// Builds a pack of `objects` (in the order given; an ID given twice is kept once).
    public static func build(_ objects: [(id: ContentID, bytes: [UInt8])]) -> (bytes: [UInt8], entries: [Entry]) {
        var seen = Set<ContentID>()
        let unique = objects.filter { seen.insert($0.id).inserted }
        let payload = unique.reduce(0) { $0 + $1.bytes.count }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(magic.count + payload + unique.count * entrySize + footerSize)
        bytes += magic
        var entries: [Entry] = []
        entries.reserveCapacity(unique.count)
        for object in unique {
            entries.append(Entry(id: object.id, offset: UInt64(bytes.count), length: UInt64(object.bytes.count)))
            bytes += object.bytes
        }
        let trailerOffset = UInt64(bytes.count)
        let trailer = encode(entries)
        bytes += trailer
        bytes += ContentHash.bigEndian(UInt64(entries.count))
        bytes += checksum(trailer)
        bytes += ContentHash.bigEndian(trailerOffset)
        bytes += magic
        return (bytes, entries)
    }

    /// The size a pack of objects of these lengths has.
    public static func size(lengths: [UInt64]) -> UInt64 {
        UInt64(magic.count + footerSize + lengths.count * entrySize) + lengths.reduce(0, +)
    }

    /// True when the first bytes of an object are a pack's.
    public static func isPack(prefix: [UInt8]) -> Bool { prefix.count >= magic.count && Array(prefix.prefix(magic.count)) == magic }

    /// Reads the footer, the last `footerSize` bytes of a pack of `packSize` bytes.
    public static func footer(_ tail: [UInt8], packSize: UInt64) throws -> Footer {
        guard tail.count == footerSize, packSize >= UInt64(magic.count + footerSize) else {
            throw PackFormatError("too short to be a pack (\(packSize) bytes)")
        }
        guard Array(tail[24..<32]) == magic else { throw PackFormatError("the footer does not end with the pack magic") }
        let count = number(tail, at: 0)
        let trailerOffset = number(tail, at: 16)
        let trailerEnd = packSize - UInt64(footerSize)
        guard trailerOffset >= UInt64(magic.count), trailerOffset <= trailerEnd,
              count <= (trailerEnd - trailerOffset) / UInt64(entrySize),
              trailerOffset + count * UInt64(entrySize) == trailerEnd else {
            throw PackFormatError("the footer's entry count (\(count)) and trailer offset (\(trailerOffset)) do not fit a pack of \(packSize) bytes")
        }
        return Footer(count: Int(count), trailerOffset: trailerOffset, checksum: Array(tail[8..<16]))
    }

    /// Decodes and checks the trailer: its checksum, and every entry inside the object area
    /// without overlapping another.
    public static func entries(_ trailer: [UInt8], footer: Footer) throws -> [Entry] {
        guard trailer.count == footer.count * entrySize else { throw PackFormatError("the trailer is \(trailer.count) bytes, expected \(footer.count * entrySize)") }
        guard checksum(trailer) == footer.checksum else { throw PackFormatError("the trailer does not match its checksum") }
        var entries: [Entry] = []
        entries.reserveCapacity(footer.count)
        var end = UInt64(magic.count)
        for index in 0..<footer.count {
            let base = index * entrySize
            let id = ContentID(digest: Array(trailer[base..<base + 32]))
            let offset = number(trailer, at: base + 32), length = number(trailer, at: base + 40)
            guard offset >= end, length <= footer.trailerOffset, offset <= footer.trailerOffset - length else {
                throw PackFormatError("entry \(index) (\(id)) lies outside the object area or overlaps the one before it")
            }
            end = offset + length
            entries.append(Entry(id: id, offset: offset, length: length))
        }
        return entries
    }

    static func encode(_ entries: [Entry]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(entries.count * entrySize)
        for entry in entries {
            bytes += entry.id.bytes
            bytes += ContentHash.bigEndian(entry.offset)
            bytes += ContentHash.bigEndian(entry.length)
        }
        return bytes
    }

    static func checksum(_ trailer: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: checksumDomain)
        hasher.update(data: trailer)
        return Array(hasher.finalize().prefix(8))
    }

    static func number(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for byte in bytes[offset..<offset + 8] { value = value << 8 | UInt64(byte) }
        return value
    }
}

/// A pack whose footer or trailer does not hold together.
public struct PackFormatError: Error, Sendable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
