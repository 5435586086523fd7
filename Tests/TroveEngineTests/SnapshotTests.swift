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

    @Test func gcWithoutTheFullListCountsEveryObjectAndListsFifty() throws {
        // `trove gc` without --json keeps the first fifty objects for the screen, not a million.
        let t = try TestLibrary(stores: 1)
        let root = t.folder.at("many")
        for i in 0..<70 { t.folder.file("many/f\(i)", testBytes(64 + i, seed: UInt64(i + 1))) }
        let first = try t.library.snapshot(root)
        try FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        _ = try t.library.snapshot(root)
        _ = try t.library.forget(dryRun: false, explicit: [first.id])
        let gc = try t.library.gc(dryRun: false, listAll: false)
        #expect(gc.removed == 71, "70 files and the forgotten manifest")
        #expect(gc.unreferenced.count == 50)
        #expect(gc.bytesFreed >= UInt64((0..<70).reduce(0) { $0 + 64 + $1 }))
        #expect(try t.library.verify()[0].clean)
        #expect(try t.library.gc(dryRun: false, listAll: false).removed == 0)
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

/// The walk in manifest order, and snapshots settled a few entries at a time.
struct SnapshotStreamTests {
    @Test func theWalkGivesPathsInManifestOrder() throws {
        let t = try TestLibrary(stores: 1)
        for name in ["a/c", "a/b/d", "a-b", "a0", "a.x", "b/z/y", "é", "e", "a b/q"] { t.folder.file("tree/" + name, testBytes(3)) }
        #expect(link(t.folder.at("tree/e"), t.folder.at("tree/a b/link")) == 0)
        var scanner = TreeScanner(root: t.folder.at("tree"), excluded: [])
        scanner.scan()
        let paths = scanner.entries.map(\.path)
        #expect(paths == ["a", "a b", "a b/link", "a b/q", "a-b", "a.x", "a/b", "a/b/d", "a/c", "a0", "b", "b/z", "b/z/y", "e", "é"])
        #expect(paths == paths.sorted { PathKey.precedes($0, $1) })
        // The first name of a hard-linked file is the first in that order; the later one points to it.
        #expect(scanner.entries.first { $0.path == "e" }?.hardLink == "a b/link")
        #expect(scanner.entries.first { $0.path == "a b/link" }?.hardLink == nil)
    }

    @Test func theWalkLeavesOutExactlyTheExcludedFolders() throws {
        // A library or store folder inside the tree is never snapshotted; names that merely
        // start the same way are.
        let t = try TestLibrary(stores: 1)
        for name in ["lib/catalog", "lib-notes.txt", "sub/store/.trove/x", "sub/storex", "sub/a"] { t.folder.file("tree/" + name, testBytes(3)) }
        var scanner = TreeScanner(root: t.folder.at("tree"), excluded: [t.folder.at("tree/lib"), t.folder.at("tree/sub/store")])
        scanner.scan()
        #expect(scanner.entries.map(\.path) == ["lib-notes.txt", "sub", "sub/a", "sub/storex"])
    }

    @Test func aSnapshotSettledInSmallWindowsIsTheSameSnapshot() throws {
        let t = try TestLibrary(stores: 1)
        for i in 0..<40 { t.folder.file("tree/d\(i % 4)/f\(i)", testBytes(100 + i, seed: UInt64(i))) }
        // Hard links whose first name is in an earlier window than the later ones.
        #expect(link(t.folder.at("tree/d0/f0"), t.folder.at("tree/d3/link0")) == 0)
        #expect(link(t.folder.at("tree/d1/f1"), t.folder.at("tree/d1/zlink1")) == 0)
        let root = t.folder.at("tree")
        let whole = try t.library.snapshot(root, tag: nil, progress: SilentProgress(), window: 1_000)
        t.folder.file("tree/d2/f2", testBytes(7, seed: 77))
        t.folder.file("tree/d2/new", testBytes(8, seed: 78))
        try POSIX.unlink(t.folder.at("tree/d3/f3"))
        let small = try t.library.snapshot(root, tag: nil, progress: SilentProgress(), window: 3)
        #expect(small.filesRead == 2, "only the changed and the new file are read")
        #expect(small.filesUnchanged == whole.files - 2 - 2, "every other file is known (two names are hard links)")
        let again = try t.library.snapshot(root, tag: nil, progress: SilentProgress(), window: 1_000)
        #expect(again.filesRead == 0)
        let entries = { (id: String) in try t.library.snapshotIndex.entries(of: try t.library.resolveSnapshot(id), under: nil) }
        #expect(try entries(small.id) == entries(again.id))
        let linked = try entries(small.id).first { $0.path == "d3/link0" }
        #expect(linked?.hardLink == "d0/f0" && linked?.fileID != nil)
        #expect(try entries(small.id).first { $0.path == "d3/link0" }?.fileID == entries(small.id).first { $0.path == "d0/f0" }?.fileID)
        // The manifest in the stores says the same as the index.
        let manifest = try Manifest.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: t.objectPath(small.id, store: 0)))))
        #expect(manifest.entries == (try entries(small.id)))
    }

    @Test func spoolsKeepEveryWindowInOrder() throws {
        // Windows are encoded on another thread while the walk goes on: none may be lost,
        // reordered or read back before it is written.
        let folder = TempFolder()
        let spools = try SnapshotSpools(in: folder.path)
        var written: [SnapshotEntry] = []
        var lines: [UInt8] = []
        for window in 0..<9 {
            let entries = (0..<(window * 700 + 1)).map { index in
                SnapshotEntry(path: "w\(window)/f\(index)", type: .file, size: UInt64(index), mode: 0o644,
                              mtime: FileTime(seconds: Int64(window), nanoseconds: Int32(index)), inode: UInt64(window * 10_000 + index),
                              fileID: ContentID(bytes: [UInt8](repeating: UInt8(window), count: 31) + [UInt8(index % 256)]))
            }
            try spools.write(entries, parents: Array(repeating: nil, count: entries.count))
            written += entries
            for entry in entries { Manifest.appendLine(entry, to: &lines) }
        }
        let manifest = try spools.manifestLines()
        var reader = manifest.reader
        var read = [UInt8](repeating: 0, count: lines.count + 10)
        var total = 0
        while true {
            let n = try read.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[total...])) }
            if n == 0 { break }
            total += n
        }
        #expect(manifest.size == UInt64(lines.count) && Array(read[..<total]) == lines)
        var entries = try spools.indexEntries()
        var back: [SnapshotEntry] = []
        while let entry = try entries.next() { back.append(entry) }
        #expect(back == written)
    }

    @Test func spooledEntriesComeBackExactly() throws {
        let folder = try TempFolder()
        var random = SplitMix64(seed: 5)
        let spool = try EntrySpool(in: folder.path)
        var written: [SnapshotEntry] = []
        for index in 0..<3_000 {
            let roll = random.next()
            var entry = SnapshotEntry(path: "d\(roll % 7)/fïle \(index)", type: [.file, .directory, .symlink, .fifo, .charDevice][Int(roll % 5)],
                                      size: roll >> 20, mode: UInt32(roll & 0o7777), mtime: FileTime(seconds: Int64(bitPattern: roll) >> 3, nanoseconds: Int32(roll % 1_000_000_000)),
                                      inode: roll, fileID: roll % 3 == 0 ? nil : ContentID(bytes: (0..<32).map { UInt8(truncatingIfNeeded: roll >> ($0 % 8)) }),
                                      target: roll % 4 == 0 ? "../t\(index)" : nil, uid: roll % 5 == 0 ? nil : UInt32(roll % 70_000),
                                      gid: roll % 6 == 0 ? nil : UInt32(roll % 900))
            if roll % 9 == 0 { entry.xattrs = [ExtendedAttribute(name: "user.big", value: testBytes(index == 9 ? 1_500_000 : 40, seed: roll))] }
            if roll % 11 == 0 { entry.hardLink = "d0/first" }
            if entry.type == .charDevice { entry.device = roll % 4096 }
            entry.sparse = roll % 13 == 0
            written.append(entry)
            try spool.append(entry)
        }
        for _ in 0..<2 {
            var reader = try spool.reader()
            var read: [SnapshotEntry] = []
            while let entry = try reader.next() { read.append(entry) }
            #expect(read == written)
        }
    }
}

