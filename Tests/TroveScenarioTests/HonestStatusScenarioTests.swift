#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TroveTesting

/// Issue 10: status never reassures falsely, and no input crashes Trove or hangs it.
struct HonestStatusScenarioTests {
    let dir = TempFolder("honest")
    var lib: String { dir.at("library") }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    @Test(arguments: [
        ["scrub", "--megabytes=-1"], ["scrub", "--megabytes", "18446744073710"], ["scrub", "--copies", "0"],
        ["du", "--top=-1"], ["heal", "--limit", "0"], ["heal", "--limit", "-5"], ["find", "x", "--limit", "0"],
        ["serve", "--limit", "0"], ["serve", "--passes", "0"], ["events", "--limit", "-3"],
        ["add", "/tmp", "--mirror", "0"], ["store", "add", "/tmp", "--copies", "99"], ["store", "set", "x", "--copies", "-1"],
        ["track", "/tmp", "--every", "0"], ["track", "/tmp", "--every", "inf"], ["track", "/tmp", "--keep-daily", "-1"],
        ["init", "--copies", "17"], ["demo", "--photos", "0"],
    ])
    func everyNumericOptionIsValidated(_ args: [String]) throws {
        #expect(try run(["init"]).status == 0 || args.first == "init")
        let result = try run(args)
        #expect(result.status == 64, "\(args): exit \(result.status) \(result.stderr)")
        #expect(result.stderr.contains("--") || result.stderr.contains("between"), "\(args): \(result.stderr)")
    }

    // MARK: failure domains

