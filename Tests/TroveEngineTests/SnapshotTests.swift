import Foundation
import Testing
import TroveCore
@testable import TroveEngine
import TroveStorage
import TroveTesting

struct SnapshotTests {
    @Test func unchangedTreeIsNotReRead() throws {
        let t = try TestLibrary(stores: 1)
        for i in 0..<20 { t.folder.file("docs/d\(i % 3)/f\(i).txt", testBytes(1000 + i, seed: UInt64(i))) }
        let first = try t.library.snapshot(t.folder.at("docs"))
        #expect(first.filesRead == 20)
        let second = try t.library.snapshot(t.folder.at("docs"))
        #expect(second.filesRead == 0)
        #expect(second.filesUnchanged == 20)
        #expect(second.id != first.id)
        t.folder.file("docs/d0/f0.txt", testBytes(5, seed: 99))
        let third = try t.library.snapshot(t.folder.at("docs"))
        #expect(third.filesRead == 1)
    }

    @Test func everySnapshotKeepsItsOwnViewAcrossChangesAndForgets() throws {
        let t = try TestLibrary(stores: 1)
        let root = t.folder.at("docs")
        let view = { (id: String) throws -> [String: UInt64] in
            let record = try t.library.resolveSnapshot(id)
            return Dictionary(uniqueKeysWithValues: try t.library.snapshotIndex.entries(of: record, under: nil)
                .filter { $0.type == .file }.map { ($0.path, $0.size) })
        }
        t.folder.file("docs/a", testBytes(10, seed: 1))
        t.folder.file("docs/b", testBytes(20, seed: 2))
        let s1 = try t.library.snapshot(root)
        t.folder.file("docs/b", testBytes(21, seed: 3))
        t.folder.file("docs/c", testBytes(30, seed: 4))
        let s2 = try t.library.snapshot(root)
        try FileManager.default.removeItem(atPath: t.folder.at("docs/a"))
        let s3 = try t.library.snapshot(root)
        #expect(try view(s1.id) == ["a": 10, "b": 20])
        #expect(try view(s2.id) == ["a": 10, "b": 21, "c": 30])
        #expect(try view(s3.id) == ["b": 21, "c": 30])
        // Forget the latest: the one before is the latest again, and a new snapshot builds on it.
        _ = try t.library.forget(dryRun: false, explicit: [s3.id])
        #expect(try view(s2.id) == ["a": 10, "b": 21, "c": 30])
        t.folder.file("docs/d", testBytes(40, seed: 5))
        let s4 = try t.library.snapshot(root)
        #expect(s4.filesUnchanged == 2)
        #expect(try view(s4.id) == ["b": 21, "c": 30, "d": 40])
        #expect(try view(s2.id) == ["a": 10, "b": 21, "c": 30])
        #expect(try view(s1.id) == ["a": 10, "b": 20])
        #expect(try t.library.find("docs/a").count == 2, "a is in s1 and s2")
        #expect(try t.library.find("docs/d").count == 1)
    }

    @Test func manifestIsAnObjectInTheStores() throws {
        let t = try TestLibrary(stores: 1)
        t.folder.file("docs/a", testBytes(10))
        let report = try t.library.snapshot(t.folder.at("docs"))
        let id = try #require(ContentID(report.id))
        let bytes = try Data(contentsOf: URL(fileURLWithPath: t.objectPath(report.id, store: 0)))
        let manifest = try Manifest.decode([UInt8](bytes))
        #expect(manifest.entries.map(\.path) == ["a"])
        #expect(try t.library.catalog.copies(of: id).count == 1)
        // Heal replicates it like any file.
        _ = try t.library.addStore(folder: t.folder.folder("drive9"), label: "drive9", disk: "drive9")
        _ = try t.library.heal()
        #expect(try t.library.catalog.copies(of: id).count == 2)
    }

