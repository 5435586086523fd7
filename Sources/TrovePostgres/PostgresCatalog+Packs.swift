import Foundation
import PostgresNIO
import TroveCore
import TroveStorage

/// The pack index in the shared catalog (schema pg3): every machine of the library sees which
/// object of a store lives in which pack.
extension PostgresCatalog: PackIndex {
    public func packedObject(store: String, id: ContentID) throws -> PackedObject? {
        try read { s in
            try s.query("SELECT pack, start, length FROM packed WHERE store_id = $1 AND object = $2", [store, id.description])
                .first.flatMap { row in
                    guard let pack = ContentID(try row.get(0, as: String.self)) else { return nil }
                    return PackedObject(pack: pack, offset: UInt64(try row.get(1, as: Int64.self)), length: UInt64(try row.get(2, as: Int64.self)))
                }
        }
    }

    public func packedAmong(store: String, ids: [ContentID]) throws -> Set<ContentID> {
        guard !ids.isEmpty else { return [] }
        return try read { s in
            Set(try s.query("SELECT object FROM packed WHERE store_id = $1 AND object = ANY($2)", [store, ids.map(\.description)])
                .compactMap { ContentID(try $0.get(0, as: String.self)) })
        }
    }

    public func addPacks(store: String, _ packs: [PackContents]) throws {
        try write { s in try Self.insert(packs, store: store, in: s) }
    }

    public func removePackedObjects(store: String, ids: [ContentID]) throws {
        try write { s in
            for id in ids { try s.send("DELETE FROM packed WHERE store_id = $1 AND object = $2", [store, id.description]) }
            try s.flush()
        }
    }

    public func packs(store: String) throws -> [PackSummary] {
        try read { s in
            try s.query("""
                SELECT p.pack, p.size, COALESCE(SUM(o.length), 0)::BIGINT, COUNT(o.object)::BIGINT
                FROM packs p LEFT JOIN packed o ON o.store_id = p.store_id AND o.pack = p.pack
                WHERE p.store_id = $1 GROUP BY p.pack, p.size ORDER BY p.pack
                """, [store]).compactMap { row in
                guard let pack = ContentID(try row.get(0, as: String.self)) else { return nil }
                return PackSummary(pack: pack, size: UInt64(try row.get(1, as: Int64.self)), liveBytes: UInt64(try row.get(2, as: Int64.self)),
                                   liveObjects: Int(try row.get(3, as: Int64.self)))
            }
        }
    }

    public func packEntries(store: String, pack: ContentID) throws -> [PackFormat.Entry] {
        try read { s in
            try s.query("SELECT object, start, length FROM packed WHERE store_id = $1 AND pack = $2 ORDER BY start",
                        [store, pack.description]).compactMap(Self.entry)
        }
    }

    @discardableResult public func replacePack(store: String, old: ContentID, with new: [PackContents]) throws -> Bool {
        try write { s in
            var live = Set(try s.query("SELECT object FROM packed WHERE store_id = $1 AND pack = $2", [store, old.description])
                .map { try $0.get(0, as: String.self) })
            let kept = new.map { contents in
                PackContents(pack: contents.pack, size: contents.size,
                             entries: contents.entries.filter { live.remove($0.id.description) != nil })
            }
            try Self.insert(kept, store: store, in: s)
            guard live.isEmpty else { return false }
            try s.execute("DELETE FROM packs WHERE store_id = $1 AND pack = $2", [store, old.description])
            return true
        }
    }

    public func packedObjects(store: String, after: ContentID?, limit: Int) throws -> [ContentID] {
        try read { s in
            try s.query("SELECT object FROM packed WHERE store_id = $1 AND object > $2 ORDER BY object LIMIT $3",
                        [store, after?.description ?? "", Int64(limit)]).compactMap { ContentID(try $0.get(0, as: String.self)) }
        }
    }

    public func forgetPacks(store: String) throws {
        try write { s in
            try s.execute("DELETE FROM packed WHERE store_id = $1", [store])
            try s.execute("DELETE FROM packs WHERE store_id = $1", [store])
        }
    }

    static func insert(_ packs: [PackContents], store: String, in s: PGSession) throws {
        for contents in packs {
            try s.send("""
                INSERT INTO packs (store_id, pack, size) VALUES ($1, $2, $3)
                ON CONFLICT (store_id, pack) DO UPDATE SET size = excluded.size
                """, [store, contents.pack.description, Int64(contents.size)])
            for entry in contents.entries {
                try s.send(#"""
                    INSERT INTO packed (store_id, object, pack, start, length) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (store_id, object) DO UPDATE SET pack = excluded.pack, start = excluded.start, length = excluded.length
                    """#, [store, entry.id.description, contents.pack.description, Int64(entry.offset), Int64(entry.length)])
            }
        }
        try s.flush()
    }

    static func entry(_ row: PostgresRandomAccessRow) throws -> PackFormat.Entry? {
        guard let id = ContentID(try row.get(0, as: String.self)) else { return nil }
        return PackFormat.Entry(id: id, offset: UInt64(try row.get(1, as: Int64.self)), length: UInt64(try row.get(2, as: Int64.self)))
    }
}