    func alertKinds(_ run: TroveRun) throws -> [String] {
        (try run.json()["alerts"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    func durability(_ run: TroveRun) throws -> [Int: Int] {
        var result: [Int: Int] = [:]
        for bucket in try run.json()["durability"] as? [[String: Any]] ?? [] {
            result[bucket["durability"] as? Int ?? -1] = bucket["files"] as? Int
        }
        return result
    }

    @Test func foldersOnOneDiskAreOneCopy() throws {
        #expect(try run(["init"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1"]).status == 0)
        let second = try run(["store", "add", dir.folder("usb1-b"), "--label", "usb1-b"])
        #expect(second.status == 0)
        #expect(second.stderr.contains("same disk as 'usb1'"), "\(second.stderr)")
        #expect(try run(["store", "add", dir.folder("usb1-c"), "--label", "usb1-c"]).status == 0)
        dir.file("photos/a.jpg", testBytes(10_000, seed: 1))
        #expect(try run(["add", dir.at("photos")]).status == 0)
        _ = try run(["heal"])
        let status = try run(["status", "--json"])
        #expect(try durability(status) == [1: 1], "three folders on one disk are one copy")
        #expect(status.status == 2)
        #expect(try alertKinds(status).contains("insufficient_storage"))
        let text = try run(["status"]).stdout
        #expect(text.contains("share one disk"), "\(text)")
        #expect(!text.contains("All is well"))
        let stores = try run(["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        #expect(stores.first { $0["label"] as? String == "usb1" }?["shares_disk_with"] as? [String] == ["usb1-b", "usb1-c"])
        // whereis agrees: one copy, whatever the number of folders.
        let whereis = try run(["whereis", dir.at("photos/a.jpg"), "--json"]).json()["files"] as? [[String: Any]] ?? []
        #expect(whereis.first?["durability"] as? Int == 1)
    }

    @Test func oneFolderCannotBecomeTwoStores() throws {
        #expect(try run(["init"]).status == 0)
        let s1 = dir.folder("S1")
        #expect(try run(["store", "add", s1, "--label", "s1", "--disk", "a"]).status == 0)
        dir.folder("S1/sub")
        for nested in [s1 + "/sub", s1 + "/.trove", s1 + "/.trove/inner"] {
            let refused = try run(["store", "add", nested, "--label", "x\(nested.count)", "--disk", "b"])
            #expect(refused.status == 64, "\(nested): \(refused.stderr)")
            #expect(refused.stderr.contains("inside"), "\(refused.stderr)")
        }
        // Around the library or around a store.
        #expect(try run(["store", "add", dir.path, "--label", "around", "--disk", "c"]).status == 64)
        // The same folder again, its identity file deleted, or through a symlink.
        try FileManager.default.createSymbolicLink(atPath: dir.at("link-to-S1"), withDestinationPath: s1)
        try FileManager.default.removeItem(atPath: s1 + "/.trove/store.json")
        for again in [s1, dir.at("link-to-S1")] {
            let refused = try run(["store", "add", again, "--label", "again", "--disk", "d"])
            #expect(refused.status == 73, "\(again): \(refused.stderr)")
            #expect(refused.stderr.contains("already the store 's1'"), "\(refused.stderr)")
        }
        #expect((try run(["store", "list", "--json"]).json()["stores"] as? [[String: Any]])?.count == 1)
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/mount"), "needs root to mount"))
    func aReadOnlyStoreIsNamedNotWaitedFor() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1", "--disk", "d1"]).status == 0)
        let usb2 = dir.folder("usb2")
        #expect(try run(["store", "add", usb2, "--label", "usb2", "--disk", "d2"]).status == 0)
        dir.file("photos/a.jpg", testBytes(10_000, seed: 1))
        #expect(try run(["add", dir.at("photos"), "--store", "usb1"]).status == 0)
        try shell("mount --bind \(usb2) \(usb2) && mount -o remount,bind,ro \(usb2)", check: true)
        defer { _ = try? shell("umount \(usb2)") }
        let heal = try run(["heal"])
        #expect(heal.status == 1)
        let status = try run(["status", "--json"])
        #expect(status.status == 2)
        let alerts = try status.json()["alerts"] as? [[String: Any]] ?? []
        let stuck = try #require(alerts.first { $0["kind"] as? String == "stuck_below_target" })
        #expect((stuck["action"] as? String)?.contains("usb2 is read-only: remount it read-write") == true, "\(stuck)")
        #expect(!(try alertKinds(status)).contains("low_durability"), "nothing is 'still copying'")
        let text = try run(["status"]).stdout
        #expect(text.contains("READ-ONLY"), "\(text)")
        // Remounted read-write, heal fixes it and status is clean again.
        try shell("mount -o remount,bind,rw \(usb2)", check: true)
        #expect(try run(["heal"]).status == 0)
        #expect(try run(["status"]).status == 0)
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/mount"), "needs root to mount a tmpfs"))
    func aFullStoreRaisesInsufficientStorage() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("big"), "--label", "big", "--disk", "d1"]).status == 0)
        let small = dir.folder("small")
        try shell("mount -t tmpfs -o size=2m tmpfs \(small)", check: true)
        defer { _ = try? shell("umount \(small)") }
        #expect(try run(["store", "add", small, "--label", "small"]).status == 0)
        dir.file("photos/a.bin", testBytes(3_000_000, seed: 1))
        #expect(try run(["add", dir.at("photos"), "--store", "big"]).status == 0)
        // Before any heal: the big store already holds the file, so its free space does not count.
        let before = try run(["status", "--json"])
        let kinds = try alertKinds(before)
        #expect(kinds.contains("insufficient_storage"), "\(kinds)")
        #expect(try run(["heal"]).status == 1)
        let after = try run(["status", "--json"])
        let stuck = (try after.json()["alerts"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "stuck_below_target" }
        #expect((stuck?["message"] as? String)?.contains("no store on a disk that lacks them has 2.9 MiB free") == true, "\(String(describing: stuck))")
    }

    // MARK: lost manifests, crash order, temporaries, store folders

    @Test func everyCopyOfAManifestCorruptIsNamed() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        for i in 0..<2 { #expect(try run(["store", "add", dir.folder("s\(i)"), "--label", "s\(i)", "--disk", "d\(i)"]).status == 0) }
        dir.file("tree/a.txt", text: "a")
        #expect(try run(["snapshot", dir.at("tree")]).status == 0)
        let id = try #require((try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]])?.first?["id"] as? String)
        for i in 0..<2 { try flipBit(in: dir.at("s\(i)/.trove/objects/\(id.prefix(2))/\(id.dropFirst(2))"), at: 3) }
        #expect(try run(["verify"]).status == 2)
        let status = try run(["status", "--json"])
        let lost = (try status.json()["alerts"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "lost_snapshot_manifest" }
        #expect((lost?["message"] as? String)?.contains("Snapshot \(id.prefix(12)) of \(dir.at("tree"))") == true, "\(String(describing: lost))")
        #expect(lost?["severity"] as? String == "critical")
        // The index still shows what the snapshot held.
        #expect(try run(["ls", id]).stdout.contains("a.txt"))
    }

    /// Cleaned by the next command that uses the store (not by `status`, which only reads).
    @Test func staleTemporariesGoWhenAStoreIsNextUsed() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s0"), "--label", "s0"]).status == 0)
        let hostname = ProcessInfo.processInfo.hostName.replacingOccurrences(of: "-", with: "_")
        // A temporary of a process that no longer exists (PID 2^22 + 1 is above any pid_max).
        let orphan = dir.file("s0/.trove/tmp/\(hostname)-4194305-abc.tmp", testBytes(1000))
        #expect(try run(["status"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: orphan), "status only reads")
        #expect(try run(["heal"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: orphan))
    }

    @Test func storeFoldersAreOffLimits() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s0"), "--label", "s0"]).status == 0)
        dir.file("tree/a.txt", text: "a")
        dir.file("tree/b.txt", text: "bbb")
        #expect(try run(["snapshot", dir.at("tree")]).status == 0)
        let hashes = try run(["hash", dir.at("tree/a.txt"), dir.at("tree/b.txt"), "--json"]).jsonLines().compactMap { $0["id"] as? String }
        let objectB = dir.at("s0/.trove/objects/\(hashes[1].prefix(2))/\(hashes[1].dropFirst(2))")
        let get = try run(["get", hashes[0], "--to", objectB, "--overwrite"])
        #expect(get.status == 64, "\(get.stderr)")
        #expect(get.stderr.contains("inside the store 's0'"))
        let restore = try run(["restore", "latest:a.txt", "--to", objectB, "--overwrite"])
        #expect(restore.status == 64, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: objectB) == Data("bbb".utf8))
        #expect(try run(["add", dir.at("s0/.trove/objects")]).status == 64)
        #expect(try run(["verify"]).status == 0)
    }

    @Test func aDamagedStoreIdentityIsExplainedInText() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s0"), "--label", "s0"]).status == 0)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: dir.at("s0/.trove/store.json")))
        let text = try run(["status"]).stdout
        #expect(text.contains("NOT CONNECTED ("), "\(text)")
        #expect(text.contains("store.json"), "\(text)")
    }

    @Test func reverifiedCopiesOnOneDiskStillCountOnce() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        // Declared as two drives, both get a copy; then they turn out to be one disk, and both
        // copies await re-verification: heal must not count them as two.
        #expect(try run(["store", "add", dir.folder("a"), "--label", "a", "--disk", "x"]).status == 0)
        #expect(try run(["store", "add", dir.folder("b"), "--label", "b", "--disk", "y"]).status == 0)
        dir.file("photos/a.jpg", testBytes(20_000, seed: 1))
        #expect(try run(["add", dir.at("photos"), "--mirror", "2"]).status == 0)
        for label in ["a", "b"] { #expect(try run(["store", "set", label, "--disk", "detected", "--trust"]).status == 0) }
        let heal = try run(["heal", "--json"])
        #expect(heal.status == 1, "\(heal.stdout)")
        #expect(try heal.json()["still_below_target"] as? Int == 1)
        let kinds = try alertKinds(try run(["status", "--json"]))
        #expect(kinds.contains("stuck_below_target"), "\(kinds)")
        // A store on another drive may fix it: the stuck verdict waits for the next heal.
        #expect(try run(["store", "add", dir.folder("c"), "--label", "c", "--disk", "z"]).status == 0)
        #expect(!(try alertKinds(try run(["status", "--json"]))).contains("stuck_below_target"))
        #expect(try run(["heal"]).status == 0)
        #expect(try run(["status"]).status == 0)
    }

    @Test func anEmptyMountPointIsNotADamagedStore() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        let usb = dir.folder("usb")
        #expect(try run(["store", "add", usb, "--label", "usb"]).status == 0)
        // The drive is unplugged: its mount point is an empty folder.
        try FileManager.default.moveItem(atPath: usb, toPath: dir.at("usb-unplugged"))
        dir.folder("usb")
        let again = try run(["store", "add", usb, "--label", "usb2"])
        #expect(again.status == 73)
        #expect(again.stderr.contains("not mounted"), "\(again.stderr)")
        #expect(!again.stderr.contains("store remove"), "never advise forgetting the drive's copies")
    }