/// Restores stream the snapshot's entries; hard links are settled without a map of every file.
struct StreamedRestoreTests {
    @Test func aSubfolderWhoseFirstNameIsOutsideKeepsItsNamesLinked() throws {
        let t = try TestLibrary(stores: 1)
        t.folder.file("tree/a/first", testBytes(500, seed: 1))
        t.folder.file("tree/b/plain", testBytes(20, seed: 2))
        #expect(link(t.folder.at("tree/a/first"), t.folder.at("tree/b/second")) == 0)
        #expect(link(t.folder.at("tree/a/first"), t.folder.at("tree/b/third")) == 0)
        let snapshot = try t.library.snapshot(t.folder.at("tree"))
        let report = try t.library.restore(snapshot.id + ":b", to: t.folder.at("out"))
        #expect(report.files == 2 && report.hardLinks == 1)
        let second = try #require(try POSIX.stat(t.folder.at("out/second")))
        let third = try #require(try POSIX.stat(t.folder.at("out/third")))
        #expect(second.st_ino == third.st_ino && second.st_nlink == 2)
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.folder.at("out/third"))) == Data(testBytes(500, seed: 1)))
    }

    @Test func aLinkToAPathThisRestoreDidNotWriteIsNeverMade() throws {
        // (Linking to where the first name would have landed, without remembering that it was
        // written there, would give the user's own file a second name.)
        let t = try TestLibrary(stores: 1)
        let file = t.folder.file("src/x", testBytes(64, seed: 3))
        let imported = try t.library.importPaths([file])
        let id = try #require(ContentID(imported.imported[0].id))
        // A damaged manifest: "b" claims to be a second name of "a", which the snapshot lacks.
        let time = FileTime(seconds: 1_700_000_000)
        let entries = [SnapshotEntry(path: "b", type: .file, size: 64, mtime: time, fileID: id, hardLink: "a")]
        let record = try t.library.snapshotIndex.addSnapshot(SnapshotRecord(id: "damaged", root: "/r", time: Date(), entries: 1, bytes: 64),
                                                             entries: entries, events: [])
        // The user's own "a" there, the same size and time, must not gain a second name.
        let own = t.folder.file("out/a", testBytes(64, seed: 9))
        var times = [POSIX.timespec(time), POSIX.timespec(time)]
        #expect(utimensat(AT_FDCWD, own, &times, 0) == 0)
        let report = try t.library.restore(record.id, to: t.folder.at("out"))
        #expect(report.hardLinks == 0 && report.files == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: t.folder.at("out/b"))) == Data(testBytes(64, seed: 3)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: own)) == Data(testBytes(64, seed: 9)))
        #expect(try POSIX.stat(own)?.st_nlink == 1)
    }
}
