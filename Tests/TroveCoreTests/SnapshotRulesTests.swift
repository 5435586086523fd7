import Foundation
import Testing
import TroveCore

struct RetentionTests {
    let base = Date(timeIntervalSince1970: 1_800_000_000)  // 2027-01-15T08:00:00Z

    func hourly(_ count: Int) -> [(id: String, time: Date)] {
        (0..<count).map { ("s\($0)", base + Double($0) * 3600) }
    }

    @Test func keepsNewestPerHourUpToTheLimit() {
        let decisions = retention(hourly(30), policy: RetentionPolicy(hourly: 24, daily: 0, weekly: 0, monthly: 0))
        #expect(decisions.filter(\.keep).count == 24)
        #expect(decisions.first { $0.id == "s29" }?.reasons.contains("latest") == true)
        #expect(decisions.first { $0.id == "s5" }?.keep == false)
        #expect(decisions.first { $0.id == "s6" }?.keep == true)
    }

    @Test func dailyKeepsTheNewestOfEachDay() {
        // 3 snapshots a day for 10 days; keep 7 daily -> the last of each of the 7 newest days.
        var snapshots: [(id: String, time: Date)] = []
        for day in 0..<10 { for slot in 0..<3 { snapshots.append(("d\(day)-\(slot)", base + Double(day) * 86_400 + Double(slot) * 3600)) } }
        let kept = retention(snapshots, policy: RetentionPolicy(hourly: 0, daily: 7, weekly: 0, monthly: 0)).filter(\.keep).map(\.id)
        #expect(Set(kept) == Set((3..<10).map { "d\($0)-2" }))
    }

    @Test func latestIsAlwaysKept() {
        let decisions = retention(hourly(3), policy: RetentionPolicy(hourly: 0, daily: 0, weekly: 0, monthly: 0))
        #expect(decisions.filter(\.keep).map(\.id) == ["s2"])
    }

    @Test func monthlyReachesBackAYear() {
        let snapshots = (0..<18).map { ("m\($0)", base + Double($0) * 31 * 86_400) }
        let kept = retention(snapshots, policy: RetentionPolicy(hourly: 0, daily: 0, weekly: 0, monthly: 12)).filter(\.keep)
        #expect(kept.count == 12)
    }
}

struct ManifestTests {
    @Test func roundTrips() throws {
        let id = ContentHash.hash([1, 2, 3]).id
        let manifest = Manifest(header: .init(root: "/home/u/Docs", time: Date(timeIntervalSince1970: 1_800_000_000), tag: "t",
                                              parent: nil, partial: true, skipped: ["/home/u/Docs/secret"]), entries: [
            SnapshotEntry(path: "b ü.txt", type: .file, size: 3, mode: 0o600, mtime: FileTime(seconds: 1_800_000_000, nanoseconds: 123_456_789), inode: 42, fileID: id,
                          uid: 1234, gid: 5678, xattrs: [ExtendedAttribute(name: "user.note", value: [0, 255, 10])], sparse: true),
            SnapshotEntry(path: "a/second", type: .file, size: 3, fileID: id, hardLink: "b ü.txt"),
            SnapshotEntry(path: "a/fifo", type: .fifo, mode: 0o600),
            SnapshotEntry(path: "a/tty", type: .charDevice, mode: 0o620, device: 0x8801),
            SnapshotEntry(path: "a", type: .directory, mode: 0o755),
            SnapshotEntry(path: "a/link", type: .symlink, target: "../b ü.txt"),
        ])
        let decoded = try Manifest.decode(try manifest.encoded())
        #expect(decoded == manifest)
        #expect(decoded.entries.map(\.path) == ["a", "a/fifo", "a/link", "a/second", "a/tty", "b ü.txt"])
    }

    /// A manifest's bytes are its ID: a name with control characters is written as it always was
    /// (backspace and form feed as `\u00XX`, unlike JSONEncoder's journal lines).
    @Test func controlCharactersInNamesKeepTheirBytes() throws {
        let manifest = Manifest(header: .init(root: "/", time: Date(timeIntervalSince1970: 0), tag: nil, parent: nil,
                                              partial: false, skipped: []),
                                entries: [SnapshotEntry(path: "a\u{8}\u{c}\u{1}\n\"\\/", type: .fifo, mode: 0o600)])
        let text = String(decoding: try manifest.encoded(), as: UTF8.self)
        #expect(text.contains(#""a\u0008\u000c\u0001\n\"\\/""#), "\(text)")
        #expect(try Manifest.decode(try manifest.encoded()) == manifest)
    }

