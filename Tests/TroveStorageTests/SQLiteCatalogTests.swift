import Foundation
import GRDB
import Testing
import TroveCore
import TroveStorage
import TroveTesting

struct SQLiteCatalogTests {
    let folder = TempFolder("catalog")
    var path: String { folder.at("catalog.sqlite") }
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func sampleFile(_ size: Int, seed: UInt64 = 1) -> FileRecord {
        let (id, leaves) = ContentHash.hash(testBytes(size, seed: seed))
        return FileRecord(id: id, size: UInt64(size), leafHashes: leaves, firstSeen: now)
    }

    func store(_ id: String) -> StoreRecord {
        StoreRecord(id: id, label: "label-\(id)", kind: .local, location: "/mnt/\(id)", created: now, lastSeen: now)
    }

    @Test func migrationsCreateTheSchemaAndAreIdempotent() throws {
        _ = try SQLiteCatalog(path: path)
        _ = try SQLiteCatalog(path: path)
        let db = try DatabaseQueue(path: path)
        let tables = try db.read { try String.fetchAll($0, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        for table in ["copies", "events", "files", "imports", "settings", "stores"] { #expect(tables.contains(table)) }
        let mode = try db.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
    }

    func entry(_ path: String, size: UInt64) -> SnapshotEntry {
        SnapshotEntry(path: path, type: .file, size: size, mode: 0o644, mtime: FileTime(seconds: 0, nanoseconds: 1_000), inode: size, fileID: sampleFile(Int(size)).id)
    }

    func snapshot(_ catalog: SQLiteCatalog, _ id: String, _ entries: [SnapshotEntry]) throws -> SnapshotRecord {
        let record = SnapshotRecord(id: id, root: "/data", time: now, tag: nil, partial: false, entries: entries.count, bytes: 0)
        return try catalog.addSnapshot(record, entries: entries, events: [])
    }

    @Test func unchangedVersionsContinueAndOldCatalogsMigrate() throws {
        var catalog = try SQLiteCatalog(path: path)
        let s1 = try snapshot(catalog, "s1", [entry("a", size: 1), entry("b", size: 2)])
        let s2 = try snapshot(catalog, "s2", [entry("a", size: 1), entry("b", size: 3), entry("c", size: 4)])
        let db = try DatabaseQueue(path: path)
        // a continues (one row), b changed (two rows), c is new.
        #expect(try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM versions") } == 4)
        // Rewrite the index the way schema v3 kept it (ranges closed at the latest snapshot)
        // and let the migration bring it back.
        try db.write { db in
            try db.execute(sql: "UPDATE versions SET last_seq = ? WHERE last_seq = ?", arguments: [s2.seq, Int64.max])
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-open-versions'")
        }
        catalog = try SQLiteCatalog(path: path)
        #expect(try catalog.entries(of: s1, under: nil).map(\.size) == [1, 2])
        #expect(try catalog.entries(of: s2, under: nil).map(\.size) == [1, 3, 4])
        let s3 = try snapshot(catalog, "s3", [entry("a", size: 1), entry("b", size: 3), entry("c", size: 4)])
        #expect(try catalog.entries(of: s3, under: nil).map(\.size) == [1, 3, 4])
        #expect(try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM versions") } == 4, "an unchanged snapshot adds no rows")
    }

    @Test func aSnapshotTakenAndForgottenMeanwhileIsNoticed() throws {
        let catalog = try SQLiteCatalog(path: path)
        _ = try snapshot(catalog, "s1", [entry("a", size: 1), entry("x", size: 2)])
        // A snapshot starts from s1 as the latest; meanwhile another one closes x, then is forgotten.
        let stale = try catalog.latestVersions(root: "/data")
        let s2 = try snapshot(catalog, "s2", [entry("a", size: 1)])
        try catalog.forget([s2], events: [])
        let record = SnapshotRecord(id: "s3", root: "/data", time: now, tag: nil, partial: false, entries: 2, bytes: 0)
        let s3 = try catalog.addSnapshot(record, entries: [entry("a", size: 1), entry("x", size: 2)], latest: stale, events: [])
        #expect(try catalog.entries(of: s3, under: nil).map(\.path) == ["a", "x"])
    }

    @Test func aCatalogFromANewerTroveIsRefused() throws {
        _ = try SQLiteCatalog(path: path)
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        #expect(throws: TroveError.self) { _ = try SQLiteCatalog(path: path) }
    }

    @Test func recordsRoundTrip() throws {
        let catalog = try SQLiteCatalog(path: path)
        let file = sampleFile(ContentHash.leafSize + 5)
        try catalog.apply([
            .saveStore(store("s1")), .insertFile(file),
            .saveCopy(CopyRecord(fileID: file.id, storeID: "s1", copies: 1, mtime: now, verified: now)),
            .addImport(ImportRecord(fileID: file.id, path: "/p/a.jpg", name: "a.jpg", mtime: now, time: now)),
        ])
        #expect(try catalog.file(file.id) == file)
        #expect(try catalog.copies(of: file.id).count == 1)
        #expect(try catalog.imports(underPath: "/p").map(\.name) == ["a.jpg"])
        #expect(try catalog.stores().map(\.id) == ["s1"])
        let summary = try catalog.summary()
        #expect(summary.files == 1)
        #expect(summary.durability[1]?.files == 1)
    }

    @Test func aFailedChangeLeavesNothingBehind() throws {
        let catalog = try SQLiteCatalog(path: path)
        let file = sampleFile(10)
        // The copy refers to a store that does not exist: the whole change must roll back.
        #expect(throws: TroveError.self) {
            try catalog.apply([.insertFile(file), .saveCopy(CopyRecord(fileID: file.id, storeID: "nope", copies: 1, mtime: now, verified: nil))])
        }
        #expect(try catalog.file(file.id) == nil)
    }

    @Test func eventLogIsAppendOnly() throws {
        let catalog = try SQLiteCatalog(path: path)
        try catalog.apply([.event(Event(time: now, kind: .storeAdded, details: ["label": "x", "count": 3]))])
        let events = try catalog.events(after: nil, kind: nil, limit: nil)
        #expect(events.count == 1)
        #expect(events[0].details["count"] == .number(3))
        let db = try DatabaseQueue(path: path)
        #expect(throws: (any Error).self) { try db.write { try $0.execute(sql: "DELETE FROM events") } }
        #expect(throws: (any Error).self) { try db.write { try $0.execute(sql: "UPDATE events SET kind = 'x'") } }
    }

    @Test func checkPassesOnAGoodCatalog() throws {
        let catalog = try SQLiteCatalog(path: path)
        try catalog.apply([.insertFile(sampleFile(100)), .insertFile(sampleFile(0, seed: 2))])
        let result = try catalog.check(progress: { _ in })
        #expect(result.failures.isEmpty)
        #expect(result.checked >= 2)
    }

    @Test func checkCatchesATamperedSize() throws {
        let catalog = try SQLiteCatalog(path: path)
        let file = sampleFile(1000)
        try catalog.apply([.insertFile(file)])
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE files SET size = 999") }
        let failures = try catalog.check(progress: { _ in }).failures
        #expect(failures.count == 1)
        #expect(failures.first?.key == file.id.description)
    }

    @Test func checkCatchesATamperedLeafHash() throws {
        let catalog = try SQLiteCatalog(path: path)
        try catalog.apply([.insertFile(sampleFile(2 * ContentHash.leafSize))])
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE files SET leaf_hashes = zeroblob(64)") }
        #expect(try catalog.check(progress: { _ in }).failures.count == 1)
    }

    @Test func triggersKeepDurabilityAndStoreTotals() throws {
        let catalog = try SQLiteCatalog(path: path)
        let file = sampleFile(1000)
        try catalog.apply([.saveStore(store("s1")), .saveStore(store("s2")), .insertFile(file),
                           .saveCopy(CopyRecord(fileID: file.id, storeID: "s1", copies: 1, mtime: now, verified: now)),
                           .saveCopy(CopyRecord(fileID: file.id, storeID: "s2", copies: 2, mtime: now, verified: now))])
        #expect(try catalog.summary().durability[3]?.files == 1)
        #expect(try catalog.summary().perStore["s2"]?.bytes == 1000)
        var downgraded = store("s2")
        downgraded.trust = .downgraded
        try catalog.apply([.saveStore(downgraded)])
        #expect(try catalog.summary().durability[1]?.files == 1)
        try catalog.apply([.removeCopy(file: file.id, store: "s1")])
        #expect(try catalog.summary().durability[0]?.files == 1)
        #expect(try catalog.summary().perStore["s1"] == nil)
        #expect(try catalog.check(progress: { _ in }).failures.isEmpty)
        // A tampered total is caught.
        try DatabaseQueue(path: path).write { try $0.execute(sql: "UPDATE files SET durability = 7") }
        #expect(try catalog.check(progress: { _ in }).failures.count == 1)
    }

    @Test func maintainedDurabilityAgreesWithTheRuleForRandomLayouts() throws {
        // Property: after any sequence of copy, weight, trust and disk changes, the durability
        // the triggers keep equals `durability(of:)` from TroveCore for every file.
        let catalog = try SQLiteCatalog(path: path)
        var random = SplitMix64(seed: 11)
        let files = (0..<12).map { sampleFile(100 + $0, seed: UInt64($0)) }
        var stores = (0..<6).map { store("s\($0)") }
        try catalog.apply(stores.map { .saveStore($0) } + files.map { .insertFile($0) })
        for step in 0..<300 {
            let file = files[Int(random.next() % UInt64(files.count))]
            let index = Int(random.next() % UInt64(stores.count))
            switch random.next() % 5 {
            case 0, 1:
                try catalog.apply([.saveCopy(CopyRecord(fileID: file.id, storeID: stores[index].id, copies: Int(random.next() % 3),
                                                        mtime: now, verified: now))])
            case 2:
                try catalog.apply([.removeCopy(file: file.id, store: stores[index].id)])
            case 3:
                stores[index].disk = ["disk:a", "disk:b", nil][Int(random.next() % 3)]
                stores[index].declaredDisk = random.next() % 4 == 0 ? "declared" : nil
                try catalog.apply([.saveStore(stores[index])])
            default:
                stores[index].trust = random.next() % 3 == 0 ? .downgraded : .trusted
                try catalog.apply([.saveStore(stores[index])])
            }
            for file in files {
                let copies = try catalog.copies(of: file.id).map { copy in
                    let record = stores.first { $0.id == copy.storeID }!
                    return CountedCopy(storeID: copy.storeID, weight: copy.copies, domain: record.domain, trusted: record.trust == .trusted)
                }
                let below = try catalog.filesBelow(target: 100, limit: 100).first { $0.file.id == file.id }?.durability
                #expect(below == durability(of: copies), "step \(step): catalog \(String(describing: below)), rule \(durability(of: copies))")
            }
        }
        #expect(try catalog.check(progress: { _ in }).failures.isEmpty)
    }

    @Test func checkCatchesSchemaViolations() throws {
        let catalog = try SQLiteCatalog(path: path)
        try catalog.apply([.saveStore(store("s1"))])
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "UPDATE stores SET trust = 'maybe', copies = -1") }
        try db.write { try $0.execute(sql: "INSERT INTO files (id, size, leaf_hashes, first_seen) VALUES ('NOT-AN-ID', 1, x'', 0)") }
        let problems = try catalog.check(progress: { _ in }).failures.map(\.problem)
        #expect(problems.contains("has an unknown trust state"))
        #expect(problems.contains("has a negative copies weight"))
        #expect(problems.contains("has a malformed ID"))
    }
}
