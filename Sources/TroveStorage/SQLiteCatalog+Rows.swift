import Foundation
import GRDB
import TroveCore

/// Catalog changes as rows (cached statements), and rows back as records.
extension SQLiteCatalog {
    /// Applies a run (`CatalogChange.runs`): files and copies added many rows per statement.
    static func apply(_ run: ArraySlice<CatalogChange>, in db: Database) throws {
        switch run.first {
        case .insertFile?:
            try insert(run.compactMap { if case .insertFile(let f) = $0 { f } else { nil } }, Self.fileInsert, in: db) { (f: FileRecord) -> RowValues in
                [f.id.description, Int64(f.size), Data(LeafHash.pack(f.leafHashes)), f.firstSeen.timeIntervalSince1970]
            }
        case .saveCopy?:
            try insert(run.compactMap { if case .saveCopy(let c) = $0 { c } else { nil } }, Self.copyUpsert, in: db) { (c: CopyRecord) -> RowValues in
                [c.fileID.description, c.storeID, c.copies, c.mtime.timeIntervalSince1970, c.verified?.timeIntervalSince1970]
            }
        default:
            for change in run { try apply(change, in: db) }
        }
    }

    /// Rows per statement when a run adds many: a statement's set-up and end (with a statement
    /// journal, since triggers fire) cost as much as several rows, and 100,000 small files
    /// imported made 200,000 statements (Benchmarks/RESULTS.md, issue 14).
    static let rowsPerStatement = 64

    /// An insert as the text before its rows, one row's placeholders and the text after them.
    struct MultiRowInsert {
        let head: String
        let row: String
        let tail: String
        func sql(rows: Int) -> String { head + Array(repeating: row, count: rows).joined(separator: ", ") + tail }
    }

    static let fileInsert = MultiRowInsert(head: "INSERT OR IGNORE INTO files (id, size, leaf_hashes, first_seen) VALUES ",
                                           row: "(?, ?, ?, ?)", tail: "")
    /// A later row for the same copy wins, as applying them one by one would.
    static let copyUpsert = MultiRowInsert(head: "INSERT INTO copies (file_id, store_id, copies, mtime, verified) VALUES ",
                                           row: "(?, ?, ?, ?, ?)", tail: """
         ON CONFLICT(file_id, store_id) DO UPDATE SET copies = excluded.copies, mtime = excluded.mtime,
          verified = excluded.verified
        """)

    typealias RowValues = [(any DatabaseValueConvertible)?]

    static func insert<Item>(_ rows: [Item], _ insert: MultiRowInsert, in db: Database, values: (Item) -> RowValues) throws {
        for start in stride(from: 0, to: rows.count, by: rowsPerStatement) {
            let chunk = rows[start..<min(start + rowsPerStatement, rows.count)]
            try db.cachedStatement(sql: insert.sql(rows: chunk.count)).execute(arguments: StatementArguments(chunk.flatMap(values)))
        }
    }

    /// Applies one change with cached (prepared once) statements: imports apply thousands.
    static func apply(_ change: CatalogChange, in db: Database) throws {
        switch change {
        case .saveStore(let s):
            try db.cachedStatement(sql: Self.storeUpsert).execute(arguments: [s.id, s.label, s.kind.rawValue, s.location, s.copies, s.filesystemUUID,
                                 s.created.timeIntervalSince1970, s.trust.rawValue, s.noNewCopies,
                                 s.lastSeen?.timeIntervalSince1970, s.capacity, s.free, s.disk, s.diskName,
                                 s.declaredDisk, s.readOnly,
                                 String(decoding: try JSONCoding.encoder.encode(s.config), as: UTF8.self), s.encrypted,
                                 s.machine, s.removable, s.shareDomainsColumn])
        case .insertFile, .saveCopy:
            try apply([change][...], in: db)
        case .addImport(let i):
            try db.cachedStatement(sql: "INSERT INTO imports (file_id, path, name, mtime, time) VALUES (?, ?, ?, ?, ?)").execute(arguments: [i.fileID.description, i.path, i.name, i.mtime.timeIntervalSince1970,
                                       i.time.timeIntervalSince1970])
        case .removeCopy(let file, let store):
            try db.cachedStatement(sql: "DELETE FROM copies WHERE file_id = ? AND store_id = ?").execute(arguments: [file.description, store])
        case .removeCopies(let store):
            try db.cachedStatement(sql: "DELETE FROM copies WHERE store_id = ?").execute(arguments: [store])
        case .setCopyWeights(let store, let copies):
            try db.cachedStatement(sql: "UPDATE copies SET copies = ? WHERE store_id = ? AND copies > 0").execute(arguments: [copies, store])
        case .capCopyWeights(let store, let copies):
            try db.cachedStatement(sql: "UPDATE copies SET copies = ? WHERE store_id = ? AND copies > ?").execute(arguments: [copies, store, copies])
        case .replaceStuck(let stuck):
            try db.execute(sql: "DELETE FROM stuck_files")
            for item in stuck { try insertStuck(item, in: db) }
        case .removeFile(let id):
            try db.cachedStatement(sql: "DELETE FROM stuck_files WHERE file_id = ?").execute(arguments: [id.description])
            try db.cachedStatement(sql: "DELETE FROM copies WHERE file_id = ?").execute(arguments: [id.description])
            try db.cachedStatement(sql: "DELETE FROM files WHERE id = ?").execute(arguments: [id.description])
        case .removeSetting(let key):
            try db.cachedStatement(sql: "DELETE FROM settings WHERE key = ?").execute(arguments: [key])
        case .trimJournal(let through):
            try db.cachedStatement(sql: "DELETE FROM journal WHERE seq <= ?").execute(arguments: [through])
        case .dropJournal(let keys, let kind):
            let drop = try db.cachedStatement(sql: "DELETE FROM journal WHERE key = ? AND (? IS NULL OR kind = ?)")
            for key in keys { try drop.execute(arguments: [key, kind, kind]) }
        case .setSetting(let key, let value):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").execute(arguments: [key, value])
        case .event(let e):
            let details = String(decoding: try JSONCoding.encoder.encode(e.details), as: UTF8.self)
            // An event keeps its sequence number when it has one (a catalog rebuilt from the stores).
            try db.cachedStatement(sql: "INSERT INTO events (seq, time, kind, store_id, file_id, details) VALUES (?, ?, ?, ?, ?, ?)").execute(arguments: [e.seq, e.time.timeIntervalSince1970, e.kind.rawValue, e.storeID,
                                       e.fileID?.description, details])
        }
    }

