import Foundation
import Testing
import TroveTesting

/// Issue 13: one library in PostgreSQL, used by two machines at once (two processes with their
/// own library folders and stores), and moving a catalog between SQLite and PostgreSQL.
struct SharedCatalogScenarioTests {
    let dir = TempFolder("shared")
    var libA: String { dir.at("machine-a") }
    var libB: String { dir.at("machine-b") }

    func tree(_ name: String, files: Int, size: Int) -> String {
        for i in 0..<files { dir.file("\(name)/file-\(i).bin", testBytes(size + i, seed: UInt64(name.hashValue & 0xffff) + UInt64(i))) }
        return dir.at(name)
    }

    @Test func twoMachinesImportHealAndAreRefusedGCOnOneCatalog() throws {
        let url = try PostgresServer.shared.get().newDatabase("two").description
        #expect(try trove(["init", "--catalog", url, "--copies", "2"], library: libA).status == 0)
        let join = try trove(["init", "--catalog", url], library: libB)
        #expect(join.status == 0 && join.stdout.contains("uses the catalog"), "\(join.stdout) \(join.stderr)")
        #expect(try trove(["store", "add", dir.folder("usbA"), "--label", "usbA", "--disk", "dA"], library: libA).status == 0)
        #expect(try trove(["store", "add", dir.folder("usbB"), "--label", "usbB", "--disk", "dB"], library: libB).status == 0)

        // Both machines import at the same moment, each to its own drive.
        let (treeA, treeB) = (tree("a", files: 30, size: 70_000), tree("b", files: 30, size: 70_000))
        let importA = try startTrove(["add", treeA, "--store", "usbA"], library: libA)
        let importB = try startTrove(["add", treeB, "--store", "usbB"], library: libB)
        importA.waitUntilExit()
        importB.waitUntilExit()
        #expect(importA.terminationStatus == 0 && importB.terminationStatus == 0)
        let seen = try trove(["status", "--json"], library: libB).json()
        #expect(seen["files"] as? Int == 60, "machine B sees both machines' imports")

        // A slow store only machine A's heal may fill: the heal takes seconds.
        #expect(try trove(["store", "add", dir.folder("slow"), "--label", "slow", "--disk", "dC", "--limit", "1MB/s"], library: libA).status == 0)
        for label in ["usbA", "usbB"] { #expect(try trove(["store", "set", label, "--no-new-copies"], library: libA).status == 0) }
        let heal = try startTrove(["heal"], library: libA, stderrPath: dir.at("heal.log"))
        defer { if heal.isRunning { heal.terminate() } }
        // gc takes the recovery lock for a moment even to be refused: a probe must not race the
        // heal for it, so the first one waits until the heal has surely started (it runs ~4 s).
        Thread.sleep(forTimeInterval: 1)
        let deadline = Date().addingTimeInterval(30)
        var refused: TroveRun?
        while heal.isRunning, Date() < deadline {
            let gc = try trove(["gc", "--dry-run"], library: libB)
            if gc.status != 0 { refused = gc; break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(heal.isRunning, "the heal was still running when gc was refused")
        #expect(refused?.status == 75 && refused?.stderr.contains("recovery") == true, "\(refused?.stderr ?? "gc was never refused")")
        // Machine B imports while machine A heals.
        let during = try trove(["add", tree("c", files: 5, size: 20_000), "--store", "slow"], library: libB)
        #expect(during.status == 0, "\(during.stderr)")
        #expect(heal.isRunning, "the import ran during the heal")
        heal.waitUntilExit()
        #expect(heal.terminationStatus == 0, "\((try? String(contentsOfFile: dir.at("heal.log"), encoding: .utf8)) ?? "")")

        for library in [libA, libB] {
            let check = try trove(["check"], library: library)
            #expect(check.status == 0, "\(check.stdout) \(check.stderr)")
        }
        let status = try trove(["status", "--json"], library: libA).json()
        #expect(status["files"] as? Int == 65)
        let durability = (status["durability"] as? [[String: Any]] ?? []).reduce(into: [Int: Int]()) {
            $0[$1["durability"] as? Int ?? -1] = $1["files"] as? Int
        }
        #expect(durability[2] == 60 && durability[1] == 5, "\(durability)")
        // Every event has its own number, in order, whichever machine wrote it.
        let events = try trove(["events", "--json", "--limit", "10000"], library: libB).jsonLines().compactMap { $0["seq"] as? Int }
        #expect(events == events.sorted() && Set(events).count == events.count && events.count > 60)
    }

    /// Machines of one library reach each other's drives: machine B reads, verifies and heals
    /// onto machine A's own drive through A's `trove serve`, as if it were attached; when A goes
    /// off, B's alert says to turn A on. B runs where A's drive folder is an empty mount (another
    /// machine: the drive is not there), which needs a mount namespace, so root.
    @Test(.enabled(if: isRoot)) func aMachineReachesTheOtherMachinesDriveThroughItsServer() throws {
        let url = try PostgresServer.shared.get().newDatabase("own").description
        let onA = ["TROVE_MACHINE_NAME": "alpha"], onB = ["TROVE_MACHINE_NAME": "beta"]
        #expect(try trove(["init", "--catalog", url, "--copies", "2"], library: libA, environment: onA).status == 0)
        #expect(try trove(["init", "--catalog", url], library: libB, environment: onB).status == 0)
        let drive = dir.folder("alpha-usb"), spare = dir.folder("alpha-spare")
        #expect(try trove(["store", "add", drive, "--label", "usbA", "--disk", "dA"], library: libA, environment: onA).status == 0)
        let photo = dir.file("photos/raw.cr3", testBytes(3_000_000, seed: 5))
        let added = try trove(["add", photo, "--store", "usbA", "--json"], library: libA, environment: onA)
        let id = try #require((try added.json()["imported"] as? [[String: Any]])?.first?["id"] as? String)
        let (server, port) = try PeerScenarioTests.serve(libA, tank: nil, machine: "alpha")
        defer { if server.isRunning { server.terminate(); server.waitUntilExit() } }
        let invite = try trove(["peer", "invite", "--label", "beta", "--can", "read,write", "--json"], library: libA, environment: onA)
        let code = try #require(try invite.json()["code"] as? String)
        #expect(try trove(["peer", "join", "https://127.0.0.1:\(port)", code, "--label", "alpha"], library: libB, environment: onB).status == 0)

        let onBeta = { (args: [String]) throws -> TroveRun in
            try trove(args, library: self.libB, environment: onB, hiding: [drive, spare])
        }
        // Reads come through alpha; verify runs on alpha; the store is connected from here.
        let out = dir.at("restored.cr3")
        let get = try onBeta(["get", id, "--to", out])
        #expect(get.status == 0, "\(get.stdout)\(get.stderr)")
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: photo))
        #expect(try onBeta(["verify", "--store", "usbA"]).status == 0)
        let stores = try onBeta(["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        #expect(stores.first { $0["label"] as? String == "usbA" }?["connected"] as? Bool == true, "\(stores)")
        // Alpha gets a second drive while serving; beta heals onto it, through alpha.
        #expect(try trove(["store", "add", spare, "--label", "spareA", "--disk", "dS"], library: libA, environment: onA).status == 0)
        let heal = try onBeta(["heal"])
        #expect(heal.status == 0, "\(heal.stdout)\(heal.stderr)")
        let whereis = try onBeta(["whereis", id, "--json"]).stdout
        #expect(whereis.contains("spareA"), "\(whereis)")

        // Alpha is switched off: beta's status says to turn it on.
        server.terminate()
        server.waitUntilExit()
        let status = try onBeta(["status", "--json"])
        let alert = (try status.json()["alerts"] as? [[String: Any]] ?? []).first { $0["kind"] as? String == "disconnected_drive" }
        #expect((alert?["action"] as? String)?.contains("alpha") == true, "\(status.stdout)")
    }

    @Test func aLibraryMovesToPostgreSQLAndBackAnsweringTheSame() throws {
        let url = try PostgresServer.shared.get().newDatabase("move").description
        let lib = libA
        #expect(try trove(["init", "--copies", "2"], library: lib).status == 0)
        for i in 0..<2 { #expect(try trove(["store", "add", dir.folder("usb\(i)"), "--label", "usb\(i)", "--disk", "d\(i)"], library: lib).status == 0) }
        let photos = tree("photos", files: 12, size: 30_000)
        #expect(try trove(["add", photos], library: lib).status == 0)
        #expect(try trove(["snapshot", photos], library: lib).status == 0)
        dir.file("photos/new.bin", testBytes(5000, seed: 99))
        #expect(try trove(["snapshot", photos], library: lib).status == 0)

        func answers() throws -> [String] {
            var status = try trove(["status", "--json"], library: lib).json()
            status["records"] = nil
            status["alerts"] = nil
            let durability = try JSONSerialization.data(withJSONObject: status["durability"] ?? [], options: [.sortedKeys])
            return [String(describing: status["files"]), String(decoding: durability, as: UTF8.self),
                    try trove(["snapshots", "--json"], library: lib).stdout, try trove(["find", "file-1*"], library: lib).stdout,
                    try trove(["whereis", photos + "/file-3.bin"], library: lib).stdout]
        }
        let before = try answers()
        let moved = try trove(["catalog", "migrate", "--to", url], library: lib)
        #expect(moved.status == 0, "\(moved.stdout) \(moved.stderr)")
        #expect(FileManager.default.fileExists(atPath: lib + "/catalog.url"))
        #expect(try trove(["check"], library: lib).stdout.contains("schema pg3"))
        let after = try answers()
        for (a, b) in zip(before, after) { #expect(a == b) }
        // Nothing is written into a database that already holds a library.
        let again = try trove(["catalog", "migrate", "--to", "sqlite"], library: lib)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try answers() == before)
        #expect(try trove(["check"], library: lib).status == 0)
        let occupied = try trove(["catalog", "migrate", "--to", url], library: lib)
        #expect(occupied.status == 73 && occupied.stderr.contains("already holds a Trove library"), "\(occupied.stderr)")
        // A restore from the moved catalog is byte-identical.
        let restore = try trove(["restore", "latest", "--to", dir.at("restored")], library: lib)
        #expect(restore.status == 0, "\(restore.stderr)")
        #expect(FileManager.default.contents(atPath: dir.at("restored/new.bin")) == Data(testBytes(5000, seed: 99)))
    }

    @Test func aPasswordInTheURLIsRefusedAndNothingIsMade() throws {
        let run = try trove(["init", "--catalog", "postgresql://trove:secret@127.0.0.1/x"], library: libA)
        #expect(run.status == 64 && run.stderr.contains("PGPASSWORD"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: libA))
        // A server that does not answer: one sentence, exit 74, no folder either.
        let away = try trove(["init", "--catalog", "postgresql://trove@127.0.0.1:1/x?sslmode=disable"], library: libA)
        #expect(away.status == 74 && away.stderr.contains("Cannot reach the PostgreSQL catalog"), "\(away.stderr)")
        #expect(!FileManager.default.fileExists(atPath: libA))
    }

    @Test func aSharedLibraryMovedAwayIsNotUsedBehindItsBack() throws {
        let url = try PostgresServer.shared.get().newDatabase("left").description
        #expect(try trove(["init", "--catalog", url], library: libA).status == 0)
        #expect(try trove(["init", "--catalog", url], library: libB).status == 0)
        #expect(try trove(["store", "add", dir.folder("usb"), "--label", "usb"], library: libA).status == 0)
        #expect(try trove(["catalog", "migrate", "--to", "sqlite"], library: libA).status == 0)
        let left = try trove(["status"], library: libB)
        #expect(left.status == 74 && left.stderr.contains("moved from"), "\(left.stderr)")
        #expect(try trove(["store", "list", "--json"], library: libA).stdout.contains("usb"))
    }
}
