import Foundation
import GRDB
import TroveCore

extension SQLiteCatalog: SnapshotCatalog {
    public func tracked() throws -> [TrackedFolder] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM tracked ORDER BY path").map { row in
                TrackedFolder(path: row["path"], every: row["every"],
                              policy: RetentionPolicy(hourly: row["keep_hourly"], daily: row["keep_daily"],
                                                      weekly: row["keep_weekly"], monthly: row["keep_monthly"]),
                              created: Date(timeIntervalSince1970: row["created"]))
            }
        }
    }

    public func saveTracked(_ folder: TrackedFolder) throws {
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO tracked (path, every, keep_hourly, keep_daily, keep_weekly, keep_monthly, created)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [folder.path, folder.every, folder.policy.hourly, folder.policy.daily,
                                 folder.policy.weekly, folder.policy.monthly, folder.created.timeIntervalSince1970])
        }
    }

    public func removeTracked(_ path: String) throws {
        try write { db in try db.execute(sql: "DELETE FROM tracked WHERE path = ?", arguments: [path]) }
    }

    public func snapshots(root: String?) throws -> [SnapshotRecord] {
        try read { db in
            let rows = root == nil
                ? try Row.fetchAll(db, sql: "SELECT * FROM snapshots ORDER BY seq")
                : try Row.fetchAll(db, sql: "SELECT * FROM snapshots WHERE root = ? ORDER BY seq", arguments: [root])
            return rows.map(Self.snapshot)
        }
    }

    static func snapshot(_ row: Row) -> SnapshotRecord {
        SnapshotRecord(id: row["id"], seq: row["seq"], root: row["root"], time: Date(timeIntervalSince1970: row["time"]),
                       tag: row["tag"], partial: row["partial"], external: row["external"], source: row["source"],
                       entries: row["entries"], bytes: UInt64(max(0, row["bytes"] as Int64)), rootEntry: row["root_entry"])
    }

    /// `last_seq` of a version still in its root's latest snapshot.
    static let openSeq = Int64.max

    public func versions(of snapshot: SnapshotRecord, under: String?, after: String?, limit: Int) throws -> [SnapshotVersion] {
        try read { db in try Self.versionPage(db, root: snapshot.root, seq: snapshot.seq, under: under, after: after, limit: limit) }
    }

    /// Up to `limit` versions of the root's snapshot `seq`, in path order after `after`.
    static func versionPage(_ db: Database, root: String, seq: Int64?, under: String? = nil, after: String?,
                            limit: Int) throws -> [SnapshotVersion] {
        guard let seq else { return [] }
        let cut = join(root, "").utf8.count
        let bounds = Self.pageBounds(root: root, under: under, after: after)
        var versions: [SnapshotVersion] = []
        // Paths in index order (CROSS JOIN keeps SQLite from sorting every version of the root
        // for each page); columns by position, as name lookups cost more than the query.
        let rows = try Row.fetchCursor(db, sql: """
            SELECT v.last_seq, v.id, v.path_id, p.path, \(entryColumns)
            FROM paths p CROSS JOIN versions v INDEXED BY versions_by_path
            WHERE p.path \(bounds.inclusive ? ">=" : ">") ? AND p.path < ? AND (p.path = ? OR p.path > ?)
              AND v.path_id = p.id AND v.root = ? AND v.last_seq >= ? AND v.first_seq <= ?
            ORDER BY p.path LIMIT ?
            """, arguments: [bounds.lower, bounds.upper, bounds.only, bounds.inside, root, seq, seq, limit])
        while let row = try rows.next() {
            let entry = try Self.entry(row, at: 4, path: SafePath.dropping(cut, from: row[3]))
            versions.append(.init(id: row[1], pathID: row[2], entry: entry, open: (row[0] as Int64) == openSeq))
        }
        return versions
    }

    public func snapshotGeneration() throws -> Int64 {
        try read { db in try Self.generation(db) }
    }

    static func generation(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'snapshots'") ?? 0
    }

    public func addSnapshot<Source: SnapshotEntrySource>(_ record: SnapshotRecord, entries source: Source, basis: SnapshotBasis?,
                                                         events: [Event]) throws -> SnapshotRecord {
        let stored = try write { db -> SnapshotRecord in
            let latestSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM snapshots WHERE root = ?", arguments: [record.root])
            var merge = VersionMerge(source: source, basis: basis, latestSeq: latestSeq, generation: try Self.generation(db)) { after, limit in
                try Self.versionPage(db, root: record.root, seq: latestSeq, after: after, limit: limit)
            }
            try db.execute(sql: """
                INSERT INTO snapshots (seq, id, root, time, tag, partial, external, source, entries, bytes, root_entry)
                VALUES (NULLIF(?, 0), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [record.seq, record.id, record.root, record.time.timeIntervalSince1970, record.tag, record.partial,
                                 record.external, record.source, record.entries, Int64(record.bytes), record.rootEntry])
            var saved = record
            saved.seq = db.lastInsertedRowID
            let findPath = try db.cachedStatement(sql: "SELECT id FROM paths WHERE path = ?")
            let insertPath = try db.cachedStatement(sql: "INSERT INTO paths (path, name) VALUES (?, ?)")
            let indexPath = try db.cachedStatement(sql: "INSERT INTO path_index (rowid, path, name) VALUES (?, ?, ?)")
            let insertVersion = try db.cachedStatement(sql: """
                INSERT INTO versions (root, path_id, first_seq, last_seq, type, size, mode, mtime_s, mtime_nsec, inode,
                                      file_id, target, uid, gid, extras)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            while let (entry, known) = try merge.next() {
                let absolute = Self.join(record.root, entry.path)
                let pathID: Int64
                if let known {
                    pathID = known
                } else if let found = try Int64.fetchOne(findPath, arguments: [absolute]) {
                    pathID = found
                } else {
                    try insertPath.execute(arguments: [absolute, entry.name])
                    pathID = db.lastInsertedRowID
                    try indexPath.execute(arguments: [pathID, absolute, entry.name])
                }
                try insertVersion.execute(arguments: [
                    record.root, pathID, saved.seq, Self.openSeq, entry.type.rawValue, Int64(entry.size), Int64(entry.mode),
                    entry.mtime.seconds, Int64(entry.mtime.nanoseconds), Int64(bitPattern: entry.inode), entry.fileID?.description,
                    entry.target, entry.uid.map { Int64($0) }, entry.gid.map { Int64($0) },
                    entry.extras.map { String(decoding: $0, as: UTF8.self) },
                ])
                if merge.closing.count + merge.reopening.count >= 500 { try Self.endVersions(&merge, parentSeq: latestSeq, in: db) }
            }
            try Self.endVersions(&merge, parentSeq: latestSeq, in: db)
            for event in events { try Self.apply(.event(event), in: db) }
            return saved
        }
        for event in events { log(event) }
        return stored
    }

    /// Closes (with the parent) and opens again the versions the merge gathered, 500 at a time.
    private static func endVersions<Source>(_ merge: inout VersionMerge<Source>, parentSeq: Int64?, in db: Database) throws {
        guard let parentSeq else { return }
        for (ids, seq) in [(merge.closing, parentSeq), (merge.reopening, openSeq)] {
            for start in stride(from: 0, to: ids.count, by: 500) {
                let chunk = ids[start..<min(start + 500, ids.count)]
                try db.execute(sql: "UPDATE versions SET last_seq = ? WHERE id IN (\(databaseQuestionMarks(count: chunk.count)))",
                               arguments: StatementArguments([seq] + Array(chunk)))
            }
        }
        merge.closing.removeAll(keepingCapacity: true)
        merge.reopening.removeAll(keepingCapacity: true)
    }

    public func entries(of snapshot: SnapshotRecord, under prefix: String?) throws -> [SnapshotEntry] {
        try read { db in
            var sql = """
                SELECT p.path, \(Self.entryColumns)
                FROM versions v JOIN paths p ON p.id = v.path_id
                WHERE v.root = ? AND v.last_seq >= ? AND v.first_seq <= ?
                """
            var arguments: StatementArguments = [snapshot.root, snapshot.seq, snapshot.seq]
            if let prefix, !prefix.isEmpty {
                let absolute = Self.join(snapshot.root, prefix)
                sql += " AND (p.path = ? OR (p.path > ? AND p.path < ?))"
                arguments += [absolute, absolute + "/", absolute + "/\u{10FFFF}"]
            }
            sql += " ORDER BY p.path"
            let cut = snapshot.root == "/" ? 1 : snapshot.root.utf8.count + 1
            // Columns by position: name lookups cost more than the query for big trees.
            var result: [SnapshotEntry] = []
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                result.append(try Self.entry(row, at: 1, path: SafePath.dropping(cut, from: row[0])))
            }
            return result
        }
    }

    public func forget(_ snapshots: [SnapshotRecord], events: [Event]) throws {
        guard !snapshots.isEmpty else { return }
        try write { db in
            for snapshot in snapshots {
                try db.execute(sql: "DELETE FROM snapshots WHERE seq = ?", arguments: [snapshot.seq])
            }
            let roots = Array(Set(snapshots.map(\.root)))
            try db.execute(sql: """
                DELETE FROM versions WHERE root IN (\(databaseQuestionMarks(count: roots.count)))
                  AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.root = versions.root
                                  AND s.seq BETWEEN versions.first_seq AND versions.last_seq)
                """, arguments: StatementArguments(roots))
            let orphans = try Row.fetchAll(db, sql: """
                SELECT id, path, name FROM paths WHERE NOT EXISTS (SELECT 1 FROM versions WHERE path_id = paths.id)
                """)
            let unindex = try db.cachedStatement(sql: "INSERT INTO path_index (path_index, rowid, path, name) VALUES ('delete', ?, ?, ?)")
            for row in orphans {
                try unindex.execute(arguments: [row["id"] as Int64, row["path"] as String, row["name"] as String])
            }
            try db.execute(sql: "DELETE FROM paths WHERE NOT EXISTS (SELECT 1 FROM versions WHERE path_id = paths.id)")
            for event in events { try Self.apply(.event(event), in: db) }
        }
        for event in events { log(event) }
    }

    public func find(_ pattern: String, limit: Int) throws -> [FindHit] {
        let find = FindPattern(pattern)
        let condition = find.glob == nil ? "f.\(find.column) LIKE ? ESCAPE '\\'" : "f.\(find.column) GLOB ?"
        let argument = find.glob ?? find.like
        return try read { db in
            // The limit counts paths, not (path, snapshot) pairs: every snapshot of a path shown is listed.
            try Row.fetchAll(db, sql: """
                WITH hit AS (
                  SELECT DISTINCT p.id, p.path FROM path_index f JOIN paths p ON p.id = f.rowid
                  WHERE \(condition) AND EXISTS (SELECT 1 FROM versions v WHERE v.path_id = p.id)
                  ORDER BY p.path LIMIT ?)
                SELECT hit.path AS abs, v.type, v.size, v.mtime_s, v.mtime_nsec, v.file_id, s.id AS snapshot, s.time, s.root
                FROM hit JOIN versions v ON v.path_id = hit.id
                JOIN snapshots s ON s.root = v.root AND s.seq BETWEEN v.first_seq AND v.last_seq
                ORDER BY hit.path, s.seq
                """, arguments: [argument, limit]).map { row in
                FindHit(snapshotID: row["snapshot"], snapshotTime: Date(timeIntervalSince1970: row["time"]), root: row["root"],
                        path: row["abs"], type: EntryType(rawValue: row["type"]) ?? .file, size: UInt64(max(0, row["size"] as Int64)),
                        mtime: FileTime(seconds: row["mtime_s"], nanoseconds: Int32(truncatingIfNeeded: row["mtime_nsec"] as Int64)),
                        fileID: (row["file_id"] as String?).flatMap(ContentID.init))
            }
        }
    }

    static func join(_ root: String, _ relative: String) -> String {
        root == "/" ? "/" + relative : root + "/" + relative
    }

    /// The columns `entry(_:at:path:)` reads, in order.
    static let entryColumns = "v.type, v.size, v.mode, v.mtime_s, v.mtime_nsec, v.inode, v.file_id, v.target, v.uid, v.gid, v.extras"

    /// An entry from `entryColumns` starting at column `start` (by position: name lookups cost
    /// more than the query for big trees).
    static func entry(_ row: Row, at start: Int, path: String) throws -> SnapshotEntry {
        let fileID: String? = row[start + 6]
        let uid: Int64? = row[start + 8]
        let gid: Int64? = row[start + 9]
        var entry = SnapshotEntry(path: path, type: EntryType(rawValue: row[start]) ?? .file, size: UInt64(max(0, row[start + 1] as Int64)),
                                  mode: UInt32(truncatingIfNeeded: row[start + 2] as Int64),
                                  mtime: FileTime(seconds: row[start + 3], nanoseconds: Int32(truncatingIfNeeded: row[start + 4] as Int64)),
                                  inode: UInt64(bitPattern: row[start + 5] as Int64), fileID: fileID.flatMap(ContentID.init),
                                  target: row[start + 7], uid: uid.map { UInt32(truncatingIfNeeded: $0) },
                                  gid: gid.map { UInt32(truncatingIfNeeded: $0) })
        if let extras: String = row[start + 10] { try entry.setExtras(Array(extras.utf8)) }
        return entry
    }
}