    @Test func aDiskDeclaredWhenReattachingIsKept() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s"), "--label", "s"]).status == 0)
        let other = dir.at("library2")
        #expect(try trove(["init"], library: other).status == 0)
        #expect(try trove(["store", "add", dir.at("s"), "--disk", "nas1"], library: other).status == 0)
        let stores = try trove(["store", "list", "--json"], library: other).json()["stores"] as? [[String: Any]] ?? []
        #expect(stores.first?["declared_disk"] as? String == "nas1")
    }

    @Test(.enabled(if: isRoot && FileManager.default.isExecutableFile(atPath: "/bin/mount"), "needs root to mount a tmpfs"))
    func aSparseFileFitsWhereOnlyItsDataFits() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        let small = dir.folder("small")
        try shell("mount -t tmpfs -o size=8m tmpfs \(small)", check: true)
        defer { _ = try? shell("umount \(small)") }
        #expect(try run(["store", "add", small, "--label", "small"]).status == 0)
        // 64 MiB long, 8 KiB of data: nothing may reserve the whole length first.
        try FileManager.default.createDirectory(atPath: dir.at("in"), withIntermediateDirectories: true)
        try Tree.sparse(Tree.bytes(dir.at("in/disk.img")), size: 64 << 20, data: testBytes(8192, seed: 4), at: 32 << 20)
        let add = try run(["add", dir.at("in")])
        #expect(add.status == 0, "\(add.stderr)")
        #expect(try run(["verify"]).status == 0)
        #expect(try run(["snapshot", dir.at("in")]).status == 0)
        let out = dir.folder("out-small")
        try shell("mount -t tmpfs -o size=8m tmpfs \(out)", check: true)
        defer { _ = try? shell("umount \(out)") }
        let restore = try run(["restore", "latest", "--to", out + "/in"])
        #expect(restore.status == 0, "\(restore.stderr)")
    }

    @Test func aLinkedDestinationFolderIsMergedInto() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s"), "--label", "s"]).status == 0)
        dir.file("docs/a.txt", text: "a")
        #expect(try run(["snapshot", dir.at("docs")]).status == 0)
        let real = dir.folder("data/Docs")
        dir.file("data/Docs/mine.txt", text: "mine")
        try FileManager.default.createSymbolicLink(atPath: dir.at("Docs"), withDestinationPath: real)
        #expect(try run(["restore", "latest", "--to", dir.at("Docs"), "--overwrite"]).status == 0)
        var info = stat()
        #expect(lstat(dir.at("Docs"), &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK, "the link stays")
        #expect(FileManager.default.contents(atPath: real + "/a.txt") == Data("a".utf8))
        #expect(FileManager.default.contents(atPath: real + "/mine.txt") == Data("mine".utf8))
    }

}
