import Foundation
import GRDB
import TroveCore

extension SQLiteCatalog {
    public func filesDepending(onOffline offline: [String], online: [String]) throws -> [String: Int] {
        guard !offline.isEmpty else { return [:] }
        return try read { db in
            let offlineMarks = databaseQuestionMarks(count: offline.count)
            let onlineMarks = online.isEmpty ? "NULL" : databaseQuestionMarks(count: online.count)
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.store_id AS store, COUNT(*) AS files FROM copies c
                WHERE c.store_id IN (\(offlineMarks))
                  AND NOT EXISTS (SELECT 1 FROM copies o JOIN stores s ON s.id = o.store_id
                                  WHERE o.file_id = c.file_id AND o.store_id IN (\(onlineMarks))
                                    AND o.copies > 0 AND s.trust = 'trusted')
                GROUP BY c.store_id
                """, arguments: StatementArguments(offline + online))
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["store"], $0["files"]) })
        }
    }

    public func unacknowledgedCorruptions() throws -> [String: Int] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT e.store_id AS store, COUNT(*) AS n FROM events e
                WHERE e.kind = 'corrupt_copy' AND e.store_id IS NOT NULL
                  AND e.seq > COALESCE((SELECT MAX(a.seq) FROM events a
                                        WHERE a.kind = 'drive_failure_acknowledged' AND a.store_id = e.store_id), 0)
                GROUP BY e.store_id
                """)
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["store"], $0["n"]) })
        }
    }
}

extension SQLiteCatalog {
    public func filesBelow(target: Int, _ body: (_ file: FileRecord, _ durability: Int) throws -> Void) throws {
        // The index's order is the query's (durability, then size descending): rows stream
        // without a sort holding them all.
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT * FROM files INDEXED BY files_by_durability WHERE durability < ? ORDER BY durability, size DESC
                """, arguments: [target])
            while let row = try rows.next() {
                if let file = Self.file(row) { try body(file, row["durability"]) }
            }
        }
    }
}

extension SQLiteCatalog {
    public func importedBytes(since date: Date) throws -> UInt64 {
        try read { db in
            let total = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(f.size), 0) FROM imports i JOIN files f ON f.id = i.file_id WHERE i.time >= ?
                """, arguments: [date.timeIntervalSince1970]) ?? 0
            return UInt64(max(0, total))
        }
    }

    public func leastRecentlyVerified(stores: [String], limit: Int) throws -> [CopyRecord] {
        guard !stores.isEmpty else { return [] }
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM copies WHERE store_id IN (\(databaseQuestionMarks(count: stores.count)))
                ORDER BY verified IS NOT NULL, verified, file_id LIMIT ?
                """, arguments: StatementArguments(stores) + [limit]).compactMap(Self.copy)
        }
    }
}

extension SQLiteCatalog {
    public func storeUsage() throws -> [(label: String, bytes: UInt64, unique: UInt64)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT s.label AS label, COALESCE(SUM(f.size), 0) AS bytes,
                  COALESCE(SUM(CASE WHEN (SELECT COUNT(*) FROM copies o WHERE o.file_id = c.file_id) = 1 THEN f.size ELSE 0 END), 0) AS uniq
                FROM stores s LEFT JOIN copies c ON c.store_id = s.id LEFT JOIN files f ON f.id = c.file_id
                WHERE s.trust != 'purged' GROUP BY s.id ORDER BY s.label
                """).map { ($0["label"], UInt64($0["bytes"] as Int64), UInt64($0["uniq"] as Int64)) }
        }
    }

    public func unreferencedFiles(keeping: Set<ContentID>, _ body: (FileRecord) throws -> Void) throws {
        try read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT * FROM files f WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.file_id = f.id)
                  AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.file_id = f.id)
                  AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.id = f.id AND s.external = 0)
                """)
            while let row = try rows.next() {
                if let file = Self.file(row), !keeping.contains(file.id) { try body(file) }
            }
        }
    }
}
