import Foundation
import GRDB
import TroveCore

extension SQLiteCatalog {
    public func check(progress: (Int) -> Void) throws -> (checked: Int, failures: [ConsistencyFailure]) {
        try read { db in
            var failures: [ConsistencyFailure] = []
            var checked = 0
            func fail(_ table: String, _ key: String, _ problem: String) {
                failures.append(ConsistencyFailure(table: table, key: key, problem: problem))
            }
            for line in try String.fetchAll(db, sql: "PRAGMA integrity_check") where line != "ok" {
                fail("database", "integrity_check", line)
            }
            for row in try Row.fetchAll(db, sql: "PRAGMA foreign_key_check") {
                fail(row[0] ?? "?", "rowid \(row[1] as Int64? ?? -1)", "refers to a missing \(row[2] as String? ?? "row")")
            }
            let stores = try Row.fetchCursor(db, sql: "SELECT * FROM stores")
            while let row = try stores.next() {
                checked += 1
                let id: String = row["id"] ?? ""
                if (row["label"] as String? ?? "").isEmpty { fail("stores", id, "has an empty label") }
                if StoreKind(rawValue: row["kind"] ?? "") == nil { fail("stores", id, "has an unknown kind") }
                if TrustState(rawValue: row["trust"] ?? "") == nil { fail("stores", id, "has an unknown trust state") }
                if (row["copies"] as Int? ?? -1) < 0 { fail("stores", id, "has a negative copies weight") }
            }
            let files = try Row.fetchCursor(db, sql: "SELECT id, size, leaf_hashes, first_seen FROM files")
            while let row = try files.next() {
                checked += 1
                if checked % 10_000 == 0 { progress(checked) }
                let text: String = row["id"] ?? ""
                guard let id = ContentID(text) else { fail("files", text, "has a malformed ID"); continue }
                let size: Int64 = row["size"] ?? -1
                guard size >= 0 else { fail("files", text, "has a negative size \(size)"); continue }
                guard let blob = row["leaf_hashes"] as Data?, let leaves = LeafHash.unpack([UInt8](blob)) else {
                    fail("files", text, "has a leaf-hash blob that is not a multiple of 32 bytes"); continue
                }
                let record = FileRecord(id: id, size: UInt64(size), leafHashes: leaves, firstSeen: Date())
                if let problem = record.inconsistency { fail("files", text, problem) }
            }
            let copies = try Row.fetchCursor(db, sql: "SELECT file_id, store_id, copies FROM copies")
            while let row = try copies.next() {
                checked += 1
                let key = "\(row["file_id"] as String? ?? "?")@\(row["store_id"] as String? ?? "?")"
                if ContentID(row["file_id"] as String? ?? "") == nil { fail("copies", key, "has a malformed file ID") }
                if (row["copies"] as Int? ?? -1) < 0 { fail("copies", key, "has a negative copies weight") }
            }
            let events = try Row.fetchCursor(db, sql: "SELECT seq, kind, details FROM events")
            while let row = try events.next() {
                checked += 1
                let key = String(row["seq"] as Int64? ?? -1)
                if EventKind(rawValue: row["kind"] ?? "") == nil { fail("events", key, "has an unknown kind") }
                let details: String = row["details"] ?? ""
                if (try? JSONCoding.decoder.decode([String: DetailValue].self, from: Data(details.utf8))) == nil {
                    fail("events", key, "has details that are not a JSON object")
                }
            }
            // Totals kept by triggers must match a recount.
            let drifted = try Row.fetchAll(db, sql: """
                SELECT id, durability, \(Self.durabilityOf("files.id")) AS actual FROM files
                WHERE durability != \(Self.durabilityOf("files.id"))
                """)
            for row in drifted {
                fail("files", row["id"] ?? "?", "records durability \(row["durability"] as Int? ?? -1) but its copies give \(row["actual"] as Int? ?? -1)")
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT s.id, s.held_files, s.held_bytes,
                  (SELECT COUNT(*) FROM copies c WHERE c.store_id = s.id) AS files,
                  (SELECT COALESCE(SUM(f.size), 0) FROM copies c JOIN files f ON f.id = c.file_id WHERE c.store_id = s.id) AS bytes
                FROM stores s
                """) {
                let id: String = row["id"] ?? "?"
                let (files, heldFiles): (Int, Int) = (row["files"] ?? -1, row["held_files"] ?? -2)
                let (bytes, heldBytes): (Int64, Int64) = (row["bytes"] ?? -1, row["held_bytes"] ?? -2)
                if files != heldFiles || bytes != heldBytes {
                    fail("stores", id, "records \(heldFiles) copies (\(heldBytes) bytes) held but has \(files) (\(bytes) bytes)")
                }
            }
            return (checked, failures)
        }
    }
}
