import Foundation
import Logging
import PostgresNIO
import TroveCore
import TroveStorage

/// A catalog in PostgreSQL, shared by the machines of one library. It keeps the same records,
/// derived totals (by PL/pgSQL triggers) and journal as the SQLite catalog, and answers the
/// same protocols (the conformance suite runs on both).
///
/// Writers take one transaction-scoped advisory lock, so writes from every machine apply one
/// after another, as in SQLite: events and journal rows commit in sequence order (a reader
/// that has seen number N never later finds a smaller one appear), and trigger totals never
/// race. Reads never wait for it.
public final class PostgresCatalog: Catalog, @unchecked Sendable {
    /// The connection (replaced when the server closed it, e.g. after a restart).
    private(set) var session: PGSession
    /// One caller at a time on the connection (a transaction spans several calls).
    let lock = NSRecursiveLock()
    let logger: Logger
    public let url: PostgresURL
    /// The library locks this process holds (checked on every call; see `guarded`).
    var heldLocks: [(name: String, lock: HeldLockRef)] = []

    /// Advisory lock keys (the first half of each two-part key marks them as Trove's).
    static let lockSpace: Int32 = 0x5452_4f56 // "TROV"
    enum LockKey: Int32 { case write = 1, migrate = 2, activity = 3, recovery = 4, records = 5 }

    /// Connects and brings the schema up to date.
    public init(url: PostgresURL, logger: Logger = Logger(label: "trove.catalog")) throws {
        self.url = url
        self.logger = logger
        session = try PGSession.connect(url, logger: logger)
        try migrate()
    }

    /// Closes the connection.
    public func close() { session.close() }

    func migrate() throws {
        try guarded("prepare the catalog") {
            // Every command opens the catalog: when the schema is current (the usual case) two
            // small reads say so, without a lock or a schema statement.
            if try appliedMigrations() == Set(Self.migrations.map(\.name)) { return }
            try session.execute("SELECT pg_advisory_lock($1, $2)", [Self.lockSpace, LockKey.migrate.rawValue])
            defer { _ = try? session.execute("SELECT pg_advisory_unlock($1, $2)", [Self.lockSpace, LockKey.migrate.rawValue]) }
            try session.execute("CREATE TABLE IF NOT EXISTS trove_schema (version TEXT PRIMARY KEY)")
            // Read again under the lock: another machine may have just applied them.
            let applied = try appliedMigrations()
            if let newer = applied.subtracting(Self.migrations.map(\.name)).first {
                throw TroveError(.catalog, "The catalog \(url) has schema \(newer), written by a newer version of Trove; upgrade Trove to use this library.")
            }
            for migration in Self.migrations where !applied.contains(migration.name) {
                try Self.transaction(session, begin: ["BEGIN"]) { s in
                    try s.simple(migration.sql)
                    try s.execute("INSERT INTO trove_schema VALUES ($1)", [migration.name])
                }
            }
        }
    }

    /// The schema versions applied to the database (none before the first).
    func appliedMigrations() throws -> Set<String> {
        let exists = try session.query("SELECT to_regclass('trove_schema') IS NOT NULL").first?.get(0, as: Bool.self) ?? false
        guard exists else { return [] }
        return Set(try session.query("SELECT version FROM trove_schema").map { try $0.get(0, as: String.self) })
    }

    /// Runs `body` with the connection; server errors become one sentence saying what failed.
    func guarded<T>(_ what: String, _ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        // A connection the server closed (a restart, a failover) is opened again; a
        // transaction in flight on it was rolled back by the server, so nothing is half-done.
        if session.connection.isClosed {
            session = try PGSession.connect(url, logger: logger)
        }
        // A library lock lives on its own connection: if that connection is gone, so is the
        // lock, and this process must stop rather than go on unguarded.
        heldLocks.removeAll { $0.lock.value == nil }
        if let lost = heldLocks.first(where: { $0.lock.value?.session.connection.isClosed == true }) {
            throw TroveError(.busy, "The connection to \(url) that held the library's \(lost.name) lock was lost, so the lock is gone; this command stopped so that nothing runs unguarded. Run it again.")
        }
        do { return try body() } catch let error as TroveError { throw error } catch {
            throw TroveError(.catalog, "The PostgreSQL catalog \(url) could not \(what): \(PGSession.describe(error)); nothing was changed. Check the server and retry.")
        }
    }

