import Foundation
import GRDB
import TroveCore

/// The pack index in the embedded catalog (tables `packs` and `packed`, schema v12).
extension SQLiteCatalog: PackIndex {
    public func packedObject(store: String, id: ContentID) throws -> PackedObject? {
        try lookup { db in
            let statement = try db.cachedStatement(sql: "SELECT pack, start, length FROM packed WHERE store_id = ? AND object = ?")
            return try Row.fetchOne(statement, arguments: [store, Data(id.bytes)]).flatMap(Self.packedObject)
        }
    }

    public func packedAmong(store: String, ids: [ContentID]) throws -> Set<ContentID> {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM packed WHERE store_id = ? AND object = ?")
            return Set(try ids.filter { try Int.fetchOne(statement, arguments: [store, Data($0.bytes)]) != nil })
        }
    }

    public func addPacks(store: String, _ packs: [PackContents]) throws {
        try write { db in try Self.insert(packs, store: store, in: db) }
    }

    public func removePackedObjects(store: String, ids: [ContentID]) throws {
        try write { db in
            let statement = try db.cachedStatement(sql: "DELETE FROM packed WHERE store_id = ? AND object = ?")
            for id in ids { try statement.execute(arguments: [store, Data(id.bytes)]) }
        }
    }

    public func packs(store: String) throws -> [PackSummary] {
        try read { db in
            try Row.fetchAll(db, sql: Self.packSummaries, arguments: [store]).compactMap { row in
                guard let pack = ContentID(bytes: [UInt8](row["pack"] as Data)) else { return nil }
                return PackSummary(pack: pack, size: UInt64(row["size"] as Int64), liveBytes: UInt64(row["live"] as Int64),
                                   liveObjects: row["objects"])
            }
        }
    }

    /// Each pack of a store with its live bytes and objects. Each pack's objects come off
    /// `packed_by_pack`: left to itself SQLite walked every object of the store once per pack
    /// (20 s for 123 packs of a million objects, called several times by gc).
    static let packSummaries = """
        SELECT p.pack, p.size, COALESCE(SUM(o.length), 0) AS live, COUNT(o.object) AS objects
        FROM packs p LEFT JOIN packed o INDEXED BY packed_by_pack ON o.store_id = p.store_id AND o.pack = p.pack
        WHERE p.store_id = ? GROUP BY p.pack ORDER BY p.pack
        """

    public func packEntries(store: String, pack: ContentID) throws -> [PackFormat.Entry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT object, start, length FROM packed WHERE store_id = ? AND pack = ? ORDER BY start",
                             arguments: [store, Data(pack.bytes)]).compactMap(Self.packEntry)
        }
    }

    @discardableResult public func replacePack(store: String, old: ContentID, with new: [PackContents]) throws -> Bool {
        try write { db in
            // Objects of the old pack that are no longer live there (removed meanwhile) stay out.
            var live = Set(try Data.fetchAll(db, sql: "SELECT object FROM packed WHERE store_id = ? AND pack = ?",
                                             arguments: [store, Data(old.bytes)]))
            let kept = new.map { contents in
                PackContents(pack: contents.pack, size: contents.size,
                             entries: contents.entries.filter { live.remove(Data($0.id.bytes)) != nil })
            }
            try Self.insert(kept, store: store, in: db)
            guard live.isEmpty else { return false }
            try db.execute(sql: "DELETE FROM packs WHERE store_id = ? AND pack = ?", arguments: [store, Data(old.bytes)])
            return true
        }
    }

    public func packedObjects(store: String, after: ContentID?, limit: Int) throws -> [ContentID] {
        try read { db in
            try Data.fetchAll(db, sql: "SELECT object FROM packed WHERE store_id = ? AND object > ? ORDER BY object LIMIT ?",
                              arguments: [store, Data(after?.bytes ?? []), limit]).compactMap { ContentID(bytes: [UInt8]($0)) }
        }
    }

    public func forgetPacks(store: String) throws {
        try write { db in
            try db.execute(sql: "DELETE FROM packed WHERE store_id = ?", arguments: [store])
            try db.execute(sql: "DELETE FROM packs WHERE store_id = ?", arguments: [store])
        }
    }

    static func insert(_ packs: [PackContents], store: String, in db: Database) throws {
        let pack = try db.cachedStatement(sql: "INSERT OR REPLACE INTO packs (store_id, pack, size) VALUES (?, ?, ?)")
        let entry = try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO packed (store_id, object, pack, start, length) VALUES (?, ?, ?, ?, ?)
            """)
        for contents in packs {
            let packID = Data(contents.pack.bytes)
            try pack.execute(arguments: [store, packID, Int64(contents.size)])
            for item in contents.entries {
                try entry.execute(arguments: [store, Data(item.id.bytes), packID, Int64(item.offset), Int64(item.length)])
            }
        }
    }

    static func packedObject(_ row: Row) -> PackedObject? {
        guard let pack = ContentID(bytes: [UInt8](row["pack"] as Data)) else { return nil }
        return PackedObject(pack: pack, offset: UInt64(row["start"] as Int64), length: UInt64(row["length"] as Int64))
    }

    static func packEntry(_ row: Row) -> PackFormat.Entry? {
        guard let id = ContentID(bytes: [UInt8](row["object"] as Data)) else { return nil }
        return PackFormat.Entry(id: id, offset: UInt64(row["start"] as Int64), length: UInt64(row["length"] as Int64))
    }
}
