import Foundation
import GRDB
import Testing
import TroveCore
@testable import TroveStorage
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

    @Test func healsOrderComesOffTheIndexWithoutASort() throws {
        // Most fragile, then largest first: a sort of a million rows would sit in memory.
        _ = try SQLiteCatalog(path: path)
        let db = try DatabaseQueue(path: path)
        let columns = try db.read { try Row.fetchAll($0, sql: "PRAGMA index_xinfo(files_by_durability)") }
            .filter { ($0["key"] as Int) == 1 }.map { "\($0["name"] as String) \($0["desc"] as Int)" }
        #expect(columns == ["durability 0", "size 1"])
        let plan = try db.read {
            try Row.fetchAll($0, sql: "EXPLAIN QUERY PLAN SELECT * FROM files WHERE durability < 3 ORDER BY durability, size DESC")
        }.map { $0["detail"] as String }
        #expect(plan.contains { $0.contains("files_by_durability") } && !plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
    }

    @Test func packSummariesReadEachPacksObjectsOffTheirIndex() throws {
        // Not every object of the store once per pack: gc of a million objects in 123 packs
        // spent minutes there.
        _ = try SQLiteCatalog(path: path)
        let db = try DatabaseQueue(path: path)
        let plan = try db.read { try Row.fetchAll($0, sql: "EXPLAIN QUERY PLAN " + SQLiteCatalog.packSummaries, arguments: ["s"]) }
            .map { $0["detail"] as String }
        #expect(plan.contains { $0.contains("SEARCH o USING INDEX packed_by_pack") }, "\(plan)")
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

    @Test func anOldCatalogsPathIndexShrinksAndStillFinds() throws {
        var catalog = try SQLiteCatalog(path: path)
        let entries = (0..<3_000).map { entry("photos/2026-\($0 % 12)/IMG_\(10_000 + $0).jpg", size: UInt64($0 + 1)) }
        _ = try snapshot(catalog, "s1", entries)
        func found() throws -> [[String]] {
            try ["IMG_1234", "2026-7/IMG_100", "*/IMG_1?099.jpg", "*-11/IMG_12*"].map { try catalog.find($0, limit: 50).map(\.path) }
        }
        // The index as schema v13 and before kept it, with every trigram's positions.
        let db = try DatabaseQueue(path: path)
        func pages() throws -> Int { try db.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM dbstat WHERE name = 'path_index_data'") ?? 0 } }
        try db.write { db in
            try db.execute(sql: """
                DROP TABLE path_index;
                CREATE VIRTUAL TABLE path_index USING fts5(path, name, content='paths', content_rowid='id', tokenize='trigram');
                INSERT INTO path_index (path_index) VALUES ('rebuild');
                DELETE FROM grdb_migrations WHERE identifier = 'v14-path-index-detail-none';
                """)
        }
        let before = try found()
        #expect(before.map(\.count) == [10, 8, 3, 50])
        let oldPages = try pages()
        catalog = try SQLiteCatalog(path: path)
        #expect(try found() == before)
        let newPages = try pages()
        #expect(newPages * 10 < oldPages * 7, "the index without positions is at least 30% smaller (\(newPages) pages, was \(oldPages))")
    }

    @Test func aVersionClosedByAForgottenSnapshotOpensAgain() throws {
        let catalog = try SQLiteCatalog(path: path)
        _ = try snapshot(catalog, "s1", [entry("a", size: 1), entry("x", size: 2)])
        // Another snapshot closes x, then is forgotten: s1 is the latest again, with x closed.
        let s2 = try snapshot(catalog, "s2", [entry("a", size: 1)])
        try catalog.forget([s2], events: [])
        let record = SnapshotRecord(id: "s3", root: "/data", time: now, tag: nil, partial: false, entries: 2, bytes: 0)
        let s3 = try catalog.addSnapshot(record, entries: [entry("a", size: 1), entry("x", size: 2)], events: [])
        #expect(try catalog.entries(of: s3, under: nil).map(\.path) == ["a", "x"])
        #expect(try DatabaseQueue(path: path).read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM versions") } == 2, "x continues its version")
    }

    @Test func aCatalogFromANewerTroveIsRefused() throws {
        _ = try SQLiteCatalog(path: path)
        let db = try DatabaseQueue(path: path)
        try db.write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        #expect(throws: TroveError.self) { _ = try SQLiteCatalog(path: path) }
    }

    @Test func aDamagedFileIsNamedWithTheCommandThatFixesIt() throws {
        do {
            let catalog = try SQLiteCatalog(path: path)
            try catalog.apply((0..<400).map { .insertFile(sampleFile(100 + $0, seed: UInt64($0))) })
        }
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.seek(toOffset: 4096)
        handle.write(Data(repeating: 0xA5, count: size - 8192))
        try handle.close()
        let error = #expect(throws: TroveError.self) {
            let catalog = try SQLiteCatalog(path: path)
            _ = try catalog.check(progress: { _ in })
        }
        #expect(error?.code == .catalogDamaged)
        #expect(error?.message.contains("`trove catalog rebuild`") == true)
    }

    @Test func eventLogIsAppendOnly() throws {
        let catalog = try SQLiteCatalog(path: path)
        try catalog.apply([.event(Event(time: now, kind: .storeAdded, details: ["label": "x", "count": 3]))])
        let events = try catalog.events(after: nil, kind: nil, limit: nil)
        try #require(events.count == 1)
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
