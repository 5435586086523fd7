import Foundation
import PostgresNIO
import TroveCore
import TroveStorage

/// What status, alerts, heal, scrub and gc ask of the catalog (the same questions as the
/// SQLite catalog's, in PostgreSQL's SQL).
extension PostgresCatalog {
    /// A store's failure domain in SQL: the same rule as `StoreRecord.domain`.
    static let domainOf = "COALESCE('declared:' || s.declared_disk, s.disk, 'store:' || s.id)"

    public func filesDepending(onOffline offline: [String], online: [String]) throws -> [String: Int] {
        guard !offline.isEmpty else { return [:] }
        return try read { s in
            let rows = try s.query("""
                SELECT c.store_id, COUNT(*)::BIGINT FROM copies c
                WHERE c.store_id = ANY($1)
                  AND NOT EXISTS (SELECT 1 FROM copies o JOIN stores s ON s.id = o.store_id
                                  WHERE o.file_id = c.file_id AND o.store_id = ANY($2)
                                    AND o.copies > 0 AND s.trust = 'trusted')
                GROUP BY c.store_id
                """, [offline, online])
            return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.get(0, as: String.self), try $0.get(1, as: Int.self)) })
        }
    }

    public func unacknowledgedCorruptions() throws -> [String: Int] {
        try read { s in
            let rows = try s.query("""
                SELECT e.store_id, COUNT(*)::BIGINT FROM events e
                WHERE e.kind = 'corrupt_copy' AND e.store_id IS NOT NULL
                  AND e.seq > COALESCE((SELECT MAX(a.seq) FROM events a
                                        WHERE a.kind = 'drive_failure_acknowledged' AND a.store_id = e.store_id), 0)
                GROUP BY e.store_id
                """)
            return Dictionary(uniqueKeysWithValues: try rows.map { (try $0.get(0, as: String.self), try $0.get(1, as: Int.self)) })
        }
    }

    public func filesBelow(target: Int, _ body: (_ file: FileRecord, _ durability: Int) throws -> Void) throws {
        try read(consistent: true) { s in
            try s.forEachRow("SELECT * FROM files WHERE durability < \(target) ORDER BY durability, size DESC, id") { row in
                if let file = try Self.file(row) { try body(file, try row.get("durability", as: Int.self)) }
            }
        }
    }

    public func importedBytes(since date: Date) throws -> UInt64 {
        try read { s in
            let total: Int64 = try s.query("""
                SELECT COALESCE(SUM(f.size), 0)::BIGINT FROM imports i JOIN files f ON f.id = i.file_id WHERE i.time >= $1
                """, [date.timeIntervalSince1970]).first?.get(0) ?? 0
            return UInt64(max(0, total))
        }
    }

    public func leastRecentlyVerified(stores: [String], limit: Int) throws -> [CopyRecord] {
        guard !stores.isEmpty else { return [] }
        return try read { s in
            try s.query("SELECT * FROM copies WHERE store_id = ANY($1) ORDER BY verified IS NOT NULL, verified, file_id LIMIT $2",
                        [stores, limit]).compactMap(Self.copy)
        }
    }

    public func storeUsage() throws -> [(label: String, bytes: UInt64, unique: UInt64)] {
        try read { s in
            try s.query("""
                SELECT s.label, COALESCE(SUM(f.size), 0)::BIGINT,
                  COALESCE(SUM(CASE WHEN (SELECT COUNT(*) FROM copies o WHERE o.file_id = c.file_id) = 1 THEN f.size ELSE 0 END), 0)::BIGINT
                FROM stores s LEFT JOIN copies c ON c.store_id = s.id LEFT JOIN files f ON f.id = c.file_id
                WHERE s.trust <> 'purged' GROUP BY s.id, s.label ORDER BY s.label
                """).map { (try $0.get(0), UInt64(max(0, try $0.get(1, as: Int64.self))), UInt64(max(0, try $0.get(2, as: Int64.self)))) }
        }
    }

    public func unreferencedFiles(keeping: Set<ContentID>, _ body: (FileRecord) throws -> Void) throws {
        try read(consistent: true) { s in
            try s.forEachRow("""
                SELECT * FROM files f WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.file_id = f.id)
                  AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.file_id = f.id)
                  AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.id = f.id AND NOT s.external)
                """) { row in
                if let file = try Self.file(row), !keeping.contains(file.id) { try body(file) }
            }
        }
    }

    public func stuckGroups(target: Int) throws -> [StuckGroup] {
        try read { s in
            try s.query("""
                SELECT t.kind, t.store_label, COUNT(*)::BIGINT AS files, COALESCE(SUM(f.size), 0)::BIGINT AS bytes,
                       COALESCE(MAX(f.size), 0)::BIGINT AS largest, MAX(t.detail) AS detail,
                       SUM(CASE WHEN f.durability < 2 THEN 1 ELSE 0 END)::BIGINT AS fragile
                FROM stuck_files t JOIN files f ON f.id = t.file_id
                WHERE f.durability < $1
                GROUP BY t.kind, t.store_label ORDER BY files DESC
                """, [target]).compactMap { row in
                guard let kind = StuckKind(rawValue: try row.get("kind")) else { return nil }
                return StuckGroup(kind: kind, storeLabel: try row.get("store_label"), files: try row.get("files"),
                                  bytes: UInt64(max(0, try row.get("bytes", as: Int64.self))),
                                  largest: UInt64(max(0, try row.get("largest", as: Int64.self))),
                                  detail: try row.get("detail"), fragile: try row.get("fragile"))
            }
        }
    }

    public func bytesBelowTarget(notIn domain: String, target: Int) throws -> UInt64 {
        try read { s in
            let bytes: Int64 = try s.query("""
                SELECT COALESCE(SUM(f.size), 0)::BIGINT FROM files f WHERE f.durability < $1
                  AND NOT EXISTS (SELECT 1 FROM copies c JOIN stores s ON s.id = c.store_id
                                  WHERE c.file_id = f.id AND c.copies > 0 AND \(Self.domainOf) = $2)
                """, [target, domain]).first?.get(0) ?? 0
            return UInt64(max(0, bytes))
        }
    }

    public func lostFiles(limit: Int) throws -> [LostFile] {
        try read(consistent: true) { s in
            try s.query("""
                SELECT f.id, f.size FROM files f
                WHERE f.durability = 0 AND NOT EXISTS (SELECT 1 FROM copies c WHERE c.file_id = f.id) LIMIT $1
                """, [limit]).compactMap { row -> LostFile? in
                guard let id = ContentID(try row.get(0, as: String.self)) else { return nil }
                let manifest = try s.query("SELECT * FROM snapshots WHERE id = $1", [id.description]).first.map(Self.snapshot)
                let listed = try s.query("""
                    SELECT s.*, p.path AS lost_path FROM versions v JOIN paths p ON p.id = v.path_id
                    JOIN snapshots s ON s.root = v.root AND s.seq BETWEEN v.first_seq AND v.last_seq
                    WHERE v.file_id = $1 ORDER BY s.seq LIMIT 20
                    """, [id.description]).map { (try Self.snapshot($0), try $0.get("lost_path", as: String.self)) }
                return LostFile(fileID: id, size: UInt64(max(0, try row.get(1, as: Int64.self))), manifestOf: manifest, inSnapshots: listed)
            }
        }
    }

    public func check(progress: (Int) -> Void) throws -> (checked: Int, failures: [ConsistencyFailure]) {
        try read(consistent: true) { s in
            var failures: [ConsistencyFailure] = []
            var checked = 0
            func fail(_ table: String, _ key: String, _ problem: String) {
                failures.append(ConsistencyFailure(table: table, key: key, problem: problem))
            }
            for row in try s.query("SELECT * FROM stores") {
                checked += 1
                let id: String = try row.get("id")
                if (try row.get("label", as: String.self)).isEmpty { fail("stores", id, "has an empty label") }
                if StoreKind(rawValue: try row.get("kind")) == nil { fail("stores", id, "has an unknown kind") }
                if TrustState(rawValue: try row.get("trust")) == nil { fail("stores", id, "has an unknown trust state") }
                if (try row.get("copies", as: Int.self)) < 0 { fail("stores", id, "has a negative copies weight") }
            }
            try Self.pages(s, "SELECT id, size, leaf_hashes FROM files WHERE id > $1 ORDER BY id LIMIT $2", start: "",
                           key: { try $0.get(0, as: String.self) }) { row in
                checked += 1
                if checked % 10_000 == 0 { progress(checked) }
                let text: String = try row.get(0)
                guard let id = ContentID(text) else { return fail("files", text, "has a malformed ID") }
                let size: Int64 = try row.get(1)
                guard size >= 0 else { return fail("files", text, "has a negative size \(size)") }
                guard let leaves = LeafHash.unpack([UInt8](try row.get(2, as: Data.self))) else {
                    return fail("files", text, "has a leaf-hash blob that is not a multiple of 32 bytes")
                }
                if let problem = FileRecord(id: id, size: UInt64(size), leafHashes: leaves, firstSeen: Date()).inconsistency {
                    fail("files", text, problem)
                }
            }
            for row in try s.query("SELECT file_id, store_id FROM copies WHERE copies < 0") {
                fail("copies", "\(try row.get(0, as: String.self))@\(try row.get(1, as: String.self))", "has a negative copies weight")
            }
            checked += try s.query("SELECT COUNT(*)::BIGINT FROM copies").first?.get(0, as: Int.self) ?? 0
            try Self.pages(s, "SELECT seq, kind, details FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", start: Int64(0),
                           key: { try $0.get(0, as: Int64.self) }) { row in
                checked += 1
                let key = String(try row.get(0, as: Int64.self))
                if EventKind(rawValue: try row.get(1)) == nil { fail("events", key, "has an unknown kind") }
                if (try? JSONCoding.decoder.decode([String: DetailValue].self, from: Data((try row.get(2, as: String.self)).utf8))) == nil {
                    fail("events", key, "has details that are not a JSON object")
                }
            }
            // Totals kept by triggers must match a recount.
            for row in try s.query("""
                SELECT id, durability, trove_durability(id) FROM files WHERE durability <> trove_durability(id)
                """) {
                fail("files", try row.get(0), "records durability \(try row.get(1, as: Int.self)) but its copies give \(try row.get(2, as: Int.self))")
            }
            for row in try s.query("""
                SELECT s.id, s.held_files, s.held_bytes,
                  (SELECT COUNT(*) FROM copies c WHERE c.store_id = s.id)::BIGINT,
                  (SELECT COALESCE(SUM(f.size), 0) FROM copies c JOIN files f ON f.id = c.file_id WHERE c.store_id = s.id)::BIGINT
                FROM stores s
                """) {
                let (heldFiles, heldBytes, files, bytes) = (try row.get(1, as: Int64.self), try row.get(2, as: Int64.self),
                                                            try row.get(3, as: Int64.self), try row.get(4, as: Int64.self))
                if files != heldFiles || bytes != heldBytes {
                    fail("stores", try row.get(0), "records \(heldFiles) copies (\(heldBytes) bytes) held but has \(files) (\(bytes) bytes)")
                }
            }
            return (checked, failures)
        }
    }
}
