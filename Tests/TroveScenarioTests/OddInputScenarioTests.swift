#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TroveTesting

/// Issue 9's odd inputs and honest reports, through the real binary.
struct OddInputScenarioTests {
    let dir = TempFolder("odd")
    var lib: String { dir.at("library") }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    func setUp(copies: Int = 1, stores: Int = 1) throws {
        #expect(try run(["init", "--copies", String(copies)]).status == 0)
        for i in 0..<stores { #expect(try run(["store", "add", dir.folder("s\(i)"), "--label", "s\(i)", "--disk", "d\(i)"]).status == 0) }
    }

    @Test func initRefusesAZeroTargetAndCreatesNothing() throws {
        let result = try run(["init", "--copies", "0"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("between 1 and 16"))
        #expect(!FileManager.default.fileExists(atPath: lib + "/catalog.sqlite"))
        #expect(try run(["status"]).status == 66)
    }

    @Test func aPartialFirstSnapshotFailsTrack() throws {
        // An ordinary user (root runs trove as nobody) cannot read a mode-000 file.
        let base = dir.folder("shared")
        chmod(dir.path, 0o777)
        chmod(base, 0o777)
        let library = base + "/library"
        #expect(try trove(["init"], library: library, asNobody: true).status == 0)
        let store = dir.folder("shared/store")
        chmod(store, 0o777)
        #expect(try trove(["store", "add", store], library: library, asNobody: true).status == 0)
        dir.file("shared/tree/ok.txt", text: "ok")
        let secret = dir.file("shared/tree/secret.txt", text: "secret")
        chmod(secret, 0)
        chmod(dir.at("shared/tree"), 0o777)
        let tracked = try trove(["track", base + "/tree"], library: library, asNobody: true)
        #expect(tracked.status == 1, "\(tracked.stdout) \(tracked.stderr)")
        #expect(tracked.stdout.contains("not in snapshot: \(secret): cannot be read"), "\(tracked.stdout)")
        #expect(tracked.stdout.contains("partial"))
    }

    @Test func storeListingsCarryEveryDocumentedField() throws {
        try setUp()
        for command in [["store", "list", "--json"], ["status", "--json"]] {
            let stores = try run(command).json()["stores"] as? [[String: Any]] ?? []
            #expect(stores.count == 1)
            for key in ["filesystem_uuid", "problem", "last_seen", "capacity", "free"] {
                #expect(stores.first?.keys.contains(key) == true, "\(command) lacks \(key)")
            }
        }
    }

    @Test func findLimitsPathsAndMatchesFolderGlobs() throws {
        try setUp()
        dir.file("tree/gzip/a.txt", text: "a")
        dir.file("tree/gzip/b.txt", text: "b")
        dir.file("tree/other/c.txt", text: "c")
        for _ in 0..<3 { #expect(try run(["snapshot", dir.at("tree")]).status == 0) }
        let glob = try run(["find", "gzip/*", "--json"]).json()["hits"] as? [[String: Any]] ?? []
        #expect(Set(glob.compactMap { $0["path"] as? String }) == [dir.at("tree/gzip/a.txt"), dir.at("tree/gzip/b.txt")])
        // --limit 1 shows one path, in all three snapshots.
        let limited = try run(["find", ".txt", "--limit", "1", "--json"]).json()["hits"] as? [[String: Any]] ?? []
        #expect(limited.count == 3)
        #expect(Set(limited.compactMap { $0["path"] as? String }) == [dir.at("tree/gzip/a.txt")])
        let text = try run(["find", ".txt", "--limit", "1"]).stdout
        #expect(text.contains("3 snapshots"), "\(text)")
        #expect(try run(["find", "x", "--limit", "0"]).status == 64)
    }

    @Test func dupesIgnoreRenamedFilesAndHardLinks() throws {
        try setUp()
        dir.file("in/photo.jpg", testBytes(40_000, seed: 1))
        #expect(try run(["add", dir.at("in")]).status == 0)
        #expect(rename(dir.at("in/photo.jpg"), dir.at("in/renamed.jpg")) == 0)
        #expect(try run(["snapshot", dir.at("in")]).status == 0)
        dir.file("tree/big.bin", testBytes(60_000, seed: 2))
        #expect(link(dir.at("tree/big.bin"), dir.at("tree/same file.bin")) == 0)
        #expect(try run(["snapshot", dir.at("tree")]).status == 0)
        let groups = try run(["dupes", "--json"]).json()["groups"] as? [[String: Any]] ?? []
        #expect(groups.isEmpty, "\(groups)")
    }

    @Test func anOverlongNameIsAUsageErrorNotACrash() throws {
        try setUp()
        let long = dir.at(String(repeating: "n", count: 300))
        let result = try run(["snapshot", long])
        #expect(result.status == 64 || result.status == 66, "exit \(result.status): \(result.stderr)")
        #expect(result.status != 1)
        #expect(!result.stderr.contains("Fatal"))
    }

    @Test func aPathArgumentThatIsNotUTF8NamesThatFolder() throws {
        try setUp()
        // A folder whose name is the bytes "caf" 0xFF, given on the command line as those bytes.
        let folder = Tree.join(Tree.bytes(dir.path), Tree.bytes("caf") + [0xFF])
        try Tree.mkdir(folder)
        try Tree.write(Tree.join(folder, Tree.bytes("inside.txt")), Tree.bytes("inside"))
        let result = try shell("TROVE_LIBRARY='\(lib)' TROVE_LOG_LEVEL=error '\(troveBinary())' snapshot \"$(printf '\(dir.path)/caf\\377')\" 2>&1")
        #expect(result.status == 0, "\(result.output)")
        #expect(try run(["ls", "latest"]).stdout.contains("inside.txt"))
    }

    @Test func aNewSnapshotIsAsDurableAsItsFiles() throws {
        // The manifest goes to as many stores as the target asks for, so an unchanged tree's
        // next snapshot leaves nothing below target.
        try setUp(copies: 2, stores: 2)
        dir.file("tree/a.txt", text: "a")
        #expect(try run(["snapshot", dir.at("tree")]).status == 0)
        #expect(try run(["heal"]).status == 0)
        #expect(try run(["status"]).status == 0)
        #expect(try run(["snapshot", dir.at("tree")]).status == 0)
        let status = try run(["status"])
        #expect(status.status == 0, "\(status.stdout)")
    }

    @Test func importedSparseFilesKeepOnlyTheirDataOnStores() throws {
        try setUp()
        let path = dir.at("in/disk.img")
        try FileManager.default.createDirectory(atPath: dir.at("in"), withIntermediateDirectories: true)
        try Tree.sparse(Tree.bytes(path), size: 1 << 30, data: testBytes(8192, seed: 4), at: 512 << 20)
        func kilobytes() throws -> Int { Int(try shell("du -sk \(dir.at("s0"))").output.split(separator: "\t").first ?? "") ?? Int.max }
        let empty = try kilobytes()  // a store's own folders (fan-out) take some space already
        #expect(try run(["add", dir.at("in")]).status == 0)
        let added = try kilobytes() - empty
        #expect(added < 1024, "the store took \(added) KiB for a 1 GiB file holding 8 KiB of data")
        #expect(try run(["verify"]).status == 0)
    }

}
