import Testing
import TroveCore
import TroveTesting

/// The pack codec (docs/packs.md): what is built reads back, and a damaged or truncated
/// trailer is refused rather than misread.
struct PackFormatTests {
    static func objects(_ random: inout SplitMix64, count: Int) -> [(id: ContentID, bytes: [UInt8])] {
        (0..<count).map { index in
            let bytes = testBytes(Int(random.next() % 5_000), seed: random.next())
            return (ContentHash.hash(bytes + [UInt8(index & 0xff)]).id, bytes)
        }
    }

    static func parse(_ pack: [UInt8]) throws -> [PackFormat.Entry] {
        let footer = try PackFormat.footer(Array(pack.suffix(PackFormat.footerSize)), packSize: UInt64(pack.count))
        let trailer = Array(pack[Int(footer.trailerRange.lowerBound)..<Int(footer.trailerRange.upperBound)])
        return try PackFormat.entries(trailer, footer: footer)
    }

    /// Property: for random objects (none, one, many; empty ones too), the trailer gives back
    /// every object's ID and bytes, and the size rule matches.
    @Test(arguments: [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func buildThenParseGivesBackEveryObject(_ seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let objects = Self.objects(&random, count: Int(random.next() % 60))
        let (pack, entries) = PackFormat.build(objects)
        #expect(PackFormat.isPack(prefix: Array(pack.prefix(8))))
        #expect(UInt64(pack.count) == PackFormat.size(lengths: objects.map { UInt64($0.bytes.count) }))
        let parsed = try Self.parse(pack)
        #expect(parsed == entries)
        #expect(parsed.map(\.id) == objects.map(\.id))
        for (entry, object) in zip(parsed, objects) {
            #expect(Array(pack[Int(entry.offset)..<Int(entry.offset + entry.length)]) == object.bytes)
        }
    }

    @Test func anIDGivenTwiceIsPackedOnce() throws {
        let bytes = testBytes(100, seed: 3)
        let id = ContentHash.hash(bytes).id
        let (pack, entries) = PackFormat.build([(id, bytes), (id, bytes)])
        #expect(entries.count == 1)
        #expect(try Self.parse(pack).count == 1)
    }

    /// Property: every single-byte change in the trailer or footer is caught (checksum, bounds
    /// or magic), and every truncation is refused.
    @Test(arguments: [UInt64(11), 12, 13])
    func damagedOrTruncatedTrailersAreRefused(_ seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        let (pack, _) = PackFormat.build(Self.objects(&random, count: 1 + Int(random.next() % 20)))
        let footer = try PackFormat.footer(Array(pack.suffix(PackFormat.footerSize)), packSize: UInt64(pack.count))
        for position in Int(footer.trailerOffset)..<pack.count {
            var damaged = pack
            damaged[position] ^= UInt8(1 << (random.next() % 8))
            #expect(throws: PackFormatError.self, "byte \(position) of \(pack.count)") { try Self.parse(damaged) }
        }
        for cut in [1, 7, PackFormat.footerSize, PackFormat.footerSize + 1, pack.count / 2, pack.count - 1] {
            #expect(throws: PackFormatError.self, "cut \(cut)") { try Self.parse(Array(pack.prefix(pack.count - cut))) }
        }
    }

    @Test func anObjectThatIsNotAPackIsNotTakenForOne() {
        let bytes = testBytes(5_000, seed: 9)
        #expect(!PackFormat.isPack(prefix: Array(bytes.prefix(8))))
        #expect(throws: PackFormatError.self) {
            try PackFormat.footer(Array(bytes.suffix(PackFormat.footerSize)), packSize: UInt64(bytes.count))
        }
    }
}
