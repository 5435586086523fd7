#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import TroveCore
import TroveTesting

/// kill -9 at random (seeded) moments of `add`, `heal`, `snapshot`, `restore` and `gc`, then the
/// same command again: the library must end consistent (`check`, `verify` clean), no object may
/// fail its hash, no temporary may be left, and every file must come back byte for byte.
/// `TROVE_KILL_ROUNDS` sets kills per command (default 20; `Benchmarks/kill-drill.sh` runs more).
struct KillDrillScenarioTests {
    let dir = TempFolder("kill")
    var lib: String { dir.at("library") }
    let rounds = Int(ProcessInfo.processInfo.environment["TROVE_KILL_ROUNDS"] ?? "") ?? 20

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib) }

    /// Starts `trove ARGS`, kills it with SIGKILL after `delay` seconds (if still running).
    func killed(_ args: [String], after delay: Double) throws -> Bool {
        let process = try startTrove(args, library: lib, environment: ["TROVE_LOG_LEVEL": "critical"])
        usleep(useconds_t(delay * 1_000_000))
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return wasRunning
    }

    func temporaries(under folder: String) -> [String] {
        let all = FileManager.default.enumerator(atPath: folder)
        var found: [String] = []
        while let path = all?.nextObject() as? String {
            if path.hasPrefix(".trove/tmp/") || (path as NSString).lastPathComponent.hasPrefix(".trove-") { found.append(path) }
        }
        return found
    }

    func expectConsistent(_ stage: String) throws {
        let check = try run(["check"])
        #expect(check.status == 0, "\(stage): check \(check.stdout) \(check.stderr)")
        let verify = try run(["verify"])
        #expect(verify.status == 0, "\(stage): verify \(verify.stdout) \(verify.stderr)")
        for store in 0..<3 {
            #expect(temporaries(under: dir.at("s\(store)")).isEmpty, "\(stage): temporaries left in s\(store)")
        }
    }

    /// Round 0 runs `command` to completion and times it; every later round prepares fresh work
    /// and kills the command at a random moment of that span; then it runs to completion.
    func drill(_ command: [String], random: inout SplitMix64, kills: inout Int, prepare: (Int) throws -> Void) throws {
        try prepare(0)
        let started = Date()
        let first = try run(command)
        #expect(first.status == 0, "\(command): \(first.stderr)")
        let span = max(0.05, Date().timeIntervalSince(started))
        for round in 1...rounds {
            try prepare(round)
            if try killed(command, after: 0.005 + span * Double(random.next() % 1000) / 1000) { kills += 1 }
        }
        let last = try run(command)
        #expect(last.status == 0, "\(command) after kills: \(last.stderr)")
    }

    @Test func killedAtRandomMomentsTroveLosesNothing() throws {
        var random = SplitMix64(seed: 20261130)
        #expect(try run(["init", "--copies", "2"]).status == 0)
        for i in 0..<3 { #expect(try run(["store", "add", dir.folder("s\(i)"), "--label", "s\(i)", "--disk", "d\(i)"]).status == 0) }
        var kills = 0
        // add: a new batch of small files and one large file each round.
        try drill(["add", dir.at("tree")], random: &random, kills: &kills) { round in
            for i in 0..<15 { dir.file("tree/batch\(round)/f\(i).bin", testBytes(2_000 + i * 3_000, seed: UInt64(round * 100 + i))) }
            dir.file("tree/batch\(round)/large.bin", testBytes(2_500_000, seed: UInt64(round)))
        }
        try expectConsistent("after add")
        // heal: each round imports new files to one store only, so heal has copies to make.
        try drill(["heal"], random: &random, kills: &kills) { (round: Int) throws in
            for i in 0..<5 { dir.file("single/r\(round)/f\(i).bin", testBytes(400_000, seed: UInt64(7000 + round * 10 + i))) }
            #expect(try run(["add", dir.at("single/r\(round)"), "--store", "s\(round % 3)"]).status == 0)
        }
        try expectConsistent("after heal")
        // snapshot: large files change every round, so they are read again.
        try drill(["snapshot", dir.at("tree")], random: &random, kills: &kills) { round in
            for batch in 0..<3 { dir.file("tree/batch\(batch)/large.bin", testBytes(2_500_000, seed: UInt64(5000 + round * 3 + batch))) }
        }
        #expect(try run(["heal"]).status == 0)
        try expectConsistent("after snapshot")
        // restore: the same restore over the killed one, with --overwrite.
        let dest = dir.at("restored")
        try drill(["restore", "latest", "--to", dest, "--overwrite"], random: &random, kills: &kills) { _ in }
        #expect(temporaries(under: dest).isEmpty, "restore left temporaries")
        let differences = Tree.differences(try Tree.facts(Tree.bytes(dir.at("tree"))), try Tree.facts(Tree.bytes(dest)), owners: true)
        #expect(differences.isEmpty, "\(differences.prefix(10))")
        var info = stat()
        #expect(stat(dest, &info) == 0 && info.st_mode & 0o777 == 0o755, "the destination keeps an ordinary mode")
        // gc: each round an old version of the large files is forgotten, and gc deletes it; and
        // most of the last round's notes (one pack) are deleted, so gc rewrites their pack.
        try drill(["gc"], random: &random, kills: &kills) { (round: Int) throws in
            // The previous round's snapshots of each folder (the same work every round, so the
            // first round's span is a fair guess for the kills).
            let listed = try #require(try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]])
            let before = ["/tree", "/notes"].compactMap { folder in
                listed.last { ($0["root"] as? String)?.hasSuffix(folder) == true }?["id"] as? String
            }
            for batch in 0..<3 { dir.file("tree/batch\(batch)/large.bin", testBytes(2_500_000, seed: UInt64(9000 + round * 3 + batch))) }
            for i in 0..<15 { dir.file("notes/r\(round)/n\(i).txt", testBytes(1_000 + i * 500, seed: UInt64(12_000 + round * 20 + i))) }
            if round > 0 { for i in 0..<12 { try FileManager.default.removeItem(atPath: dir.at("notes/r\(round - 1)/n\(i).txt")) } }
            #expect(try run(["snapshot", dir.at("notes")]).status == 0)
            #expect(try run(["snapshot", dir.at("tree")]).status == 0)
            for id in before { #expect(try run(["forget", id]).status == 0) }
        }
        #expect(try run(["heal"]).status == 0)
        try expectConsistent("after gc")
        // Every file of the latest snapshot comes back, byte for byte.
        let final = dir.at("final")
        #expect(try run(["restore", "latest", "--to", final]).status == 0)
        #expect(Tree.differences(try Tree.facts(Tree.bytes(dir.at("tree"))), try Tree.facts(Tree.bytes(final)), owners: true) == [])
        let notes = dir.at("final-notes")
        let latestNotes = try #require((try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]])?
            .last { ($0["root"] as? String)?.hasSuffix("/notes") == true }?["id"] as? String)
        #expect(try run(["restore", latestNotes, "--to", notes]).status == 0)
        #expect(Tree.differences(try Tree.facts(Tree.bytes(dir.at("notes"))), try Tree.facts(Tree.bytes(notes)), owners: true) == [])
        #expect(kills >= rounds * 5 / 2, "most runs should be killed while working (\(kills) of \(5 * rounds))")
        print("kill drill: \(kills) of \(5 * rounds) runs killed while working; library consistent, every file restored")
    }
}
