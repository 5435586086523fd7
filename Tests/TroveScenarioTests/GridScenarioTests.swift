import Foundation
import Testing
import TroveTesting

/// Issue 15's grid, driven through the real binary: ten folder stores (each declared its own
/// disk), a 3-of-10 grid over them, files healed onto it, seven members lost.
struct GridScenarioTests {
    let dir = TempFolder("grid")
    var lib: String { dir.at("library") }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    /// A library with an inbox store `work` and ten members, a 3-of-10 grid `family` over them,
    /// and `files` imported into `work` and healed; returns the files' IDs and bytes.
    func setUp() throws -> [(id: String, bytes: [UInt8])] {
        #expect(try run(["init", "--copies", "3"]).status == 0)
        #expect(try run(["store", "add", dir.folder("work"), "--label", "work", "--disk", "laptop"]).status == 0)
        for i in 0..<10 { #expect(try run(["store", "add", dir.folder("m\(i)"), "--label", "m\(i)", "--disk", "d\(i)"]).status == 0) }
        let members = (0..<10).map { "m\($0)" }.joined(separator: ",")
        let create = try run(["grid", "create", "family", "--k", "3", "--n", "10", "--stores", members, "--json"])
        #expect(create.status == 0, "\(create.stderr)")
        #expect(try create.json()["weight"] as? Int == 8)
        // Sizes around the segment (leaf) size, an empty file and a one-byte file.
        let sizes = [0, 1, 4096, 8 * 1024 * 1024, 8 * 1024 * 1024 + 1, 3 * 1024 * 1024 + 17]
        var files: [(String, [UInt8])] = []
        for (index, size) in sizes.enumerated() {
            let bytes = testBytes(size, seed: UInt64(index + 40))
            dir.file("photos/f\(index).bin", bytes)
            files.append(("", bytes))
        }
        let add = try run(["add", dir.at("photos"), "--store", "work", "--json"])
        #expect(add.status == 0, "\(add.stderr)")
        let imported = try add.json()["imported"] as? [[String: Any]] ?? []
        let ids = files.map { file in imported.first { ($0["size"] as? Int) == file.1.count }?["id"] as? String ?? "" }
        let heal = try run(["heal", "--json"])
        #expect(heal.status == 0, "\(heal.stderr)")
        return zip(ids, files).map { ($0, $1.1) }
    }

    /// The file at `path` holds exactly `bytes` (a Bool, so a failure does not print megabytes).
    func same(_ path: String, _ bytes: [UInt8]) -> Bool {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) == bytes } ?? false
    }

    func durabilities() throws -> [Int: Int] {
        var result: [Int: Int] = [:]
        for bucket in try run(["status", "--json"]).json()["durability"] as? [[String: Any]] ?? [] {
            result[bucket["durability"] as? Int ?? -1] = bucket["files"] as? Int
        }
        return result
    }

    @Test func sevenMembersLostAndEveryFileComesBack() throws {
        let files = try setUp()
        // Work (1) plus the grid (8): each file survives the loss of any 8 stores.
        #expect(try durabilities() == [9: files.count])
        let whereis = try run(["whereis", files[4].id])
        #expect(whereis.stdout.contains("grid 3-of-10: survives the loss of any 7 of its 10 member stores"), "\(whereis.stdout)")
        let status = try run(["status"]).stdout
        #expect(status.contains("family  trusted  connected  grid 3-of-10 over m0, m1, m2, m3, m4, m5, m6, m7, m8, m9"), "\(status)")
        #expect(status.contains("a new copy there survives the loss of any 7 of its 10 member stores"))
        // The laptop and seven members are gone for good.
        try FileManager.default.removeItem(atPath: dir.at("work"))
        for i in 0..<7 { try FileManager.default.removeItem(atPath: dir.at("m\(i)")) }
        #expect(try run(["status"]).stdout.contains("not connected now: m0, m1, m2, m3, m4, m5, m6"))
        for (index, file) in files.enumerated() {
            let out = dir.folder("back") + "/f\(index)"
            let get = try run(["get", file.id, "--to", out])
            #expect(get.status == 0, "\(get.stderr)")
            let ok = same(out, file.bytes)
            #expect(ok, "file \(index)")
        }
    }

    @Test func healRepairsOnlyOnceTheThresholdIsReached() throws {
        let files = try setUp()
        // One member loses its shares (its drive was wiped and re-made): the grid copies drop to
        // what nine members hold, but 9 good shares are above the repair threshold (7).
        try FileManager.default.removeItem(atPath: dir.at("m0/.trove/grid"))
        #expect(try durabilities() == [8: files.count])
        var heal = try run(["heal", "--json"])
        #expect(try heal.json()["shares_written"] as? Int == 0)
        // Six more: 3 good shares left of 10, at the threshold, so heal writes the 7 missing ones.
        for i in 1..<7 { try FileManager.default.removeItem(atPath: dir.at("m\(i)/.trove/grid")) }
        #expect(try durabilities() == [2: files.count], "work and a grid copy worth 1")
        heal = try run(["heal", "--json"])
        #expect(heal.status == 0, "\(heal.stderr)")
        #expect(try heal.json()["shares_written"] as? Int == 7 * files.count)
        #expect(try durabilities() == [9: files.count])
        // Repaired shares are real: the three old members and the work drive can all go now.
        try FileManager.default.removeItem(atPath: dir.at("work"))
        for i in 7..<10 { try FileManager.default.removeItem(atPath: dir.at("m\(i)")) }
        for (index, file) in files.enumerated() {
            let out = dir.folder("back") + "/f\(index)"
            #expect(try run(["get", file.id, "--to", out]).status == 0)
            let ok = same(out, file.bytes)
            #expect(ok, "file \(index)")
        }
    }

    @Test func verifyNamesACorruptShareAndTheGridReadsOn() throws {
        let files = try setUp()
        // Flip a byte in the middle of one member's share of the largest file.
        let big = files[4]
        let share = try #require(FileManager.default.enumerator(atPath: dir.at("m5/.trove/grid"))?.compactMap { $0 as? String }
            .first { $0.hasSuffix(String(big.id.dropFirst(2))) })
        try flipBit(in: dir.at("m5/.trove/grid/" + share), at: 1_000_000)
        let verify = try run(["verify", "--store", "family", "--json"])
        let problems = (try verify.json()["stores"] as? [[String: Any]])?.first?["share_problems"] as? [String] ?? []
        #expect(problems.count == 1 && problems[0].contains("m5: share corrupt (block 0 does not match its hash)"), "\(verify.stdout)")
        #expect(try durabilities() == [8: 1, 9: files.count - 1], "the file with a bad share counts 9 good shares")
        let out = dir.at("big")
        try FileManager.default.removeItem(atPath: dir.at("work"))
        #expect(try run(["get", big.id, "--to", out]).status == 0)
        let ok = same(out, big.bytes)
        #expect(ok)
    }

    @Test func aGridThatGrowsFromFiveToTenRebalances() throws {
        #expect(try run(["init", "--copies", "2"]).status == 0)
        #expect(try run(["store", "add", dir.folder("work"), "--label", "work", "--disk", "laptop"]).status == 0)
        for i in 0..<10 { #expect(try run(["store", "add", dir.folder("m\(i)"), "--label", "m\(i)", "--disk", "d\(i)"]).status == 0) }
        let create = try run(["grid", "create", "family", "--k", "3", "--n", "10", "--stores", "m0,m1,m2,m3,m4", "--json"])
        #expect(create.status == 0, "\(create.stderr)")
        #expect(try create.json()["weight"] as? Int == 3, "five members: any 2 may go")
        for i in 0..<4 { dir.file("docs/d\(i).txt", testBytes(100_000 + i, seed: UInt64(i))) }
        #expect(try run(["add", dir.at("docs"), "--store", "work"]).status == 0)
        #expect(try run(["heal"]).status == 0)
        #expect(try durabilities() == [4: 4])
        let grow = try run(["grid", "add", "family", "--stores", "m5,m6,m7,m8,m9", "--json"])
        #expect(grow.status == 0, "\(grow.stderr)")
        #expect(try grow.json()["rebalance_pending"] as? Bool == true)
        let heal = try run(["heal", "--json"])
        #expect(try heal.json()["shares_written"] as? Int == 5 * 4, "one share per new member and file")
        #expect(try durabilities() == [9: 4])
        #expect(try run(["grid", "show", "family", "--json"]).json()["rebalance_pending"] as? Bool == false)
        // A second heal has nothing to rebalance.
        #expect(try run(["heal", "--json"]).json()["shares_written"] as? Int == 0)
    }

    @Test func onlyTheLibrarysKeySignsHeadsOnAGrid() throws {
        let files = try setUp()
        #expect(try run(["catalog", "backup"]).stdout.contains("head on family"))
        // Another machine sharing the catalog without the key file: the grid reads on, but no
        // head of its own key is written there (readers elsewhere would refuse it).
        let key = lib + "/keys/head-signing.key"
        try FileManager.default.moveItem(atPath: key, toPath: dir.at("key.away"))
        dir.file("photos/new.txt", testBytes(10, seed: 99))
        #expect(try run(["add", dir.at("photos"), "--store", "work"]).status == 0)
        let without = try run(["catalog", "backup"])
        #expect(without.stdout.contains("not on family: This machine does not have the library's head-signing key"), "\(without.stdout)")
        let out = dir.folder("back") + "/f4"
        #expect(try run(["get", files[4].id, "--to", out]).status == 0)
        // A key of its own is refused too.
        FileManager.default.createFile(atPath: key, contents: Data(repeating: 7, count: 32), attributes: [.posixPermissions: 0o600])
        #expect(try run(["catalog", "backup"]).stdout.contains("is not the library's head-signing key"))
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.moveItem(atPath: dir.at("key.away"), toPath: key)
        #expect(try run(["catalog", "backup"]).stdout.contains("head on family"))
    }

    @Test func badGridRequestsAreRefusedAndNothingIsMade() throws {
        #expect(try run(["init"]).status == 0)
        for i in 0..<3 { _ = try run(["store", "add", dir.folder("m\(i)"), "--label", "m\(i)"]) }
        // Three folders on one disk cannot make three distinct failure domains.
        let oneDisk = try run(["grid", "create", "g", "--k", "2", "--n", "3", "--stores", "m0,m1,m2"])
        #expect(oneDisk.status == 64 && oneDisk.stderr.contains("different disks"), "\(oneDisk.stderr)")
        let unknown = try run(["grid", "create", "g", "--k", "2", "--n", "3", "--stores", "m0,nope"])
        #expect(unknown.status != 0 && unknown.stderr.contains("nope"))
        let tooFew = try run(["grid", "create", "g", "--k", "3", "--n", "4", "--stores", "m0,m1", "--happy", "1"])
        #expect(tooFew.status == 64 && tooFew.stderr.contains("at least 3 member stores"), "\(tooFew.stderr)")
        #expect(try run(["grid", "create", "g", "--k", "5", "--n", "3", "--stores", "m0"]).status == 64)
        let list = try run(["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        #expect(list.count == 3 && !FileManager.default.fileExists(atPath: dir.at("m0/.trove/grid")))
    }
}
