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
            SnapshotEntry(path: "b ü.txt", type: .file, size: 3, mode: 0o600, mtimeNs: 1_800_000_000_123_456_789, inode: 42, fileID: id),
            SnapshotEntry(path: "a", type: .directory, mode: 0o755),
            SnapshotEntry(path: "a/link", type: .symlink, target: "../b ü.txt"),
        ])
        let decoded = try Manifest.decode(try manifest.encoded())
        #expect(decoded == manifest)
        #expect(decoded.entries.map(\.path) == ["a", "a/link", "b ü.txt"])
    }

    @Test func numbersAtTheirLimitsRoundTrip() throws {
        // Pre-1970 and far-future times, the largest inode and size, zero: the hand-written
        // encoder must agree with JSONDecoder on every one (a property over random values too).
        var generator = SystemRandomNumberGenerator()
        let extremes: [(UInt64, Int64, UInt64)] = [(0, 0, 0), (UInt64.max, Int64.min + 1, UInt64(Int64.max)),
                                                   (1, -1, 1), (9, Int64.max, 10), (10, -999_999_999, 99)]
            + (0..<200).map { _ in (generator.next(), Int64.random(in: Int64.min + 1...Int64.max), generator.next() >> 1) }
        let entries = extremes.enumerated().map { index, values in
            SnapshotEntry(path: "f\(index)", type: .file, size: values.2, mode: UInt32(index), mtimeNs: values.1, inode: values.0)
        }
        let manifest = Manifest(header: .init(root: "/", time: Date(timeIntervalSince1970: 0), tag: nil, parent: nil,
                                              partial: false, skipped: []), entries: entries)
        #expect(try Manifest.decode(try manifest.encoded()) == manifest)
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