    @Test func numbersAtTheirLimitsRoundTrip() throws {
        // Pre-1970 and far-future times, the largest inode and size, zero: the hand-written
        // encoder must agree with JSONDecoder on every one (a property over random values too).
        var generator = SystemRandomNumberGenerator()
        let extremes: [(UInt64, Int64, UInt64)] = [(0, 0, 0), (UInt64.max, Int64.min, UInt64(Int64.max)),
                                                   (1, -1, 1), (9, Int64.max, 10), (10, -999_999_999, 99)]
            + (0..<200).map { _ in (generator.next(), Int64.random(in: Int64.min...Int64.max), generator.next() >> 1) }
        let entries = extremes.enumerated().map { index, values in
            SnapshotEntry(path: "f\(index)", type: .file, size: values.2, mode: UInt32(index),
                          mtime: FileTime(seconds: values.1, nanoseconds: Int32(index % 1_000_000_000)), inode: values.0)
        }
        let manifest = Manifest(header: .init(root: "/", time: Date(timeIntervalSince1970: 0), tag: nil, parent: nil,
                                              partial: false, skipped: []), entries: entries)
        #expect(try Manifest.decode(try manifest.encoded()) == manifest)
    }

    @Test(arguments: [1, 7, 64, 4096])
    func aManifestReadInPiecesIsTheSameBytes(pieceSize: Int) throws {
        // A snapshot stores its manifest from a reader, a buffer at a time: lines cut at any
        // size must give the bytes that decode back to the manifest, and its announced size.
        var random = SplitMix64(seed: UInt64(pieceSize))
        let entries = (0..<300).map { index in
            SnapshotEntry(path: "d\(random.next() % 7)/f\(index) ü", type: .file, size: random.next() % 100_000,
                          mtime: FileTime(seconds: Int64(random.next() % 2_000_000_000)), inode: random.next() % 1_000_000,
                          fileID: ContentHash.hash([UInt8(index % 256)]).id)
        }
        let manifest = Manifest(header: .init(root: "/data", time: Date(timeIntervalSince1970: 1_800_000_000), tag: nil,
                                              parent: nil, partial: false, skipped: []), entries: entries)
        var reader = try ManifestReader(manifest)
        var bytes: [UInt8] = []
        var piece = [UInt8](repeating: 0, count: pieceSize)
        while true {
            let count = piece.withUnsafeMutableBytes { reader.read(into: $0) }
            if count == 0 { break }
            bytes += piece.prefix(count)
        }
        #expect(UInt64(bytes.count) == reader.size)
        #expect(try Manifest.decode(bytes) == manifest)
        #expect(bytes.filter { $0 == 0x0A }.count == entries.count + 1, "a header line and one line per entry")
    }

    @Test func readsFormatOneManifests() throws {
        // A manifest written before format 2: mtime in nanoseconds, no owner.
        let old = Array("""
            {"format":"trove-manifest-1","partial":false,"root":"/r","skipped":[],"time":0}
            {"i":7,"m":420,"mt":-1,"p":"x","s":0,"t":"f"}
            """.utf8)
        let entry = try #require(try Manifest.decode(old).entries.first)
        #expect(entry.mtime == FileTime(seconds: -1, nanoseconds: 999_999_999))
        #expect(entry.uid == nil && entry.mode == 0o644 && entry.inode == 7)
    }

    @Test func yearsPast2262KeepTheirNanoseconds() throws {
        // 2400-01-01: 13,569,465,600 s; in nanoseconds it would overflow 64 bits.
        let far = FileTime(seconds: 13_569_465_600, nanoseconds: 999_999_999)
        let manifest = Manifest(header: .init(root: "/", time: Date(timeIntervalSince1970: 0), tag: nil, parent: nil, partial: false,
                                              skipped: []), entries: [SnapshotEntry(path: "f", type: .file, mtime: far)])
        #expect(try Manifest.decode(try manifest.encoded()).entries[0].mtime == far)
    }

    @Test func extrasRoundTripThroughTheirCatalogForm() throws {
        var entry = SnapshotEntry(path: "p", type: .file, xattrs: [ExtendedAttribute(name: "system.posix_acl_access", value: [2, 0, 0, 0])],
                                  hardLink: "q\nr", device: nil, sparse: true)
        let json = try #require(entry.extras)
        var copy = SnapshotEntry(path: "p", type: .file)
        try copy.setExtras(json)
        #expect(copy == entry)
        entry.xattrs = []; entry.hardLink = nil; entry.sparse = false
        #expect(entry.extras == nil)
    }

    @Test func rejectsForeignFormats() {
        #expect(throws: TroveError.self) { try Manifest.decode(Array(#"{"format":"other","root":"/","time":0,"partial":false,"skipped":[]}"#.utf8)) }
    }

    @Test(arguments: [
        ("a/b.txt", true), ("dir", true), ("..", false), ("a/../../etc/passwd", false), ("/etc/passwd", false),
        ("a//b", false), ("./a", false), ("", false), ("a/\0b", false), ("..hidden", true),
        ("../\u{301}x", false), ("a/\u{301}b", true),
    ])
    func safePaths(_ path: String, _ safe: Bool) {
        #expect(SafePath.isSafeRelative(path) == safe)
    }
}
