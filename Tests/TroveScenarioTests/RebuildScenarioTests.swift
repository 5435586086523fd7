import Foundation
import Testing
import TroveCore
import TroveTesting

/// Issue 13: the catalog is an index. Losing it (deleted, or garbage written into it) loses
/// nothing: `trove catalog rebuild` makes the same catalog again from any one store.
@Suite(.serialized) struct RebuildScenarioTests {
    let dir = TempFolder("rebuild")
    var lib: String { dir.at("library") }
    static let passphrase = "correct horse battery staple"
    var env: [String: String] {
        ["AWS_ACCESS_KEY_ID": MotoServer.credentials.accessKey, "AWS_SECRET_ACCESS_KEY": MotoServer.credentials.secretKey,
         "TROVE_PASSPHRASE": Self.passphrase]
    }

    func run(_ args: [String]) throws -> TroveRun { try trove(args, library: lib, environment: env) }

    /// The kind of the third store, the one the catalog is rebuilt from.
    enum SourceKind: String, CaseIterable, CustomStringConvertible {
        case folder, encrypted, s3
        var description: String { rawValue }
    }

    /// What a user sees of the library, to compare before and after a rebuild.
    struct View: Equatable {
        var status: String
        var snapshots: String
        var find: String
        var whereis: String
        var gcWouldRemove: [String]
    }

