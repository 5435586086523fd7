import Foundation
import Testing
import TroveTesting

/// Issue 4's user stories through the real binary on real trees.
struct SnapshotScenarioTests {
    let dir = TempFolder("snapshots")
    var lib: String { dir.at("library") }
    var docs: String { dir.at("Documents") }

    func run(_ args: [String], at time: Double? = nil) throws -> TroveRun {
        try trove(args, library: lib, environment: time.map { ["TROVE_NOW": String($0)] } ?? [:])
    }

    func setUp() throws {
        #expect(try run(["init"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb0")]).status == 0)
        dir.file("Documents/taxes/2025/return.pdf", testBytes(300_000, seed: 1))
        dir.file("Documents/Photos/été à Paris/IMG 0001.jpg", testBytes(200_000, seed: 2))
        dir.file("Documents/notes.txt", text: "remember the milk\n")
        dir.file("Documents/empty.txt", [])
        dir.folder("Documents/empty folder")
        try FileManager.default.createSymbolicLink(atPath: dir.at("Documents/latest-return"), withDestinationPath: "taxes/2025/return.pdf")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000), .posixPermissions: 0o600],
                                              ofItemAtPath: dir.at("Documents/taxes/2025/return.pdf"))
    }

    func snapshotID(_ args: [String], at time: Double? = nil) throws -> String {
        let result = try run(["snapshot", docs, "--json"] + args, at: time)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try result.json()["id"] as? String)
    }

    @Test func snapshotChangeFindRestoreDiff() throws {
        try setUp()
        let first = try snapshotID(["--tag", "before"])
        try FileManager.default.removeItem(atPath: dir.at("Documents/taxes/2025/return.pdf"))
        dir.file("Documents/notes.txt", text: "remember the milk and eggs\n")
        dir.file("Documents/new.txt", text: "new\n")
        let second = try snapshotID([])
        let again = try run(["snapshot", docs, "--json"]).json()
        #expect(again["files_read"] as? Int == 0)

        // find the deleted file: only in the older snapshot.
        let hits = try run(["find", "return.pdf", "--json"]).json()["hits"] as? [[String: Any]] ?? []
        let fileHits = hits.filter { $0["type"] as? String == "file" }
        #expect(fileHits.count == 1)
        #expect(fileHits.first?["snapshot"] as? String == first)
        #expect(fileHits.first?["path"] as? String == dir.at("Documents/taxes/2025/return.pdf"))
        #expect(try run(["find", "*.jpg", "--json"]).json()["hits"].map { ($0 as? [Any])?.count } == 3)
        #expect(try run(["find", "été", "--json"]).json()["hits"].map { ($0 as? [Any])?.isEmpty } == false)

        // restore it byte-identical with its mtime and mode.
        let out = dir.at("restored-return.pdf")
        let restore = try run(["restore", "\(first.prefix(10)):taxes/2025/return.pdf", "--to", out])
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(testBytes(300_000, seed: 1)))
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 == 1_700_000_000)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        // Never overwrites without asking.
        #expect(try run(["restore", "\(first):taxes/2025/return.pdf", "--to", out]).status == 64)

        // A whole snapshot, with links, empty files and folders.
        let full = dir.at("full")
        #expect(try run(["restore", first, "--to", full]).status == 0)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: full + "/latest-return") == "taxes/2025/return.pdf")
        #expect(FileManager.default.fileExists(atPath: full + "/empty folder"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: full + "/empty.txt")).isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: full + "/Photos/été à Paris/IMG 0001.jpg")) == Data(testBytes(200_000, seed: 2)))

        // diff shows exactly the changes.
        let diff = try run(["diff", first, second, "--json"]).json()
        func paths(_ key: String) -> [String] { (diff[key] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }.sorted() }
        #expect(paths("added") == ["new.txt"])
        #expect(paths("removed") == ["taxes/2025/return.pdf"])
        #expect(paths("modified") == ["notes.txt"])
        let live = try run(["diff", second, "live", "--json"]).json()
        #expect((live["added"] as? [Any])?.isEmpty == true)
        #expect((live["modified"] as? [Any])?.isEmpty == true)

        // ls browses the old tree.
        let ls = try run(["ls", "\(first):taxes/2025", "--json"]).json()
        #expect((ls["entries"] as? [[String: Any]])?.map { $0["name"] as? String } == ["return.pdf"])
        #expect(try run(["ls", "latest"]).stdout.contains("new.txt"))
    }

    @Test func forgetFollowsThePolicyWithAnInjectedClock() throws {
        try setUp()
        #expect(try run(["track", docs, "--every", "1h", "--keep-hourly", "3", "--keep-daily", "2", "--keep-weekly", "0",
                         "--keep-monthly", "0", "--no-snapshot"]).status == 0)
        let start = 1_800_000_000.0
        var ids: [String] = []
        for hour in 0..<30 {  // 30 hourly snapshots over two days
            dir.file("Documents/counter.txt", text: "\(hour)")
            ids.append(try snapshotID([], at: start + Double(hour) * 3600))
        }
        let dry = try run(["forget", "--dry-run", "--json"]).json()
        let items = dry["items"] as? [[String: Any]] ?? []
        let kept = items.filter { $0["keep"] as? Bool == true }.compactMap { $0["id"] as? String }
        // Three newest hours, plus the newest of each of the last two days.
        #expect(Set(kept).isSuperset(of: ids.suffix(3)))
        #expect(kept.count == 4)
        #expect(try run(["snapshots", "--json"]).json()["snapshots"].map { ($0 as? [Any])?.count } == 30)
        #expect(try run(["forget"]).status == 0)
        let left = (try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(Set(left) == Set(kept))
        // Content stays until gc; the latest files still restore.
        #expect(try run(["gc"]).status == 0)
        #expect(try run(["restore", "latest:counter.txt", "--to", dir.at("c.txt")]).status == 0)
        #expect(try String(contentsOfFile: dir.at("c.txt"), encoding: .utf8) == "29")
        #expect(try run(["verify"]).status == 0)
    }

    @Test func hostileManifestPathsAreRefused() throws {
        try setUp()
        let id = try snapshotID([])
        // Someone tampers with the index so an entry climbs out of the destination.
        try tamper(lib + "/catalog.sqlite", """
            INSERT INTO paths (path, name) VALUES ('\(docs)/../../escaped.txt', 'escaped.txt');
            INSERT INTO versions (root, path_id, first_seq, last_seq, type, size, mode, mtime_s, mtime_nsec, inode, file_id, target)
              SELECT root, (SELECT id FROM paths WHERE name = 'escaped.txt'), first_seq, last_seq, type, size, mode, mtime_s, mtime_nsec,
                inode, file_id, target
              FROM versions WHERE type = 'f' LIMIT 1;
            """)
        let dest = dir.at("restore-here")
        let result = try run(["restore", id, "--to", dest])
        #expect(result.status == 65)
        #expect(result.stderr.contains("unsafe path"))
        #expect(!FileManager.default.fileExists(atPath: dest))
        #expect(!FileManager.default.fileExists(atPath: dir.at("escaped.txt")))
    }

    @Test func restoringIntoAnExistingFolderKeepsItsMode() throws {
        try setUp()
        let first = try snapshotID([])
        let dest = dir.folder("private")
        chmod(dest, 0o700)
        #expect(try run(["restore", first, "--to", dest]).status == 0)
        let mode = try FileManager.default.attributesOfItem(atPath: dest)[.posixPermissions] as? Int
        #expect(mode == 0o700)
        #expect(FileManager.default.fileExists(atPath: dest + "/notes.txt"))
    }

    @Test func restoreNeverWritesThroughAPlantedSymlink() throws {
        try setUp()
        let first = try snapshotID([])
        let dest = dir.folder("dest")
        let outside = dir.folder("outside")
        // The destination already has "taxes" pointing elsewhere.
        try FileManager.default.createSymbolicLink(atPath: dest + "/taxes", withDestinationPath: outside)
        // Without --overwrite the link is in the way: refused before anything is written.
        let refused = try run(["restore", first, "--to", dest])
        #expect(refused.status == 64)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dest) == ["taxes"])
        // With it, the link itself is replaced by a real folder; nothing goes through it.
        #expect(try run(["restore", first, "--to", dest, "--overwrite"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        var info = stat()
        #expect(lstat(dest + "/taxes", &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR)
    }

    @Test func fileChangingDuringSnapshotIsNeverRecordedWrong() throws {
        try setUp()
        let growing = dir.file("Documents/growing.log", testBytes(4_000_000, seed: 5))
        let writer = Thread {
            guard let handle = FileHandle(forWritingAtPath: growing) else { return }
            handle.seekToEndOfFile()
            for i in 0..<200 { handle.write(Data(testBytes(20_000, seed: UInt64(100 + i)))); usleep(2000) }
            try? handle.close()
        }
        writer.start()
        let result = try run(["snapshot", docs, "--json"])
        #expect(result.status == 0 || result.status == 1)
        while writer.isExecuting { usleep(10_000) }
        let report = try result.json()
        let skipped = (report["skipped"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String }
        if !skipped.contains(growing) {
            // Recorded: what it recorded must be exactly what was there when read (a prefix now).
            let out = dir.at("growing.out")
            #expect(try run(["restore", "latest:growing.log", "--to", out]).status == 0)
            let restored = try Data(contentsOf: URL(fileURLWithPath: out))
            let now = try Data(contentsOf: URL(fileURLWithPath: growing))
            #expect(now.prefix(restored.count) == restored)
        }
    }

    @Test(.enabled(if: !isRoot, "root reads everything"))
    func unreadableFileMakesAPartialSnapshot() throws {
        try setUp()
        let secret = dir.file("Documents/secret.txt", text: "x")
        chmod(secret, 0)
        let result = try run(["snapshot", docs, "--json"])
        #expect(result.status == 1)
        #expect(try result.json()["partial"] as? Bool == true)
    }

    @Test func externalSnapshotFoldersAreSearchableAndRestorable() throws {
        try setUp()
        // A ZFS-style dataset with two read-only snapshots.
        for (name, text) in [("autosnap_2026-11-01_00:00:00_daily", "v1"), ("autosnap_2026-11-02_00:00:00_daily", "v2")] {
            dir.file("tank/.zfs/snapshot/\(name)/report.txt", text: text)
        }
        let index = try run(["index-snapshots", dir.at("tank/.zfs/snapshot"), "--json"])
        #expect(index.status == 0, "\(index.stderr)")
        #expect((try index.json()["snapshots"] as? [Any])?.count == 2)
        #expect(try index.json()["layout"] as? String == "zfs")
        let hits = try run(["find", "report.txt", "--json"]).json()["hits"] as? [[String: Any]] ?? []
        #expect(hits.count == 2)
        #expect(hits.first?["path"] as? String == dir.at("tank/report.txt"))
        let oldest = try #require(hits.first?["snapshot"] as? String)
        #expect(try run(["restore", "\(oldest):report.txt", "--to", dir.at("r.txt")]).status == 0)
        #expect(try String(contentsOfFile: dir.at("r.txt"), encoding: .utf8) == "v1")
        // Indexing again adds nothing.
        #expect((try run(["index-snapshots", dir.at("tank/.zfs/snapshot"), "--json"]).json()["snapshots"] as? [[String: Any]])?
            .allSatisfy { $0["new"] as? Bool == false } == true)
    }

    @Test func dupesAndDiskUsage() throws {
        try setUp()
        dir.file("Documents/copy of return.pdf", testBytes(300_000, seed: 1))
        dir.file("Documents/Photos/IMG 0001 (1).jpg", testBytes(190_000, seed: 3))
        _ = try snapshotID([])
        let exact = try run(["dupes", "--json"]).json()["groups"] as? [[String: Any]] ?? []
        #expect(exact.count == 1)
        #expect(exact.first?["wasted"] as? Int == 300_000)
        let near = try run(["dupes", "--near", "--json"]).json()["groups"] as? [[String: Any]] ?? []
        #expect(near.contains { ($0["reason"] as? String)?.contains("img 0001") == true })
        let du = try run(["du", docs, "--json"]).json()
        #expect(du["total"] as? Int == 300_000 * 2 + 200_000 + 190_000 + 18)
        #expect((du["files"] as? [[String: Any]])?.first?["bytes"] as? Int == 300_000)
        #expect((du["stores"] as? [[String: Any]])?.first?["store"] as? String == "usb0")
    }

    @Test func nearDuplicateMediaAreMatchedByDurationAndResolution() throws {
        try setUp()
        dir.file("Documents/Video/holiday.mov", testBytes(50_000, seed: 7))
        dir.file("Documents/Video/export for phone.mp4", testBytes(20_000, seed: 8))
        dir.file("Documents/Video/other.mp4", testBytes(20_000, seed: 9))
        // A stand-in ffprobe: the two holiday files are the same 12.3 s 1080p clip.
        let bin = dir.folder("bin")
        let script = """
            #!/bin/sh
            for last; do :; done
            case "$last" in
              *other.mp4) echo '{"format":{"duration":"3.0"},"streams":[{"codec_type":"video","width":640,"height":480}]}' ;;
              *holiday.mov|*phone.mp4) echo '{"format":{"duration":"12.3"},"streams":[{"codec_type":"video","width":1920,"height":1080}]}' ;;
              *) exit 1 ;;
            esac
            """
        dir.file("bin/ffprobe", text: script)
        chmod(bin + "/ffprobe", 0o755)
        _ = try snapshotID([])
        let path = bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        let near = try trove(["dupes", "--near", "--json"], library: lib, environment: ["PATH": path]).json()
        let groups = near["groups"] as? [[String: Any]] ?? []
        let media = try #require(groups.first { ($0["reason"] as? String)?.contains("same media") == true })
        #expect((media["reason"] as? String)?.contains("1920x1080") == true)
        #expect(Set(media["paths"] as? [String] ?? []) == [dir.at("Documents/Video/holiday.mov"), dir.at("Documents/Video/export for phone.mp4")])
    }
}
