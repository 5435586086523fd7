import Foundation
import Testing
import TroveTesting

/// Drives the real `trove` binary on real folders, reading its --json output and exit codes.
struct FoundationScenarioTests {
    let dir = TempFolder("scenario")
    var lib: String { dir.at("library") }

    func setUp(stores: Int = 1) throws {
        #expect(try trove(["init"], library: lib).status == 0)
        for i in 0..<stores {
            let run = try trove(["store", "add", dir.folder("usb\(i)"), "--label", "usb\(i)", "--disk", "d\(i)"], library: lib)
            #expect(run.status == 0, "\(run.stderr)")
        }
    }

    @Test func hashMatchesTheProtocolVectors() throws {
        let empty = dir.file("empty", [])
        let a = dir.file("a", Array("A".utf8))
        let run = try trove(["hash", empty, a])
        #expect(run.status == 0)
        #expect(run.stdout == """
            tcih4jrrwbzh6m5ed6dojtyd36ztwcdgbq6mql6wqmx66kyhi27q  \(empty)
            zefx3kij3abe34xs4z2qxt7745xj4ezzfuhzbxwpjzlqg2pj4cgq  \(a)

            """)
    }

    @Test func importReadBackAndInspect() throws {
        try setUp(stores: 1)
        dir.file("Pictures/2026/IMG_1.jpg", testBytes(300_000, seed: 1))
        dir.file("Pictures/2026/nested dir/IMG 2 ü.jpg", testBytes(200_000, seed: 2))
        dir.file("Pictures/dup.jpg", testBytes(300_000, seed: 1))
        let add = try trove(["add", dir.at("Pictures"), "--json"], library: lib)
        #expect(add.status == 0, "\(add.stderr)")
        let report = try add.json()
        #expect(report["new_files"] as? Int == 2)
        #expect(report["duplicates"] as? Int == 1)
        let imported = try #require(report["imported"] as? [[String: Any]])
        let id = try #require(imported.first { ($0["path"] as? String)?.hasSuffix("IMG_1.jpg") == true }?["id"] as? String)

        // trove hash gives the same ID without importing.
        let hash = try trove(["hash", dir.at("Pictures/2026/IMG_1.jpg")])
        #expect(hash.stdout.hasPrefix(id))

        let out = dir.at("restored.jpg")
        let get = try trove(["get", id, "--to", out], library: lib)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(testBytes(300_000, seed: 1)))

        let whereis = try trove(["whereis", dir.at("Pictures/dup.jpg"), "--json"], library: lib).json()
        let file = try #require((whereis["files"] as? [[String: Any]])?.first)
        #expect(file["id"] as? String == id)
        let copies = try #require(file["copies"] as? [[String: Any]])
        #expect(copies.map { $0["store_label"] as? String } == ["usb0"])
        #expect(copies.first?["verified"] is String)

        let status = try trove(["status", "--json"], library: lib)
        // One store cannot hold 3 copies: the user must act (exit 2), and fragile files are flagged.
        #expect(status.status == 2)
        let json = try status.json()
        #expect(json["files"] as? Int == 2)
        #expect(json["state"] as? String == "critical")
        let alerts = try #require(json["alerts"] as? [[String: Any]])
        #expect(alerts.contains { $0["kind"] as? String == "insufficient_storage" && $0["severity"] as? String == "critical" })
        #expect(alerts.contains { $0["kind"] as? String == "low_durability" && $0["action"] is String })
        let stores = try #require(json["stores"] as? [[String: Any]])
        #expect(stores.first?["label"] as? String == "usb0")
        #expect(stores.first?["connected"] as? Bool == true)

        let events = try trove(["events", "--json"], library: lib).jsonLines()
        #expect(events.filter { $0["kind"] as? String == "file_imported" }.count == 3)
        #expect(events.allSatisfy { $0["seq"] is Int && $0["time"] is String })

        let list = try trove(["store", "list", "--json"], library: lib).json()
        #expect((list["stores"] as? [[String: Any]])?.first?["files"] as? Int == 2)
    }

    @Test func verifyFindsAFlippedByteAndNamesTheLeaf() throws {
        try setUp(stores: 1)
        let bytes = testBytes(9_000_000, seed: 7)
        let id = try #require((try trove(["add", dir.file("video.mov", bytes), "--json"], library: lib).json()["imported"] as? [[String: Any]])?.first?["id"] as? String)
        let object = dir.at("usb0/.trove/objects/\(id.prefix(2))/\(id.dropFirst(2))")
        try flipBit(in: object, at: 8_500_000)
        let verify = try trove(["verify", "--json"], library: lib)
        #expect(verify.status == 2)
        let store = try #require((try verify.json()["stores"] as? [[String: Any]])?.first)
        let corrupt = try #require((store["corrupt"] as? [[String: Any]])?.first)
        #expect(corrupt["leaf"] as? Int == 1)
        #expect(FileManager.default.fileExists(atPath: object) == false)
        let events = try trove(["events", "--json", "--kind", "corrupt_copy"], library: lib).jsonLines()
        #expect(events.count == 1)
        #expect((events[0]["details"] as? [String: Any])?["leaf"] as? Int == 1)
        // The quarantined copy cannot be read back, and the error says so.
        let get = try trove(["get", id, "--to", dir.at("x")], library: lib)
        #expect(get.status == 65)
    }

    @Test func checkCatchesATamperedCatalog() throws {
        try setUp(stores: 1)
        _ = try trove(["add", dir.file("a.txt", text: "hello")], library: lib)
        #expect(try trove(["check"], library: lib).status == 0)
        try tamper(lib + "/catalog.sqlite", "UPDATE files SET size = size + 1")
        let check = try trove(["check", "--json"], library: lib)
        #expect(check.status == 2)
        let failures = try check.json()["failures"] as? [[String: Any]] ?? []
        #expect(failures.contains { $0["table"] as? String == "files" })
        #expect(try trove(["events", "--json", "--kind", "consistency_failure"], library: lib).jsonLines().count == failures.count)
    }

    @Test func reattachingAStoreAdoptsIt() throws {
        try setUp(stores: 1)
        _ = try trove(["add", dir.file("keep.txt", text: "precious")], library: lib)
        let other = dir.at("library2")
        #expect(try trove(["init"], library: other).status == 0)
        let add = try trove(["store", "add", dir.at("usb0"), "--json"], library: other)
        #expect(add.status == 0, "\(add.stderr)")
        #expect((try add.json()["adopted"] as? [String: Any])?["new"] as? Int == 1)
        #expect(FileManager.default.fileExists(atPath: dir.at("usb0/.trove/store.json")))
    }

    @Test func demoRunsTheMainJobEndToEnd() throws {
        let run = try trove(["demo", "--dir", dir.at("demo"), "--photos", "6"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("All is well."))
        #expect(run.stdout.contains("→ verified"))
        // The demo never touches the user's own library.
        #expect(FileManager.default.fileExists(atPath: dir.at("demo/library/catalog.sqlite")))
    }

    @Test func helpIsEverywhere() throws {
        for command in [[], ["add"], ["store", "add"], ["store", "set"], ["status"], ["verify"], ["events"], ["check"], ["get"],
                        ["whereis"], ["hash"], ["heal"], ["scrub"], ["serve"], ["gc"], ["track"], ["snapshot"], ["snapshots"],
                        ["ls"], ["find"], ["restore"], ["diff"], ["forget"], ["dupes"], ["du"], ["index-snapshots"], ["demo"]] {
            let run = try trove(command + ["--help"])
            #expect(run.status == 0)
            #expect(run.stdout.contains("USAGE"), "\(command)")
        }
    }
}
