import Foundation
import Testing
import TroveTesting

/// Issue 3's user stories, driven through the real binary on real folders.
struct DurabilityScenarioTests {
    let dir = TempFolder("durability")
    var lib: String { dir.at("library") }
    let start = 1_800_000_000.0

    /// Runs trove at a pinned time (seconds after `start`).
    func at(_ days: Double, _ args: [String]) throws -> TroveRun {
        try trove(args, library: lib, environment: ["TROVE_NOW": String(start + days * 86_400)])
    }

    func setUp(files: Int = 5) throws -> [String] {
        #expect(try at(0, ["init"]).status == 0)
        for i in 0..<3 { #expect(try at(0, ["store", "add", dir.folder("usb\(i)"), "--label", "usb\(i)", "--disk", "d\(i)"]).status == 0) }
        for i in 0..<files { dir.file("photos/IMG_\(i).jpg", testBytes(200_000 + i, seed: UInt64(i + 10))) }
        let add = try at(0, ["add", dir.at("photos"), "--json"])
        #expect(add.status == 0, "\(add.stderr)")
        return (try add.json()["imported"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
    }

    func durability(_ run: TroveRun) throws -> [Int: Int] {
        var result: [Int: Int] = [:]
        for bucket in try run.json()["durability"] as? [[String: Any]] ?? [] {
            result[bucket["durability"] as? Int ?? -1] = bucket["files"] as? Int
        }
        return result
    }

    func alertKinds(_ run: TroveRun) throws -> [String] {
        (try run.json()["alerts"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    @Test func threeStoresImportHealAndAllIsWell() throws {
        _ = try setUp()
        let before = try at(0, ["status", "--json"])
        #expect(try alertKinds(before) == ["low_durability"])
        #expect(before.status == 1)
        let heal = try at(0, ["heal", "--json"])
        #expect(heal.status == 0, "\(heal.stderr)")
        #expect(try heal.json()["copies_made"] as? Int == 10)
        let after = try at(0, ["status", "--json"])
        #expect(after.status == 0)
        #expect(try durability(after) == [3: 5])
        #expect(try alertKinds(after).isEmpty)
    }

    @Test func bitRotIsFoundByScrubAndHealedFromTheOthers() throws {
        let ids = try setUp()
        _ = try at(0, ["heal"])
        _ = try at(0, ["store", "add", dir.folder("usb3"), "--label", "usb3", "--disk", "d3"])
        let victim = ids[0]
        try flipBit(in: dir.at("usb1/.trove/objects/\(victim.prefix(2))/\(victim.dropFirst(2))"), at: 1234)
        let scrub = try at(0, ["scrub", "--json"])
        #expect(scrub.status == 2)
        #expect((try scrub.json()["corrupt"] as? [Any])?.count == 1)
        let failing = try at(0, ["status", "--json"])
        #expect(failing.status == 2)
        #expect(try alertKinds(failing).contains("drive_failure"))
        let failure = try #require((try failing.json()["alerts"] as? [[String: Any]])?.first { $0["kind"] as? String == "drive_failure" })
        #expect(failure["store_label"] as? String == "usb1")
        // usb1 is downgraded, so its copies stop counting; heal restores 3 copies from the others.
        #expect(try at(0, ["heal"]).status == 0)
        let healed = try at(0, ["status", "--json"])
        #expect(try durability(healed) == [3: 5])
        #expect(try alertKinds(healed) == ["drive_failure"])  // shown until acknowledged
        #expect(try at(0, ["store", "ack", "usb1"]).status == 0)
        #expect(try at(0, ["status"]).status == 0)
        let store = try #require((try at(0, ["store", "list", "--json"]).json()["stores"] as? [[String: Any]])?.first { $0["label"] as? String == "usb1" })
        #expect(store["no_new_copies"] as? Bool == true)
    }

    @Test func movingTheOnlyCopiesAwayNamesTheDrive() throws {
        #expect(try at(0, ["init"]).status == 0)
        for i in 0..<3 { _ = try at(0, ["store", "add", dir.folder("usb\(i)"), "--disk", "d\(i)"]) }
        _ = try at(0, ["add", dir.file("thesis.pdf", testBytes(5000)), "--store", "usb2"])
        try FileManager.default.moveItem(atPath: dir.at("usb2"), toPath: dir.at("drawer"))
        let status = try at(0, ["status", "--json"])
        #expect(status.status == 2)
        let alert = try #require((try status.json()["alerts"] as? [[String: Any]])?.first { $0["kind"] as? String == "disconnected_drive" })
        #expect(alert["store_label"] as? String == "usb2")
        #expect(alert["files"] as? Int == 1)
        // The folder was on this machine's own disk (a virtual disk here): turn nothing on, look
        // for the drive where it was mounted.
        #expect((alert["action"] as? String)?.contains("drive holding 'usb2' is inside this machine: check that it is mounted at") == true,
                "\(alert)")
        let text = try at(0, ["status"])
        #expect(text.stdout.contains("disconnected_drive"))
    }

    /// A monitor polling `status`, `store list` and `metrics` while nothing changes writes
    /// nothing to the catalog: the stores' last sightings and the events stay as the last heal left them.
    @Test func statusStoreListAndMetricsOnlyRead() throws {
        _ = try setUp(files: 1)
        _ = try at(0, ["heal"])
        let sightings = { () throws -> [String: String] in
            var seen: [String: String] = [:]
            for store in try at(0.5, ["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? [] {
                seen[store["label"] as? String ?? "?"] = store["last_seen"] as? String
            }
            return seen
        }
        let before = try sightings()
        let events = try at(0.5, ["events", "--json"]).jsonLines().count
        #expect(before.count == 3 && before.values.allSatisfy { !$0.isEmpty })
        for _ in 0..<3 {
            #expect(try at(0.5, ["status"]).status == 0)
            #expect(try at(0.5, ["status", "--json"]).status == 0)
            #expect(try at(0.5, ["metrics"]).status == 0)
        }
        #expect(try sightings() == before, "status recorded no sighting")
        #expect(try at(0.5, ["events", "--json"]).jsonLines().count == events)
        // A command that changes the library records what it saw.
        _ = try at(0.5, ["heal"])
        #expect(try sightings() != before)
    }

    /// `status` applies the lifecycle rules when they change something (here a downgrade, then a
    /// purge), so it never reports copies that no longer count.
    @Test func unseenStoreIsDowngradedAfterFourDaysAndPurgedAfterNine() throws {
        _ = try setUp(files: 2)
        _ = try at(0, ["heal"])
        try FileManager.default.moveItem(atPath: dir.at("usb0"), toPath: dir.at("away"))
        // Two connected stores cannot hold three copies: act now; but nothing is downgraded yet.
        #expect(try at(2, ["status"]).status == 2)
        #expect(try at(2, ["events", "--json", "--kind", "store_downgraded"]).jsonLines().isEmpty)
        _ = try at(4, ["status"])
        let downgraded = try at(4, ["events", "--json", "--kind", "store_downgraded"]).jsonLines()
        #expect(downgraded.count == 1)
        #expect(downgraded.first?["store_label"] as? String == "usb0")
        #expect((downgraded.first?["details"] as? [String: Any])?["count"] as? Int == 2)
        _ = try at(9, ["status"])
        let purged = try at(9, ["events", "--json", "--kind", "store_purged"]).jsonLines()
        #expect(purged.count == 1)
        #expect((purged.first?["details"] as? [String: Any])?["count"] as? Int == 2)
        let stores = try at(9, ["store", "list", "--json"]).json()["stores"] as? [[String: Any]] ?? []
        #expect(!stores.contains { $0["label"] as? String == "usb0" })
    }

    @Test func gcRemovesOnlyUnreferencedObjects() throws {
        _ = try setUp(files: 1)
        // An object nobody references (e.g. left by a crash between store and catalog).
        let stray = "tcih4jrrwbzh6m5ed6dojtyd36ztwcdgbq6mql6wqmx66kyhi27q"
        dir.file("usb0/.trove/objects/\(stray.prefix(2))/\(stray.dropFirst(2))", [])
        let dry = try at(0, ["gc", "--dry-run", "--json"])
        #expect((try dry.json()["unreferenced"] as? [Any])?.count == 1)
        #expect(FileManager.default.fileExists(atPath: dir.at("usb0/.trove/objects/tc/\(stray.dropFirst(2))")))
        #expect(try at(0, ["gc"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: dir.at("usb0/.trove/objects/tc/\(stray.dropFirst(2))")))
        #expect(try at(0, ["verify"]).status == 0)
    }

    @Test func serveRunsPassesAndHeals() throws {
        _ = try setUp(files: 2)
        let serve = try at(0, ["serve", "--passes", "1", "--interval", "0"])
        #expect(serve.status == 0, "\(serve.stderr)")
        #expect(try durability(try at(0, ["status", "--json"])) == [3: 2])
    }

    @Test func mirroredImportLandsOnTwoStores() throws {
        #expect(try at(0, ["init"]).status == 0)
        for i in 0..<3 { _ = try at(0, ["store", "add", dir.folder("usb\(i)"), "--disk", "d\(i)"]) }
        let add = try at(0, ["add", dir.file("a.raw", testBytes(10_000)), "--mirror", "2", "--json"])
        #expect(add.status == 0)
        #expect(((try add.json()["imported"] as? [[String: Any]])?.first?["stores"] as? [String])?.count == 2)
    }

    @Test func storeSetChangesWeight() throws {
        _ = try setUp(files: 1)
        let set = try at(0, ["store", "set", "usb2", "--copies", "2", "--json"])
        #expect(set.status == 0, "\(set.stderr)")
        #expect(try set.json()["copies"] as? Int == 2)
        #expect(try at(0, ["store", "set", "usb2", "--no-new-copies"]).status == 0)
        let store = (try at(0, ["store", "list", "--json"]).json()["stores"] as? [[String: Any]])?.first { $0["label"] as? String == "usb2" }
        #expect(store?["no_new_copies"] as? Bool == true)
    }
}
