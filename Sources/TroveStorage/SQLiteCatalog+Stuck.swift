import Foundation
import GRDB
import TroveCore

/// What `status` needs to say why files stay below target, and which are lost for good.
extension SQLiteCatalog {
    public func stuckGroups(target: Int) throws -> [StuckGroup] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT t.kind, t.store_label, COUNT(*) AS files, COALESCE(SUM(f.size), 0) AS bytes,
                       COALESCE(MAX(f.size), 0) AS largest, MAX(t.detail) AS detail,
                       SUM(CASE WHEN f.durability < 2 THEN 1 ELSE 0 END) AS fragile
                FROM stuck_files t JOIN files f ON f.id = t.file_id
                WHERE f.durability < ?
                GROUP BY t.kind, t.store_label ORDER BY files DESC
                """, arguments: [target]).compactMap { row in
                guard let kind = StuckKind(rawValue: row["kind"]) else { return nil }
                return StuckGroup(kind: kind, storeLabel: row["store_label"], files: row["files"],
                                  bytes: UInt64(max(0, row["bytes"] as Int64)), largest: UInt64(max(0, row["largest"] as Int64)),
                                  detail: row["detail"], fragile: row["fragile"])
            }
        }
    }

    public func bytesBelowTarget(notIn domain: String, target: Int) throws -> UInt64 {
        try read { db in
            let bytes = try Int64.fetchOne(db, sql: """
                SELECT COALESCE(SUM(f.size), 0) FROM files f WHERE f.durability < ?
                  AND NOT EXISTS (SELECT 1 FROM copies c JOIN stores s ON s.id = c.store_id
                                  WHERE c.file_id = f.id AND c.copies > 0 AND \(Self.domainOf) = ?)
                """, arguments: [target, domain]) ?? 0
            return UInt64(max(0, bytes))
        }
    }

    public func lostFiles(limit: Int) throws -> [LostFile] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT f.id, f.size FROM files f
                WHERE f.durability = 0 AND NOT EXISTS (SELECT 1 FROM copies c WHERE c.file_id = f.id)
                LIMIT ?
                """, arguments: [limit])
            return try rows.compactMap { row -> LostFile? in
                guard let id = ContentID(row["id"] as String) else { return nil }
                let manifest = try Row.fetchOne(db, sql: "SELECT * FROM snapshots WHERE id = ?", arguments: [id.description]).map(Self.snapshot)
                let listed = try Row.fetchAll(db, sql: """
                    SELECT s.*, p.path AS lost_path FROM versions v JOIN paths p ON p.id = v.path_id
                    JOIN snapshots s ON s.root = v.root AND s.seq BETWEEN v.first_seq AND v.last_seq
                    WHERE v.file_id = ? ORDER BY s.seq LIMIT 20
                    """, arguments: [id.description]).map { (Self.snapshot($0), $0["lost_path"] as String) }
                return LostFile(fileID: id, size: UInt64(max(0, row["size"] as Int64)), manifestOf: manifest, inSnapshots: listed)
            }
        }
    }
}