    /// Runs `body` in one read-only snapshot on a connection of its own, without holding this
    /// catalog's connection (so `body` may use the catalog).
    func onOwnConnection<T>(_ what: String, _ body: (PGSession) throws -> T) throws -> T {
        let own = try PGSession.connect(url, logger: logger)
        defer { own.close() }
        do {
            return try Self.transaction(own, begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], body)
        } catch let error as TroveError {
            throw error
        } catch {
            throw TroveError(.catalog, "The PostgreSQL catalog \(url) could not \(what): \(PGSession.describe(error)); nothing was changed. Check the server and retry.")
        }
    }

    /// One write transaction, after every other machine's (see the type's note).
    func write<T>(_ body: (PGSession) throws -> T) throws -> T {
        try guarded("be updated") {
            try Self.transaction(session, begin: ["BEGIN", "SELECT pg_advisory_xact_lock(\(Self.lockSpace), \(LockKey.write.rawValue))"], body)
        }
    }

    /// Reads; with `consistent`, all of `body` sees one snapshot of the catalog.
    func read<T>(consistent: Bool = false, _ body: (PGSession) throws -> T) throws -> T {
        try guarded("be read") {
            guard consistent else { return try body(session) }
            return try Self.transaction(session, begin: ["BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"], body)
        }
    }

    /// Runs `body` between the `begin` statements and COMMIT; rolls back when anything fails.
    static func transaction<T>(_ s: PGSession, begin: [String], _ body: (PGSession) throws -> T) throws -> T {
        do {
            for statement in begin { try s.send(statement) }
            let result = try body(s)
            try s.execute("COMMIT")
            return result
        } catch {
            try? s.flush()
            _ = try? s.execute("ROLLBACK")
            throw error
        }
    }

    public func apply(_ changes: [CatalogChange]) throws {
        try write { s in try Self.apply(changes, in: s) }
        for case .event(let event) in changes { log(event) }
    }

    func log(_ event: Event) { event.log(to: logger) }

    public func replaceStuck(_ nextChunk: () throws -> [StuckFile]?) throws {
        try write { s in
            try s.send("DELETE FROM stuck_files")
            while let chunk = try nextChunk() { try Self.insertStuck(chunk, in: s) }
        }
    }

    public func setting(_ key: String) throws -> String? {
        try read { s in try s.query("SELECT value FROM settings WHERE key = $1", [key]).first?.get(0) }
    }

    public func stores() throws -> [StoreRecord] {
        try read { s in try s.query("SELECT * FROM stores ORDER BY label").map(Self.store) }
    }

    public func file(_ id: ContentID) throws -> FileRecord? {
        try read { s in try s.query("SELECT * FROM files WHERE id = $1", [id.description]).first.flatMap(Self.file) }
    }

    public func knownFileIDs(_ ids: [ContentID]) throws -> Set<ContentID> {
        guard !ids.isEmpty else { return [] }
        return try read { s in
            Set(try s.query("SELECT id FROM files WHERE id = ANY($1)", [ids.map(\.description)])
                .compactMap { ContentID(try $0.get(0, as: String.self)) })
        }
    }

    public func copied(onStore storeID: String, among ids: [ContentID]) throws -> Set<ContentID> {
        guard !ids.isEmpty else { return [] }
        return try read { s in
            Set(try s.query("SELECT file_id FROM copies WHERE store_id = $1 AND file_id = ANY($2)", [storeID, ids.map(\.description)])
                .compactMap { ContentID(try $0.get(0, as: String.self)) })
        }
    }

    public func fileIDs(prefix: String, limit: Int) throws -> [ContentID] {
        try read { s in
            try s.query("SELECT id FROM files WHERE id >= $1 AND id < $2 ORDER BY id LIMIT $3", [prefix, prefix + "\u{7f}", limit])
                .compactMap { ContentID(try $0.get(0, as: String.self)) }
        }
    }

    public func copies(of id: ContentID) throws -> [CopyRecord] {
        try read { s in try s.query("SELECT * FROM copies WHERE file_id = $1 ORDER BY store_id", [id.description]).compactMap(Self.copy) }
    }

    public func copies(ofFiles ids: [ContentID]) throws -> [ContentID: [CopyRecord]] {
        guard !ids.isEmpty else { return [:] }
        return try read { s in
            Dictionary(grouping: try s.query("SELECT * FROM copies WHERE file_id = ANY($1) ORDER BY file_id, store_id",
                                             [ids.map(\.description)]).compactMap(Self.copy), by: \.fileID)
        }
    }

    public func copies(onStore storeID: String) throws -> [CopyRecord] {
        try read { s in
            try s.query("SELECT * FROM copies WHERE store_id = $1 ORDER BY verified IS NOT NULL, verified, file_id", [storeID])
                .compactMap(Self.copy)
        }
    }

    public func copies(after: CopyRecord?, limit: Int) throws -> [CopyRecord] {
        try read { s in
            try s.query("SELECT * FROM copies WHERE (file_id, store_id) > ($1, $2) ORDER BY file_id, store_id LIMIT $3",
                        [after?.fileID.description ?? "", after?.storeID ?? "", limit]).compactMap(Self.copy)
        }
    }

    public func copiedFiles(onStore storeID: String, after: ContentID?, limit: Int) throws -> [(file: FileRecord, copy: CopyRecord)] {
        try read { s in
            try s.query("""
                SELECT f.id, f.size, f.leaf_hashes, f.first_seen, c.file_id, c.store_id, c.copies, c.mtime, c.verified
                FROM copies c JOIN files f ON f.id = c.file_id WHERE c.store_id = $1 AND c.file_id > $2
                ORDER BY c.file_id LIMIT $3
                """, [storeID, after?.description ?? "", Int64(limit)]).compactMap { row in
                guard let file = try Self.file(row), let copy = try Self.copy(row) else { return nil }
                return (file, copy)
            }
        }
    }

    public func imports(underPath path: String) throws -> [ImportRecord] {
        let folder = path.hasSuffix("/") ? path : path + "/"
        return try read { s in
            try s.query("SELECT * FROM imports WHERE path = $1 OR (path >= $2 AND path < $3) ORDER BY path, time",
                        [path, folder, folder + "\u{10FFFF}"]).compactMap(Self.importRecord)
        }
    }

    public func imports(of id: ContentID) throws -> [ImportRecord] {
        try read { s in try s.query("SELECT * FROM imports WHERE file_id = $1 ORDER BY time, path", [id.description]).compactMap(Self.importRecord) }
    }

    public func events(after seq: Int64?, kind: EventKind?, limit: Int?) throws -> [Event] {
        try read { s in
            var sql = "SELECT * FROM events WHERE seq > $1"
            var args: [PGArg] = [seq ?? 0]
            if let kind { args.append(kind.rawValue); sql += " AND kind = $\(args.count)" }
            sql += " ORDER BY seq"
            if let limit { args.append(limit); sql += " LIMIT $\(args.count)" }
            return try s.query(sql, args).map(Self.event)
        }
    }

    public func latestEvent(kind: EventKind) throws -> Event? {
        try read { s in try s.query("SELECT * FROM events WHERE kind = $1 ORDER BY seq DESC LIMIT 1", [kind.rawValue]).map(Self.event).first }
    }

    public func summary() throws -> CatalogSummary {
        try read(consistent: true) { s in
            var summary = CatalogSummary()
            // Both read trigger-maintained totals: an index scan and one row per store.
            for row in try s.query("SELECT durability, COUNT(*) AS files, COALESCE(SUM(size), 0)::BIGINT AS bytes FROM files GROUP BY durability") {
                let bucket = CatalogSummary.Bucket(files: try row.get("files", as: Int.self), bytes: UInt64(max(0, try row.get("bytes", as: Int64.self))))
                summary.durability[try row.get("durability", as: Int.self)] = bucket
                summary.files += bucket.files
                summary.bytes += bucket.bytes
            }
            for row in try s.query("SELECT id, held_files, held_bytes FROM stores WHERE held_files > 0") {
                summary.perStore[try row.get("id")] = .init(files: try row.get("held_files", as: Int.self),
                                                            bytes: UInt64(max(0, try row.get("held_bytes", as: Int64.self))))
            }
            return summary
        }
    }
}
