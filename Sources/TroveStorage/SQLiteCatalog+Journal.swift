import Foundation
import GRDB
import TroveCore

/// The journal: what changed since the library's records were last written to the stores.
/// Triggers add a row (a reference, not a copy) for every file, import, copy and snapshot
/// added or removed, in the transaction that changed it; a backup resolves the rows still
/// there into journal entries, writes them, and trims them. Events need no rows: the event
/// log is append-only, so a sequence number marks what was written.
extension SQLiteCatalog: RecordsCatalog {
    static let journalMigration = """
        CREATE TABLE journal (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          kind TEXT NOT NULL,
          key TEXT NOT NULL,
          store TEXT
        );
        CREATE TRIGGER journal_file_added AFTER INSERT ON files BEGIN
          INSERT INTO journal (kind, key) VALUES ('file', NEW.id); END;
        CREATE TRIGGER journal_file_removed AFTER DELETE ON files BEGIN
          INSERT INTO journal (kind, key) VALUES ('file-removed', OLD.id); END;
        CREATE TRIGGER journal_import_added AFTER INSERT ON imports BEGIN
          INSERT INTO journal (kind, key) VALUES ('import', NEW.rowid); END;
        CREATE TRIGGER journal_copy_added AFTER INSERT ON copies BEGIN
          INSERT INTO journal (kind, key, store) VALUES ('copy', NEW.file_id, NEW.store_id); END;
        CREATE TRIGGER journal_copy_removed AFTER DELETE ON copies BEGIN
          INSERT INTO journal (kind, key, store) VALUES ('copy-removed', OLD.file_id, OLD.store_id); END;
        CREATE TRIGGER journal_snapshot_added AFTER INSERT ON snapshots WHEN NEW.external = 0 BEGIN
          INSERT INTO journal (kind, key) VALUES ('snapshot', NEW.id); END;
        CREATE TRIGGER journal_snapshot_forgotten AFTER DELETE ON snapshots WHEN OLD.external = 0 BEGIN
          INSERT INTO journal (kind, key) VALUES ('snapshot-forgotten', OLD.id); END;
        """

    public func settings() throws -> [String: String] {
        try read { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT key, value FROM settings").map { ($0["key"] as String, $0["value"] as String) },
                       uniquingKeysWith: { a, _ in a })
        }
    }

    public func recordCounts() throws -> (imports: Int, events: Int) {
        try read { db in
            (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM imports") ?? 0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM events") ?? 0)
        }
    }

    public func pendingChanges() throws -> (journal: Int64, events: Int64) {
        try read { db in
            (try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0,
             try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events") ?? 0)
        }
    }

    public func readJournal(afterJournal journalSeq: Int64, afterEvent eventSeq: Int64, checkpoint: Bool,
                            _ body: (JournalEntry) throws -> Void) throws -> (journal: Int64, events: Int64) {
        // One read transaction: what is written is one consistent state of the catalog.
        try read { db in
            let lastJournal = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM journal") ?? 0
            let lastEvent = try Int64.fetchOne(db, sql: "SELECT COALESCE(MAX(seq), 0) FROM events") ?? 0
            if checkpoint {
                try Self.everything(db, body)
            } else {
                try Self.resolveJournal(db, after: journalSeq, through: lastJournal, body)
            }
            let events = try Row.fetchCursor(db, sql: "SELECT * FROM events WHERE seq > ? AND seq <= ? ORDER BY seq",
                                             arguments: [checkpoint ? 0 : eventSeq, lastEvent])
            while let row = try events.next() { try body(.event(Self.event(row))) }
            return (lastJournal, lastEvent)
        }
    }

    /// Every file, import, copy and snapshot (Trove's own) as entries.
    static func everything(_ db: Database, _ body: (JournalEntry) throws -> Void) throws {
        let files = try Row.fetchCursor(db, sql: "SELECT * FROM files ORDER BY id")
        while let row = try files.next() { if let file = Self.file(row) { try body(.file(file)) } }
        let imports = try Row.fetchCursor(db, sql: "SELECT * FROM imports ORDER BY rowid")
        while let row = try imports.next() { if let record = Self.importRecord(row) { try body(.imported(record)) } }
        // Along the primary key: any other order is a sort of every copy in memory.
        let copies = try Row.fetchCursor(db, sql: "SELECT file_id, store_id FROM copies ORDER BY file_id, store_id")
        while let row = try copies.next() {
            if let id = ContentID(row[0] as String) { try body(.copy(file: id, store: row[1])) }
        }
        let snapshots = try Row.fetchCursor(db, sql: "SELECT * FROM snapshots WHERE external = 0 ORDER BY seq")
        while let row = try snapshots.next() { try body(.snapshot(Self.snapshot(row))) }
    }

    /// The journal's rows in order, each resolved to what it refers to now (a row whose subject
    /// is gone is skipped: the row that removed it follows).
    static func resolveJournal(_ db: Database, after: Int64, through: Int64, _ body: (JournalEntry) throws -> Void) throws {
        let file = try db.cachedStatement(sql: "SELECT * FROM files WHERE id = ?")
        let imported = try db.cachedStatement(sql: "SELECT * FROM imports WHERE rowid = ?")
        let snapshot = try db.cachedStatement(sql: "SELECT * FROM snapshots WHERE id = ?")
        let rows = try Row.fetchCursor(db, sql: "SELECT kind, key, store FROM journal WHERE seq > ? AND seq <= ? ORDER BY seq",
                                       arguments: [after, through])
        while let row = try rows.next() {
            let key: String = row[1]
            switch row[0] as String {
            case "file":
                if let found = try Row.fetchOne(file, arguments: [key]).flatMap(Self.file) { try body(.file(found)) }
            case "file-removed":
                if let id = ContentID(key) { try body(.fileRemoved(id)) }
            case "import":
                if let found = try Row.fetchOne(imported, arguments: [Int64(key) ?? -1]).flatMap(Self.importRecord) {
                    try body(.imported(found))
                }
            case "copy":
                if let id = ContentID(key), let store = row[2] as String? { try body(.copy(file: id, store: store)) }
            case "copy-removed":
                if let id = ContentID(key), let store = row[2] as String? { try body(.copyRemoved(file: id, store: store)) }
            case "snapshot":
                if let found = try Row.fetchOne(snapshot, arguments: [key]) { try body(.snapshot(Self.snapshot(found))) }
            case "snapshot-forgotten":
                try body(.snapshotForgotten(key))
            default:
                continue
            }
        }
    }
}
