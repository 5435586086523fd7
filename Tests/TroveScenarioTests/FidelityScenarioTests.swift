#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TroveCore
import TroveTesting

/// Snapshot + restore of every kind of entry, name and attribute a real tree holds, compared
/// with the original entry by entry (lstat, never following links), as `cp -a`/`rsync -aHAXS`
/// users expect. Owners and device nodes need root; as another user they are left out.
@Suite struct FidelityScenarioTests {
    let dir = TempFolder("fidelity")
    var lib: String { dir.at("library") }
    typealias P = Tree.Path

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    func setUpLibrary() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s1"), "--label", "s1", "--disk", "d1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("s2"), "--label", "s2", "--disk", "d2"]).status == 0)
    }

    static let sparseSize: Int64 = 2 << 30

    /// Builds the tree of odd cases under `root`; returns the paths the comparison skips
    /// (the socket, which nothing can save) and whether an ACL could be set.
    func buildTree(_ root: P) throws -> (skip: Set<P>, acl: Bool) {
        let b = Tree.bytes
        func at(_ parts: P...) -> P { parts.reduce(root) { Tree.join($0, $1) } }
        try Tree.mkdir(root)
        let names: [P] = [b("new\nline"), b("tab\there"), b("back\\slash"), b("-rf"), b("caf\u{e9}"), b("cafe\u{301}"),
                          b("📷 2026.jpg"), b("*?[glob]"), b("bad") + [0xFF, 0xFE], [0xC3, 0x28, 0x2E, 0x74]]
        for (index, name) in names.enumerated() { try Tree.write(at(name), testBytes(100 + index, seed: UInt64(index))) }
        // A folder whose name is not UTF-8, with a file inside.
        let badFolder: P = b("dir") + [0x80]
        try Tree.mkdir(at(badFolder))
        try Tree.write(at(badFolder, b("inside.txt")), b("inside"))
        try Tree.write(at(String(repeating: "n", count: 255).utf8.map { $0 }), b("long name"))
        // 60 levels deep.
        var deep = at(b("deep"))
        try Tree.mkdir(deep)
        for level in 0..<60 { deep = Tree.join(deep, b("l\(level)")); try Tree.mkdir(deep) }
        try Tree.write(Tree.join(deep, b("bottom.txt")), b("bottom"))
        // Hard links across folders.
        try Tree.mkdir(at(b("links")))
        try Tree.mkdir(at(b("links"), b("other")))
        try Tree.write(at(b("links"), b("original.bin")), testBytes(50_000, seed: 9))
        try Tree.link(at(b("links"), b("original.bin")), at(b("links"), b("other"), b("second name.bin")))
        try Tree.link(at(b("links"), b("original.bin")), at(b("links"), b("third")))
        // Modes: setuid, setgid, sticky, 000.
        try Tree.write(at(b("setuid")), b("#!/bin/sh\n"))
        try Tree.chmod(at(b("setuid")), 0o4755)
        try Tree.write(at(b("setgid")), b("x"))
        try Tree.chmod(at(b("setgid")), 0o2750)
        try Tree.mkdir(at(b("sticky")), 0o755)
        try Tree.chmod(at(b("sticky")), 0o1777)
        try Tree.write(at(b("mode000")), b("secret"))
        try Tree.chmod(at(b("mode000")), 0)
        // Attributes: user.* with arbitrary bytes, and a POSIX ACL where the filesystem has them.
        try Tree.write(at(b("tagged.txt")), b("tagged"))
        // (A filesystem without user attributes, e.g. an old tmpfs, skips this case.)
        try? Tree.setXattr(at(b("tagged.txt")), "user.comment", [0x00, 0xFF, 0x0A] + b("rated 5"))
        var acl = true
        try Tree.write(at(b("acl.txt")), b("acl"))
        do { try Tree.setXattr(at(b("acl.txt")), "system.posix_acl_access", Tree.accessACL(namedUser: 4321)) } catch { acl = false }
        // A sparse file: multi-GiB, 8 KiB of data.
        try Tree.sparse(at(b("sparse.img")), size: Self.sparseSize, data: testBytes(8192, seed: 3), at: 1 << 30)
        // Links: dangling, looping, absolute, outside, and a target that is not UTF-8.
        try Tree.symlink(b("does/not/exist"), at(b("dangling")))
        try Tree.symlink(b("loop-b"), at(b("loop-a")))
        try Tree.symlink(b("loop-a"), at(b("loop-b")))
        try Tree.symlink(b("/etc/hostname"), at(b("absolute")))
        try Tree.symlink(b("../../outside"), at(b("outside")))
        try Tree.symlink(b("bad") + [0xFF, 0xFE], at(b("to-bad-name")))
        // Special files.
        try Tree.fifo(at(b("pipe")))
        let skip: Set<P> = [b("socket")]
        try Tree.socket(at(b("socket")))
        if isRoot { try Tree.device(at(b("null-like")), major: 1, minor: 3) }
        // Empty folders; empty file.
        try Tree.mkdir(at(b("empty")))
        try Tree.mkdir(at(b("empty"), b("nested-empty")))
        try Tree.write(at(b("empty.txt")), [])
        // Owner and group (root only).
        if isRoot {
            try Tree.chown(at(b("tagged.txt")), 1234, 5678)
            try Tree.chown(at(b("empty")), 1234, 5678)
            try Tree.chown(at(b("dangling")), 1234, 5678)
        }
        // Times last (writing into a folder changes its mtime): 1960, -1 s, 0, nanoseconds,
        // year 2400, and set times on every folder and link.
        try Tree.setTime(at(b("new\nline")), seconds: -315_619_200, nanoseconds: 0)
        try Tree.setTime(at(b("tab\there")), seconds: -1, nanoseconds: 0)
        try Tree.setTime(at(b("-rf")), seconds: 0, nanoseconds: 0)
        try Tree.setTime(at(b("caf\u{e9}")), seconds: 1_700_000_000, nanoseconds: 123_456_789)
        try Tree.setTime(at(b("cafe\u{301}")), seconds: 13_569_465_600, nanoseconds: 999_999_999)
        try Tree.setTime(at(b("dangling")), seconds: 1_600_000_000, nanoseconds: 5)
        for folder in [at(b("empty"), b("nested-empty")), at(b("empty")), at(b("sticky")), at(badFolder), at(b("links"), b("other"))] {
            try Tree.setTime(folder, seconds: 1_500_000_000, nanoseconds: 42)
        }
        // The snapshotted folder itself: private, with its own time.
        try Tree.chmod(root, 0o750)
        try Tree.setTime(root, seconds: 1_400_000_000, nanoseconds: 7)
        return (skip, acl)
    }

    @Test func everyEntryAndAttributeComesBack() throws {
        try setUpLibrary()
        let root = Tree.bytes(dir.at("tree"))
        let (skip, acl) = try buildTree(root)
        let before = try Tree.facts(root)
        let userXattrs = before[Tree.bytes("tagged.txt")]?.xattrs["user.comment"] != nil
        #expect(userXattrs || !Self.filesystemTakesUserXattrs(dir.path), "the comparison sees attributes")

        // Snapshot 1: nothing but the socket is left out, and it is named (escaped) in the text.
        let first = try run(["snapshot", dir.at("tree")])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(first.stdout.contains("not in snapshot: \(dir.at("tree"))/socket: socket"))
        let snapshots = try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]] ?? []
        let id1 = try #require(snapshots.last?["id"] as? String)

        // The stores hold the sparse file's data, not its holes.
        let used = try storeBytesOnDisk(dir.at("s1"))
        #expect(used < 64 << 20, "store s1 uses \(used) bytes for a tree whose sparse file is 2 GiB")

        // ls and diff show a non-UTF-8 name escaped, as `ls -b` does.
        let listing = try run(["ls", id1])
        #expect(listing.stdout.contains("bad\\xff\\xfe"))
        #expect(listing.stdout.contains("new\\nline"))
        // find matches the readable part of a name that is not UTF-8, and shows it escaped.
        let found = try run(["find", "bad"])
        #expect(found.stdout.contains("/tree/bad\\xff\\xfe"), "\(found.stdout)")

        // Restore snapshot 1 and compare every entry.
        let r1 = dir.at("r1")
        let restored = try run(["restore", id1, "--to", r1])
        #expect(restored.status == 0, "\(restored.stdout) \(restored.stderr)")
        let after1 = try Tree.facts(Tree.bytes(r1))
        #expect(Tree.differences(before, after1, owners: isRoot, skip: skip) == [])
        #expect(after1[Tree.bytes("acl.txt")]?.xattrs["system.posix_acl_access"] != nil || !acl)
        try expectSparseRestored(r1 + "/sparse.img")
        // The restored folder itself has the snapshotted folder's mode and time.
        var rootInfo = stat()
        #expect(lstat(r1, &rootInfo) == 0 && rootInfo.st_mode & 0o7777 == 0o750, "root mode \(String(rootInfo.st_mode & 0o7777, radix: 8))")
        #expect(rootInfo.st_mtim.tv_sec == 1_400_000_000 && rootInfo.st_mtim.tv_nsec == 7)
        try expectSameBytes(dir.at("tree/sparse.img"), r1 + "/sparse.img")

        // Change the tree, snapshot again; diff names folder changes too.
        let b = Tree.bytes
        try Tree.write(Tree.join(root, b("caf\u{e9}")), b("changed"))
        try Tree.chmod(Tree.join(root, b("sticky")), 0o700)
        try? Tree.setXattr(Tree.join(root, b("tagged.txt")), "user.comment", b("rated 4"))
        try Tree.write(Tree.join(root, b("new file")), b("new"))
        #expect(unlink(dir.at("tree/-rf")) == 0)
        let second = try run(["snapshot", dir.at("tree")])
        #expect(second.status == 0, "\(second.stderr)")
        let id2 = try #require((try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]])?.last?["id"] as? String)
        let diff = try run(["diff", id1, id2]).stdout
        #expect(diff.contains("m sticky"), "\(diff)")
        #expect(diff.contains("m tagged.txt") || !userXattrs, "\(diff)")
        #expect(diff.contains("- -rf"), "\(diff)")
        #expect(diff.contains("M caf\u{e9}"), "\(diff)")
        let now = try Tree.facts(root)

        let r2 = dir.at("r2")
        #expect(try run(["restore", id2, "--to", r2]).status == 0)
        #expect(Tree.differences(now, try Tree.facts(Tree.bytes(r2)), owners: isRoot, skip: skip) == [])

        // Snapshot 1 over the restored snapshot 2 with --overwrite: every entry of snapshot 1
        // is back as it was (what only snapshot 2 had stays: a restore never deletes).
        let over = try run(["restore", id1, "--to", r2, "--overwrite"])
        #expect(over.status == 0, "\(over.stdout) \(over.stderr)")
        #expect(Tree.differences(before, try Tree.facts(Tree.bytes(r2)), owners: isRoot, skip: skip, extraAllowed: true) == [])
        #expect(try leftoverTemporaries(r2).isEmpty)
    }

    @Test func aRealSystemTreeRoundTrips() throws {
        try setUpLibrary()
        let source = "/usr/share/doc"
        guard FileManager.default.fileExists(atPath: source) else { return }
        // A copy, so the test owns it (and cp -a keeps what it holds).
        let tree = dir.at("doc")
        #expect(try shell("cp -a \(source) \(tree)").status == 0)
        let before = try Tree.facts(Tree.bytes(tree))
        #expect(try run(["snapshot", tree]).status == 0)
        let restored = try run(["restore", "latest", "--to", dir.at("back")])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(Tree.differences(before, try Tree.facts(Tree.bytes(dir.at("back"))), owners: isRoot) == [])
    }

    @Test func aLongNameRestoresAndAFailedRestoreLeavesNoTemporaries() throws {
        try setUpLibrary()
        let name = String(repeating: "x", count: 250) + ".jpg"
        dir.file("src/\(name)", testBytes(1000, seed: 1))
        dir.file("src/sub/a.txt", text: "a")
        chmod(dir.at("src/sub"), 0o750)
        #expect(try run(["snapshot", dir.at("src")]).status == 0)
        let out = try run(["restore", "latest", "--to", dir.at("out")])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(FileManager.default.contents(atPath: dir.at("out/\(name)")) == Data(testBytes(1000, seed: 1)))
        // `get` writes the same long name.
        let id = try #require(try run(["hash", dir.at("src/\(name)"), "--json"]).jsonLines().first?["id"] as? String)
        #expect(try run(["get", id, "--to", dir.at("got-\(name.dropFirst(4))")]).status == 0)

        // A restore that fails midway (the content is gone from every store) still leaves each
        // folder it made with its recorded mode, and no temporaries.
        for store in ["s1", "s2"] { #expect(try shell("find \(dir.at(store))/.trove/objects -type f -size -2k -newer \(dir.at("src/sub/a.txt")) -delete").status == 0) }
        let failed = try run(["restore", "latest", "--to", dir.at("failed")])
        #expect(failed.status != 0)
        #expect(failed.stderr.contains("were restored to"), "\(failed.stderr)")
        var info = stat()
        #expect(lstat(dir.at("failed/sub"), &info) == 0 && info.st_mode & 0o7777 == 0o750)
        #expect(try leftoverTemporaries(dir.at("failed")).isEmpty)
    }

    @Test func aFileRestoredOntoAFolderLandsInsideIt() throws {
        try setUpLibrary()
        dir.file("src/report.pdf", text: "pdf")
        dir.file("src/photos/a.jpg", text: "a")
        #expect(try run(["snapshot", dir.at("src")]).status == 0)
        let target = dir.folder("existing")
        #expect(try run(["restore", "latest:report.pdf", "--to", target]).status == 0)
        #expect(FileManager.default.contents(atPath: target + "/report.pdf") == Data("pdf".utf8))
        // A file where the snapshot has a folder holding files: refused, nothing written.
        dir.file("busy/photos/keep.txt", text: "keep")
        dir.file("busy/report.pdf/inside.txt", text: "mine")
        let refused = try run(["restore", "latest", "--to", dir.at("busy"), "--overwrite"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("is a folder where the snapshot has a file"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.at("busy/photos/a.jpg")))
        #expect(try leftoverTemporaries(dir.at("busy")).isEmpty)
        // An empty folder in the way is replaced with --overwrite.
        dir.folder("empty-in-way/report.pdf")
        let replaced = try run(["restore", "latest", "--to", dir.at("empty-in-way"), "--overwrite"])
        #expect(replaced.status == 0, "\(replaced.stderr)")
        #expect(FileManager.default.contents(atPath: dir.at("empty-in-way/report.pdf")) == Data("pdf".utf8))
    }

    // MARK: helpers

    /// True when a `user.*` attribute can be set on files in `folder`.
    static func filesystemTakesUserXattrs(_ folder: String) -> Bool {
        let probe = folder + "/.xattr-probe"
        _ = FileManager.default.createFile(atPath: probe, contents: Data())
        defer { try? FileManager.default.removeItem(atPath: probe) }
        return (try? Tree.setXattr(Tree.bytes(probe), "user.probe", [1])) != nil
    }


    /// Bytes a folder takes on disk (allocated blocks, as `du` counts them).
    func storeBytesOnDisk(_ folder: String) throws -> Int64 {
        var total: Int64 = 0
        let files = FileManager.default.enumerator(atPath: folder)
        while let relative = files?.nextObject() as? String {
            var info = stat()
            if lstat(folder + "/" + relative, &info) == 0 { total += Int64(info.st_blocks) * 512 }
        }
        return total
    }

    func expectSparseRestored(_ path: String) throws {
        var info = stat()
        #expect(lstat(path, &info) == 0)
        #expect(Int64(info.st_size) == Self.sparseSize)
        #expect(Int64(info.st_blocks) * 512 < 1 << 20, "restored sparse file allocates \(Int64(info.st_blocks) * 512) bytes")
    }

    func expectSameBytes(_ a: String, _ b: String) throws {
        #expect(try shell("cmp -s '\(a)' '\(b)'").status == 0)
    }

    func leftoverTemporaries(_ folder: String) throws -> [String] {
        let all = FileManager.default.enumerator(atPath: folder)
        var found: [String] = []
        while let relative = all?.nextObject() as? String {
            if relative.contains(".trove-") { found.append(relative) }
        }
        return found
    }
}