    /// Drops what changes by itself (times, free space) from a JSON document: a copy's time is
    /// when it was found, a file's own modification time stays.
    static func steady(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var kept: [String: Any] = [:]
            for (key, inner) in object where !["time", "last_seen", "verified", "free", "capacity", "seconds"].contains(key)
                && !(key == "mtime" && object["store_id"] != nil) {
                kept[key] = steady(inner)
            }
            return kept
        }
        if let array = value as? [Any] { return array.map(steady) }
        return value
    }

    static func canonical(_ text: String) throws -> String {
        let value = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        let data = try JSONSerialization.data(withJSONObject: steady(value), options: [.sortedKeys, .fragmentsAllowed])
        return String(decoding: data, as: UTF8.self)
    }

    func view() throws -> View {
        let status = try run(["status", "--json"])
        let gc = try run(["gc", "--dry-run", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        let removed = (try gc.json()["unreferenced"] as? [[String: Any]] ?? []).map { "\($0["store"] ?? "")/\($0["id"] ?? "")" }.sorted()
        return View(status: try Self.canonical(status.stdout), snapshots: try Self.canonical(try run(["snapshots", "--json"]).stdout),
                    find: try run(["find", "notes"]).stdout, whereis: try Self.canonical(try run(["whereis", dir.at("imports/photo1.raw"), "--json"]).stdout),
                    gcWouldRemove: removed)
    }

    func write(_ path: String, _ text: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    /// Three stores, imports, three snapshots of a tracked folder of which one is forgotten, and a
    /// store downgraded for a corrupt copy; the records backed up. Returns how to name the third
    /// store to `catalog rebuild --from`.
    func makeLibrary(_ kind: SourceKind) throws -> [String] {
        #expect(try run(["init", "--copies", "3"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1", "--disk", "d1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb2"), "--label", "usb2", "--disk", "d2"]).status == 0)
        var from: [String]
        switch kind {
        case .folder:
            #expect(try run(["store", "add", dir.folder("usb3"), "--label", "usb3", "--disk", "d3"]).status == 0)
            from = [dir.at("usb3")]
        case .encrypted:
            let add = try run(["store", "add", dir.folder("usb3"), "--label", "usb3", "--disk", "d3", "--encrypt"])
            #expect(add.status == 0, "\(add.stderr)")
            from = [dir.at("usb3")]
        case .s3:
            let moto = try MotoServer.shared.get()
            let bucket = "rebuild-\(UUID().uuidString.prefix(8).lowercased())"
            try moto.createBucket(bucket)
            let endpoint = moto.endpoint.absoluteString
            let add = try run(["store", "add", "s3://\(bucket)/lib", "--endpoint", endpoint, "--path-style", "--label", "usb3"])
            #expect(add.status == 0, "\(add.stderr)")
            from = ["s3://\(bucket)/lib", "--endpoint", endpoint, "--path-style"]
        }
        for index in 1...3 { try write(dir.at("imports/photo\(index).raw"), String(repeating: "raw \(index) ", count: 5000 * index)) }
        #expect(try run(["add", dir.at("imports")]).status == 0)
        let tree = dir.folder("tree")
        try write(tree + "/notes/todo.txt", "buy milk")
        try write(tree + "/notes/ideas.md", "# ideas")
        try write(tree + "/deep/a/b/data.bin", String(repeating: "0123456789", count: 20_000))
        // Tracking takes the first snapshot.
        #expect(try run(["track", tree]).status == 0)
        try write(tree + "/notes/todo.txt", "buy milk and bread")
        try write(tree + "/gone-later.txt", "only in the second snapshot")
        #expect(try run(["snapshot", tree]).status == 0)
        try FileManager.default.removeItem(atPath: tree + "/gone-later.txt")
        try write(tree + "/notes/new.txt", "third")
        #expect(try run(["snapshot", tree]).status == 0)
        let snapshots = try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]] ?? []
        #expect(snapshots.count == 3)
        let middle = try #require(snapshots.dropFirst().first?["id"] as? String)
        #expect(try run(["forget", middle]).status == 0)
        let heal = try run(["heal"])
        #expect(heal.status == 0, "\(heal.stdout) \(heal.stderr)")
        // A rotten copy on usb2: verify finds it, and the store is downgraded.
        let objects = try FileManager.default.subpathsOfDirectory(atPath: dir.at("usb2/.trove/objects")).filter { $0.count > 3 }.sorted()
        let victim = dir.at("usb2/.trove/objects/") + (try #require(objects.first))
        let handle = try #require(FileHandle(forUpdatingAtPath: victim))
        try handle.seek(toOffset: 10)
        handle.write(Data([0xFF, 0x00, 0xFF]))
        try handle.close()
        #expect(try run(["verify", "--store", "usb2"]).status == 2)
        let backup = try run(["catalog", "backup"])
        #expect(backup.status == 0, "\(backup.stderr)")
        return from
    }

    /// Restores every snapshot into `into/<n>` and returns their folders.
    func restoreAll(into: String) throws -> [String] {
        _ = dir.folder(into)
        let snapshots = try run(["snapshots", "--json"]).json()["snapshots"] as? [[String: Any]] ?? []
        return try snapshots.enumerated().map { index, snapshot in
            let target = dir.at("\(into)/\(index)")
            let restore = try run(["restore", snapshot["id"] as? String ?? "?", "--to", target])
            #expect(restore.status == 0, "\(restore.stderr)")
            return target
        }
    }

    func drill(_ kind: SourceKind) throws {
        let from = try makeLibrary(kind)
        let before = try view()
        let restoredBefore = try restoreAll(into: "before")
        #expect(restoredBefore.count == 2)

        // (a) The catalog file is deleted, with the list of stores beside it.
        for name in try FileManager.default.contentsOfDirectory(atPath: lib) where name.hasPrefix("catalog.sqlite") || name == "stores.json" {
            try FileManager.default.removeItem(atPath: lib + "/" + name)
        }
        #expect(try run(["status"]).status == 66)
        let withoutFrom = try run(["catalog", "rebuild"])
        #expect(withoutFrom.status == 64 && withoutFrom.stderr.contains("--from"), "\(withoutFrom.stderr)")
        let rebuilt = try run(["catalog", "rebuild", "--from"] + from)
        #expect(rebuilt.status == 0, "\(rebuilt.stdout) \(rebuilt.stderr)")
        #expect(rebuilt.stdout.contains("on 'usb3'"), "\(rebuilt.stdout)")
        let after = try view()
        #expect(after == before)
        for (index, restored) in try restoreAll(into: "after-a").enumerated() {
            #expect(try shell("diff -r '\(restoredBefore[index])' '\(restored)'").status == 0, "snapshot \(index) differs after the rebuild")
        }
        #expect(try run(["check"]).status == 0)

        // (b) Garbage written into the middle of the catalog file, after a gc has collected the
        // forgotten snapshot's content and the records superseded by the rebuild's checkpoint.
        let catalog = lib + "/catalog.sqlite"
        #expect(try run(["gc"]).status == 0)
        #expect(try run(["catalog", "backup"]).status == 0)
        let beforeGarbage = try view()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: catalog)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: catalog))
        try handle.seek(toOffset: UInt64(min(4096, size / 4)))
        handle.write(Data((0..<max(size / 2, 8192)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }))
        try handle.close()
        for name in try FileManager.default.contentsOfDirectory(atPath: lib) where name.hasPrefix("catalog.sqlite-") {
            try FileManager.default.removeItem(atPath: lib + "/" + name)
        }
        let broken = try run(["status"])
        #expect(broken.status == 74 && broken.stderr.contains("`trove catalog rebuild`"), "\(broken.stderr)")
        let check = try run(["check", "--json"])
        #expect(check.status == 2 && check.stdout.contains("catalog rebuild"), "\(check.stdout) \(check.stderr)")
        let again = try run(["catalog", "rebuild", "--from"] + from)
        #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
        #expect(again.stdout.contains("kept as"), "\(again.stdout)")
        #expect(try view() == beforeGarbage)
        for (index, restored) in try restoreAll(into: "after-b").enumerated() {
            #expect(try shell("diff -r '\(restoredBefore[index])' '\(restored)'").status == 0, "snapshot \(index) differs after the second rebuild")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: lib).contains { $0.hasPrefix("catalog.sqlite.damaged-") })
    }

    @Test func drillFromAFolderStore() throws { try drill(.folder) }
    @Test func drillFromAnEncryptedStore() throws { try drill(.encrypted) }
    @Test func drillFromAnS3Store() throws { try drill(.s3) }

    /// Changes made after the last backup are not lost: an import is found again as a recovered
    /// import (gc keeps it) and a snapshot is indexed again.
    @Test func workAfterTheLastBackupIsRecovered() throws {
        let from = try makeLibrary(.folder)
        try write(dir.at("late/contract.pdf"), "signed after the backup")
        #expect(try run(["add", dir.at("late/contract.pdf")]).status == 0)
        let tree = dir.at("tree")
        try write(tree + "/notes/late.txt", "late note")
        #expect(try run(["snapshot", tree]).status == 0)
        let lateID = try #require((try run(["hash", dir.at("late/contract.pdf")]).stdout.split(separator: " ").first).map(String.init))
        try FileManager.default.removeItem(atPath: lib + "/catalog.sqlite")
        let rebuilt = try run(["catalog", "rebuild", "--from"] + from, )
        #expect(rebuilt.status == 0, "\(rebuilt.stdout) \(rebuilt.stderr)")
        #expect(rebuilt.stdout.contains("recovered imports") && rebuilt.stdout.contains("snapshot"), "\(rebuilt.stdout)")
        let gc = try run(["gc", "--dry-run", "--json"]).json()
        let doomed = (gc["unreferenced"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(!doomed.contains(lateID), "an import made after the last backup must never look like garbage")
        #expect(try run(["find", "late.txt"]).stdout.contains("late.txt"))
        let whereis = try run(["whereis", lateID])
        #expect(whereis.status == 0 && whereis.stdout.contains("recovered:"), "\(whereis.stdout)")
    }

    /// A store missing at the rebuild keeps its copies from the records, the rebuild says so
    /// (exit 75), and gc recovers instead of collecting what it finds there later.
    @Test func aMissingStoreIsNamedAndNothingOnItIsCollected() throws {
        let from = try makeLibrary(.folder)
        try write(dir.at("late/only-on-usb1.txt"), "imported to usb1 alone after the backup")
        #expect(try run(["add", dir.at("late/only-on-usb1.txt"), "--store", "usb1"]).status == 0)
        try FileManager.default.moveItem(atPath: dir.at("usb1"), toPath: dir.at("usb1-unplugged"))
        try FileManager.default.removeItem(atPath: lib + "/catalog.sqlite")
        let rebuilt = try run(["catalog", "rebuild", "--from"] + from)
        #expect(rebuilt.status == 75, "\(rebuilt.stdout) \(rebuilt.stderr)")
        #expect(rebuilt.stdout.contains("usb1: not listed"), "\(rebuilt.stdout)")
        let status = try run(["status", "--json"]).json()
        let alerts = (status["alerts"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
        #expect(alerts.contains("rebuild_incomplete"))
        try FileManager.default.moveItem(atPath: dir.at("usb1-unplugged"), toPath: dir.at("usb1"))
        let gc = try run(["gc", "--json"])
        #expect(gc.status == 0, "\(gc.stderr)")
        #expect(((try gc.json()["recovered"] as? [Any]) ?? []).count == 1)
        let id = try #require((try run(["hash", dir.at("late/only-on-usb1.txt")]).stdout.split(separator: " ").first).map(String.init))
        #expect(FileManager.default.fileExists(atPath: dir.at("usb1/.trove/objects/\(id.prefix(2))/\(id.dropFirst(2))")))
        #expect(try run(["get", id, "--to", dir.at("got.txt")]).status == 0)
    }

    /// With --verify every copy found is re-hashed: a rotten one is quarantined and not counted,
    /// where a size check alone would have counted it.
    @Test func verifyDuringRebuildCatchesARottenCopy() throws {
        let from = try makeLibrary(.folder)
        let id = try #require((try run(["hash", dir.at("imports/photo2.raw")]).stdout.split(separator: " ").first).map(String.init))
        let object = dir.at("usb1/.trove/objects/\(id.prefix(2))/\(id.dropFirst(2))")
        let handle = try #require(FileHandle(forUpdatingAtPath: object))
        try handle.seek(toOffset: 100)
        handle.write(Data("ROT".utf8))
        try handle.close()
        try FileManager.default.removeItem(atPath: lib + "/catalog.sqlite")
        let rebuilt = try run(["catalog", "rebuild", "--from"] + from + ["--verify", "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.stdout) \(rebuilt.stderr)")
        #expect(try rebuilt.json()["corrupt"] as? Int == 1)
        let copies = try run(["whereis", id, "--json"]).json()["files"] as? [[String: Any]] ?? []
        let labels = (copies.first?["copies"] as? [[String: Any]] ?? []).compactMap { $0["store_label"] as? String }
        #expect(!labels.contains("usb1"), "the rotten copy on usb1 must not count: \(labels)")
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: dir.at("usb1/.trove/corrupt"))).isEmpty, "quarantined, not deleted")
        #expect(try run(["events", "--json", "--kind", "corrupt_copy"]).jsonLines().count >= 2, "the one verify found earlier and this one")
    }

    /// A library that never wrote its records (lost within minutes of its first import, or made
    /// by a Trove before records existed): every object on the store still comes back, as a
    /// recovered import, and its snapshots are found again. Nothing is left for gc to take.
    @Test func aLibraryThatNeverBackedUpIsRebuiltFromWhatItsStoresHold() throws {
        #expect(try run(["init", "--copies", "1"]).status == 0)
        #expect(try run(["store", "add", dir.folder("usb1"), "--label", "usb1"]).status == 0)
        try write(dir.at("imports/a.raw"), "first photo")
        try write(dir.at("imports/b.raw"), "second photo")
        #expect(try run(["add", dir.at("imports")]).status == 0)
        try write(dir.at("tree/notes.txt"), "tracked")
        #expect(try run(["track", dir.at("tree")]).status == 0)
        let files = try run(["status", "--json"]).json()["files"] as? Int
        #expect(!FileManager.default.fileExists(atPath: dir.at("usb1/.trove/records/library-head")), "no backup was due yet")
        for name in try FileManager.default.contentsOfDirectory(atPath: lib) where name.hasPrefix("catalog.sqlite") || name == "stores.json" {
            try FileManager.default.removeItem(atPath: lib + "/" + name)
        }
        let rebuilt = try run(["catalog", "rebuild", "--from", dir.at("usb1"), "--json"])
        #expect(rebuilt.status == 0, "\(rebuilt.stdout) \(rebuilt.stderr)")
        let report = try rebuilt.json()
        #expect(report["without_records"] as? Bool == true)
        #expect(report["recovered"] as? Int == 3, "two photos and the tracked note; the manifest is a snapshot")
        #expect(report["snapshots"] as? Int == 1)
        #expect(try run(["status", "--json"]).json()["files"] as? Int == files)
        #expect(try run(["find", "notes.txt"]).stdout.contains("notes.txt"))
        let gc = try run(["gc", "--dry-run", "--json"]).json()
        #expect((gc["unreferenced"] as? [Any])?.isEmpty == true, "nothing the store held is garbage: \(gc)")
        #expect(FileManager.default.fileExists(atPath: dir.at("usb1/.trove/records/library-head")),
                "the rebuilt library wrote its records at the first command after the rebuild")
        // Without records again, in text: the user is told what could not come back.
        try FileManager.default.removeItem(atPath: dir.at("usb1/.trove/records"))
        try FileManager.default.removeItem(atPath: lib + "/catalog.sqlite")
        let text = try run(["catalog", "rebuild", "--from", dir.at("usb1")])
        #expect(text.stdout.contains("No library records were found"), "\(text.stdout)")
    }
}