    @Test func forgetThenGCRemovesOnlyUnneededContent() throws {
        let t = try TestLibrary(stores: 1)
        let root = t.folder.at("docs")
        t.folder.file("docs/keep", testBytes(100, seed: 1))
        t.folder.file("docs/gone", testBytes(100, seed: 2))
        let first = try t.library.snapshot(root)
        try FileManager.default.removeItem(atPath: t.folder.at("docs/gone"))
        _ = try t.library.snapshot(root)
        _ = try t.library.forget(dryRun: false, explicit: [first.id])
        #expect(try t.library.find("gone").isEmpty)
        let gc = try t.library.gc(dryRun: false)
        // The deleted file's content and the first manifest go; the kept file stays.
        #expect(gc.unreferenced.count == 2)
        #expect(try t.library.find("keep").count == 1)
        #expect(try t.library.verify()[0].clean)
    }

    @Test func gcKilledAfterDeletingAnObjectLeavesNoRecordOfIt() throws {
        // The record goes before the object: dying between the two leaves an unknown object
        // (the next gc removes it), never a recorded copy that is gone ("missing" false alarm).
        let t = try TestLibrary(stores: 1)
        let root = t.folder.at("docs")
        t.folder.file("docs/gone", testBytes(100, seed: 2))
        let first = try t.library.snapshot(root)
        try FileManager.default.removeItem(atPath: t.folder.at("docs/gone"))
        _ = try t.library.snapshot(root)
        _ = try t.library.forget(dryRun: false, explicit: [first.id])
        t.inject(.dieAfterRemove, into: "drive0")
        #expect(throws: (any Error).self) { try t.library.gc(dryRun: false) }
        t.inject(nil, into: "drive0")
        let verify = try t.library.verify()[0]
        #expect(verify.missing.isEmpty, "a crash mid-gc must not leave a copy record whose object is gone")
        #expect(verify.clean)
    }

    @Test func externalSnapshotNamesGiveTimes() {
        let utc = { (s: String) in JSONCoding.parseDate(s) }
        #expect(Library.dateInName("autosnap_2026-11-21_14:00:00_hourly") == utc("2026-11-21T14:00:00Z"))
        #expect(Library.dateInName("zfs-auto-snap_daily-2026-01-02-0315") == utc("2026-01-02T03:15:00Z"))
        #expect(Library.dateInName("20261121-140500") == utc("2026-11-21T14:05:00Z"))
        #expect(Library.dateInName("backup 2026-03-04") == utc("2026-03-04T00:00:00Z"))
        #expect(Library.dateInName("42") == nil)
    }

    @Test func nameStemsForNearDuplicates() {
        #expect(Library.nameStem("IMG_0001.JPG") == Library.nameStem("IMG_0001 copy.jpg"))
        #expect(Library.nameStem("holiday (1).mov") == "holiday")
        #expect(Library.nameStem("report-final.pdf") == "report")
    }
}

struct MetadataWriterTests {
    @Test func someoneElsesSetuidProgramIsNotSetuidToTheRestorer() throws {
        let folder = TempFolder("meta")
        let path = folder.file("program", [0x23, 0x21])
        // Recorded as owned by another user, setuid; restored by a process that cannot chown.
        let entry = SnapshotEntry(path: "program", type: .file, mode: 0o4755, uid: geteuid() &+ 1, gid: getegid())
        let problems = MetadataWriter(restoresOwners: false).apply(entry, path: path)
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(info.st_mode & 0o7777 == 0o755)
        #expect(problems.contains { $0.contains("setuid/setgid cleared") })
        // The restorer's own setuid file keeps its bits.
        let own = SnapshotEntry(path: "program", type: .file, mode: 0o4755, uid: geteuid(), gid: getegid())
        #expect(MetadataWriter(restoresOwners: false).apply(own, path: path).isEmpty)
        #expect(lstat(path, &info) == 0 && info.st_mode & 0o7777 == 0o4755)
    }
}
