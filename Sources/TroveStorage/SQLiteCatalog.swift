import Foundation
import GRDB
import Logging
import TroveCore

/// The embedded catalog: SQLite in WAL mode through GRDB, migrated on open.
public final class SQLiteCatalog: Catalog, @unchecked Sendable {
    let pool: DatabasePool
    let logger: Logger
    /// The database file.
    public let path: String
    /// Whether applied events are also logged (not while a rebuild replays old ones).
    public var logsEvents = true

    /// Opens (creating when needed) the catalog database at `path` and migrates it.
    public init(path: String, logger: Logger = Logger(label: "trove.catalog")) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.foreignKeysEnabled = true
        config.prepareDatabase { db in
            // Rows go in under random content IDs all over the B-trees: a larger page cache for
            // the writer (32 MiB, used only as needed) saves re-reading pages, and rarer
            // checkpoints let a page changed by several transactions reach the database file
            // once. Readers (up to five at once) keep 8 MiB each: at 32 MiB, a restore's lanes
            // filled them all and the catalog alone held 139 MiB at 1,000,000 files.
            try db.execute(sql: db.configuration.readonly ? "PRAGMA cache_size = -8192" : "PRAGMA cache_size = -32768")
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 8192")
            // Statement journals (every insert that fires a trigger keeps one, page by page) in
            // memory, not in a temporary file: a file cost a write per page touched, about 20
            // per small file imported (Benchmarks/RESULTS.md, issue 14).
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // A catalog a newer Trove has migrated must not be written by this one: it would
            // misread what it does not know (e.g. open snapshot versions) and damage the index.
            if try pool.read({ try Self.migrator.hasBeenSuperseded($0) }) {
                throw TroveError(.catalog, "The catalog \(path) was written by a newer version of Trove; upgrade Trove to use this library.")
            }
            try Self.migrator.migrate(pool)
        } catch let error as TroveError {
            throw error
        } catch {
            if let damaged = Self.damaged(error, path: path) { throw damaged }
            throw TroveError(.catalog, "Cannot open the catalog \(path): \(error); check the library folder's permissions and free space.")
        }
        self.logger = logger
        self.path = path
    }

    /// The one sentence every command gives when the catalog file is damaged, naming the one
    /// command that fixes it; nil when `error` is not damage.
    public static func damaged(_ error: Error, path: String) -> TroveError? {
        guard let database = error as? DatabaseError,
              [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(database.resultCode.primaryResultCode) else { return nil }
        return TroveError(.catalogDamaged, "The catalog \(path) is damaged (\(database.message ?? "\(database.resultCode)")); run `trove catalog rebuild` to make a new one from the library's records in the stores (the damaged file is kept aside).")
    }

    /// Writes the write-ahead log into the database file and closes it (before the file is moved).
    public func close() throws {
        do {
            try pool.writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
            try pool.close()
        } catch {
            throw TroveError(.catalog, "The catalog \(path) could not be closed: \(error).")
        }
    }

    public func apply(_ changes: [CatalogChange]) throws {
        try write { db in
            for run in CatalogChange.runs(changes) { try Self.apply(run, in: db) }
        }
        if logsEvents { for case .event(let event) in changes { log(event) } }
    }

    func log(_ event: Event) { event.log(to: logger) }

    public func replaceStuck(_ nextChunk: () throws -> [StuckFile]?) throws {
        try write { db in
            try Self.apply(.replaceStuck([]), in: db)
            while let chunk = try nextChunk() {
                for item in chunk { try Self.insertStuck(item, in: db) }
            }
        }
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try pool.write(body) } catch let error as TroveError { throw error } catch {
            if let damaged = Self.damaged(error, path: path) { throw damaged }
            throw TroveError(.catalog, "The catalog could not be updated: \(error); nothing was changed. Check free space in the library folder and retry.")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try reading { try pool.read(body) }
    }

    /// One statement's read, without the explicit transaction `read` wraps around its body: a
    /// single statement is consistent on its own, and the per-file lookups of heal and verify
    /// (a file, its copies, a packed object) then cost half as much.
    func lookup<T>(_ body: (Database) throws -> T) throws -> T {
        try reading { try pool.unsafeRead(body) }
    }

    /// A read's failure as the user should see it.
    private func reading<T>(_ read: () throws -> T) throws -> T {
        do { return try read() } catch let error as TroveError { throw error } catch {
            if let damaged = Self.damaged(error, path: path) { throw damaged }
            throw TroveError(.catalog, "The catalog could not be read: \(error); run `trove check`.")
        }
    }

    public func setting(_ key: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE key = ?", arguments: [key]) }
    }

    public func stores() throws -> [StoreRecord] {
        try read { db in try Row.fetchAll(db, sql: "SELECT * FROM stores ORDER BY label").map(Self.store) }
    }

    public func file(_ id: ContentID) throws -> FileRecord? {
        try lookup { db in
            try Row.fetchOne(try db.cachedStatement(sql: "SELECT * FROM files WHERE id = ?"), arguments: [id.description]).flatMap(Self.file)
        }
    }

    public func knownFileIDs(_ ids: [ContentID]) throws -> Set<ContentID> {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM files WHERE id = ?")
            return Set(try ids.filter { try Int.fetchOne(statement, arguments: [$0.description]) != nil })
        }
    }

    public func fileIDs(prefix: String, limit: Int) throws -> [ContentID] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT id FROM files WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                arguments: [prefix, prefix + "\u{7f}", limit]).compactMap(ContentID.init)
        }
    }

    public func copies(of id: ContentID) throws -> [CopyRecord] {
        try lookup { db in
            try Row.fetchAll(try db.cachedStatement(sql: "SELECT * FROM copies WHERE file_id = ? ORDER BY store_id"),
                             arguments: [id.description]).compactMap(Self.copy)
        }
    }

    public func copies(ofFiles ids: [ContentID]) throws -> [ContentID: [CopyRecord]] {
        guard !ids.isEmpty else { return [:] }
        return try read { db in
            // The file's ID is the one asked for: only the other columns are decoded, by position.
            let statement = try db.cachedStatement(sql: "SELECT store_id, copies, mtime, verified FROM copies WHERE file_id = ? ORDER BY store_id")
            var found: [ContentID: [CopyRecord]] = [:]
            for id in ids where found[id] == nil {
                let rows = try Row.fetchCursor(statement, arguments: [id.description])
                var copies: [CopyRecord] = []
                while let row = try rows.next() {
                    copies.append(CopyRecord(fileID: id, storeID: row[0], copies: row[1],
                                             mtime: Date(timeIntervalSince1970: row[2]), verified: Self.date(row[3])))
                }
                if !copies.isEmpty { found[id] = copies }
            }
            return found
        }
    }

    public func copies(onStore storeID: String) throws -> [CopyRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM copies WHERE store_id = ? ORDER BY verified IS NOT NULL, verified, file_id",
                             arguments: [storeID]).compactMap(Self.copy)
        }
    }

    public func copied(onStore storeID: String, among ids: [ContentID]) throws -> Set<ContentID> {
        try read { db in
            let statement = try db.cachedStatement(sql: "SELECT 1 FROM copies WHERE file_id = ? AND store_id = ?")
            return Set(try ids.filter { try Int.fetchOne(statement, arguments: [$0.description, storeID]) != nil })
        }
    }

    public func copies(after: CopyRecord?, limit: Int) throws -> [CopyRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM copies WHERE (file_id, store_id) > (?, ?) ORDER BY file_id, store_id LIMIT ?",
                             arguments: [after?.fileID.description ?? "", after?.storeID ?? "", limit]).compactMap(Self.copy)
        }
    }

    public func copiedFiles(onStore storeID: String, after: ContentID?, limit: Int) throws -> [(file: FileRecord, copy: CopyRecord)] {
        // In primary-key order (`+` keeps SQLite from the store index, which would sort every
        // copy of the store for each page).
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.id, f.size, f.leaf_hashes, f.first_seen, c.file_id, c.store_id, c.copies, c.mtime, c.verified
                FROM copies c JOIN files f ON f.id = c.file_id WHERE +c.store_id = ? AND c.file_id > ?
                ORDER BY c.file_id LIMIT ?
                """, arguments: [storeID, after?.description ?? "", limit]).compactMap { row in
                guard let file = Self.file(row), let copy = Self.copy(row) else { return nil }
                return (file, copy)
            }
        }
    }

    public func imports(underPath path: String) throws -> [ImportRecord] {
        let folder = path.hasSuffix("/") ? path : path + "/"
        return try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM imports WHERE path = ? OR (path >= ? AND path < ?) ORDER BY path, time
                """, arguments: [path, folder, folder + "\u{10FFFF}"]).compactMap(Self.importRecord)
        }
    }

    public func imports(of id: ContentID) throws -> [ImportRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM imports WHERE file_id = ? ORDER BY time, path",
                             arguments: [id.description]).compactMap(Self.importRecord)
        }
    }

    public func events(after seq: Int64?, kind: EventKind?, limit: Int?) throws -> [Event] {
        try read { db in
            var sql = "SELECT * FROM events WHERE seq > ?"
            var arguments: StatementArguments = [seq ?? 0]
            if let kind { sql += " AND kind = ?"; arguments += [kind.rawValue] }
            sql += " ORDER BY seq"
            if let limit { sql += " LIMIT ?"; arguments += [limit] }
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.event)
        }
    }

    public func latestEvent(kind: EventKind) throws -> Event? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM events WHERE kind = ? ORDER BY seq DESC LIMIT 1", arguments: [kind.rawValue]).map(Self.event)
        }
    }

    public func summary() throws -> CatalogSummary {
        try read { db in
            var summary = CatalogSummary()
            // Both read trigger-maintained totals: an index scan and one row per store.
            for row in try Row.fetchAll(db, sql: """
                SELECT durability, COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM files GROUP BY durability
                """) {
                let bucket = CatalogSummary.Bucket(files: row["files"], bytes: UInt64(row["bytes"] as Int64))
                summary.durability[row["durability"]] = bucket
                summary.files += bucket.files
                summary.bytes += bucket.bytes
            }
            for row in try Row.fetchAll(db, sql: "SELECT id, held_files, held_bytes FROM stores WHERE held_files > 0") {
                summary.perStore[row["id"]] = .init(files: row["held_files"], bytes: UInt64(max(0, row["held_bytes"] as Int64)))
            }
            return summary
        }
    }
}