    static let storeUpsert = StoreRecord.upsertSQL { _ in "?" }

    static func date(_ value: Double?) -> Date? { value.map(Date.init(timeIntervalSince1970:)) }

    static func store(_ row: Row) -> StoreRecord {
        StoreRecord(id: row["id"], label: row["label"], kind: StoreKind(rawValue: row["kind"]) ?? .local,
                    location: row["location"], copies: row["copies"], filesystemUUID: row["filesystem_uuid"],
                    created: date(row["created"]) ?? Date(timeIntervalSince1970: 0),
                    trust: TrustState(rawValue: row["trust"]) ?? .downgraded, noNewCopies: row["no_new_copies"],
                    lastSeen: date(row["last_seen"]), capacity: row["capacity"], free: row["free"],
                    disk: row["disk"], diskName: row["disk_name"], declaredDisk: row["declared_disk"],
                    readOnly: row["read_only"] ?? false,
                    config: (row["config"] as String?).flatMap { try? JSONCoding.decoder.decode(StoreConfig.self, from: Data($0.utf8)) }
                        ?? StoreConfig(),
                    encrypted: row["encrypted"] ?? false, machine: row["machine"], removable: row["removable"],
                    shareDomains: StoreRecord.shareDomains(column: row["grid_domains"]))
    }

    static func insertStuck(_ item: StuckFile, in db: Database) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO stuck_files (file_id, kind, store_label, detail) VALUES (?, ?, ?, ?)")
            .execute(arguments: [item.fileID.description, item.kind.rawValue, item.storeLabel, item.detail])
    }

    static func file(_ row: Row) -> FileRecord? {
        guard let id = ContentID(row["id"] as String), let blob = row["leaf_hashes"] as Data?,
              let leaves = LeafHash.unpack([UInt8](blob)) else { return nil }
        return FileRecord(id: id, size: UInt64(max(0, row["size"] as Int64)), leafHashes: leaves,
                          firstSeen: date(row["first_seen"]) ?? Date(timeIntervalSince1970: 0))
    }

    static func copy(_ row: Row) -> CopyRecord? {
        guard let id = ContentID(row["file_id"] as String) else { return nil }
        return CopyRecord(fileID: id, storeID: row["store_id"], copies: row["copies"],
                          mtime: date(row["mtime"]) ?? Date(timeIntervalSince1970: 0), verified: date(row["verified"]))
    }

    static func importRecord(_ row: Row) -> ImportRecord? {
        guard let id = ContentID(row["file_id"] as String) else { return nil }
        return ImportRecord(fileID: id, path: row["path"], name: row["name"],
                            mtime: date(row["mtime"]) ?? Date(timeIntervalSince1970: 0),
                            time: date(row["time"]) ?? Date(timeIntervalSince1970: 0))
    }

    static func event(_ row: Row) -> Event {
        let text: String = row["details"] ?? "{}"
        let details = (try? JSONCoding.decoder.decode([String: DetailValue].self, from: Data(text.utf8))) ?? [:]
        return Event(seq: row["seq"], time: date(row["time"]) ?? Date(timeIntervalSince1970: 0),
                     kind: EventKind(rawValue: row["kind"]) ?? .consistencyFailure, storeID: row["store_id"],
                     fileID: (row["file_id"] as String?).flatMap(ContentID.init), details: details)
    }
}
