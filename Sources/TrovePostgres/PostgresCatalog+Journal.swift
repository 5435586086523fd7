import Foundation
import PostgresNIO
import TroveCore
import TroveStorage

/// The journal behind the library's records (see `SQLiteCatalog+Journal`: the same rows, kept
/// by the same triggers, resolved the same way).
extension PostgresCatalog: RecordsCatalog {
    public func settings() throws -> [String: String] {
        try read { s in
            Dictionary(try s.query("SELECT key, value FROM settings").map { (try $0.get(0, as: String.self), try $0.get(1, as: String.self)) },
                       uniquingKeysWith: { a, _ in a })
        }
    }

    public func recordCounts() throws -> (imports: Int, events: Int) {
        try read(consistent: true) { s in
            (try s.query("SELECT COUNT(*) FROM imports").first?.get(0) ?? 0, try s.query("SELECT COUNT(*) FROM events").first?.get(0) ?? 0)
        }
    }

    public func pendingChanges() throws -> (journal: Int64, events: Int64) {
        try read(consistent: true) { s in
            (try s.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM journal").first?.get(0) ?? 0,
             try s.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM events").first?.get(0) ?? 0)
        }
    }

    /// Rows per page when a table is read whole (a checkpoint of a million files).
    static let page = 5_000

    public func readJournal(afterJournal journalSeq: Int64, afterEvent eventSeq: Int64, checkpoint: Bool,
                            _ body: (JournalEntry) throws -> Void) throws -> (journal: Int64, events: Int64) {
        // One snapshot, on a connection of its own: what is written is one consistent state of
        // the catalog, and `body` may change the catalog meanwhile (a backup records the
        // copies of the objects it writes) without ending that snapshot.
        try onOwnConnection("be read for the library's records") { s in
            let lastJournal: Int64 = try s.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM journal").first?.get(0) ?? 0
            let lastEvent: Int64 = try s.query("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM events").first?.get(0) ?? 0
            if checkpoint {
                try Self.everything(s, body)
            } else {
                try Self.resolveJournal(s, after: journalSeq, through: lastJournal, body)
            }
            try Self.pages(s, "SELECT * FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3",
                           start: checkpoint ? 0 : eventSeq, extra: [lastEvent], key: { try $0.get("seq", as: Int64.self) }) { row in
                try body(.event(try Self.event(row)))
            }
            return (lastJournal, lastEvent)
        }
    }

    /// Reads a whole ordered table a page at a time: `sql` takes the last key seen as $1, any
    /// `extra` arguments next, and the page size last.
    static func pages<Key: PostgresThrowingDynamicTypeEncodable>(
        _ s: PGSession, _ sql: String, start: Key, extra: [PGArg] = [], key: (PostgresRandomAccessRow) throws -> Key,
        _ body: (PostgresRandomAccessRow) throws -> Void) throws {
        var last = start
        while true {
            let rows = try s.query(sql, [last] + extra + [page])
            for row in rows { try body(row) }
            guard rows.count == page, let final = rows.last else { return }
            last = try key(final)
        }
    }

    /// Every file, import, copy and snapshot (Trove's own) as entries.
    static func everything(_ s: PGSession, _ body: (JournalEntry) throws -> Void) throws {
        try pages(s, "SELECT * FROM files WHERE id > $1 ORDER BY id LIMIT $2", start: "", key: { try $0.get("id", as: String.self) }) { row in
            if let file = try Self.file(row) { try body(.file(file)) }
        }
        try pages(s, "SELECT * FROM imports WHERE id > $1 ORDER BY id LIMIT $2", start: Int64(0), key: { try $0.get("id", as: Int64.self) }) { row in
            if let record = try Self.importRecord(row) { try body(.imported(record)) }
        }
        // Copies a page at a time along their primary key.
        var last = ("", "")
        while true {
            let rows = try s.query("""
                SELECT file_id, store_id FROM copies WHERE (file_id, store_id) > ($1, $2) ORDER BY file_id, store_id LIMIT $3
                """, [last.0, last.1, page])
            for row in rows {
                if let id = ContentID(try row.get(0, as: String.self)) { try body(.copy(file: id, store: try row.get(1))) }
            }
            guard rows.count == page, let final = rows.last else { break }
            last = (try final.get(0), try final.get(1))
        }
        for row in try s.query("SELECT * FROM snapshots WHERE NOT external ORDER BY seq") { try body(.snapshot(try Self.snapshot(row))) }
    }

    /// The journal's rows in order, each resolved to what it refers to now (a row whose subject
    /// is gone is skipped: the row that removed it follows).
    static func resolveJournal(_ s: PGSession, after: Int64, through: Int64, _ body: (JournalEntry) throws -> Void) throws {
        try pages(s, """
            SELECT j.seq, j.kind, j.key, j.store,
              f.id, f.size, f.leaf_hashes, f.first_seen,
              i.file_id AS i_file, i.path AS i_path, i.name AS i_name, i.mtime AS i_mtime, i.time AS i_time,
              sn.id AS s_id
            FROM journal j
            LEFT JOIN files f ON j.kind = 'file' AND f.id = j.key
            LEFT JOIN imports i ON j.kind = 'import' AND i.id::TEXT = j.key
            LEFT JOIN snapshots sn ON j.kind = 'snapshot' AND sn.id = j.key
            WHERE j.seq > $1 AND j.seq <= $2 ORDER BY j.seq LIMIT $3
            """, start: after, extra: [through], key: { try $0.get("seq", as: Int64.self) }) { row in
            let key: String = try row.get("key")
            switch try row.get("kind", as: String.self) {
            case "file":
                if try row.get("id", as: String?.self) != nil, let found = try Self.file(row) { try body(.file(found)) }
            case "file-removed":
                if let id = ContentID(key) { try body(.fileRemoved(id)) }
            case "import":
                if let file = try row.get("i_file", as: String?.self), let id = ContentID(file) {
                    try body(.imported(ImportRecord(fileID: id, path: try row.get("i_path"), name: try row.get("i_name"),
                                                    mtime: Date(timeIntervalSince1970: try row.get("i_mtime")),
                                                    time: Date(timeIntervalSince1970: try row.get("i_time")))))
                }
            case "copy":
                if let id = ContentID(key), let store = try row.get("store", as: String?.self) { try body(.copy(file: id, store: store)) }
            case "copy-removed":
                if let id = ContentID(key), let store = try row.get("store", as: String?.self) { try body(.copyRemoved(file: id, store: store)) }
            case "snapshot":
                if try row.get("s_id", as: String?.self) != nil,
                   let found = try s.query("SELECT * FROM snapshots WHERE id = $1", [key]).first {
                    try body(.snapshot(try Self.snapshot(found)))
                }
            case "snapshot-forgotten":
                try body(.snapshotForgotten(key))
            default:
                return
            }
        }
    }
}
