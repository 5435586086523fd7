import Foundation
import PostgresNIO
import TroveCore
import TroveStorage

extension PostgresCatalog: SnapshotCatalog {
    public func tracked() throws -> [TrackedFolder] {
        try read { s in
            try s.query("SELECT * FROM tracked ORDER BY path").map { row in
                TrackedFolder(path: try row.get("path"), every: try row.get("every"),
                              policy: RetentionPolicy(hourly: try row.get("keep_hourly"), daily: try row.get("keep_daily"),
                                                      weekly: try row.get("keep_weekly"), monthly: try row.get("keep_monthly")),
                              created: Date(timeIntervalSince1970: try row.get("created")))
            }
        }
    }

    public func saveTracked(_ folder: TrackedFolder) throws {
        try write { s in
            try s.send("""
                INSERT INTO tracked (path, every, keep_hourly, keep_daily, keep_weekly, keep_monthly, created)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (path) DO UPDATE SET every = excluded.every, keep_hourly = excluded.keep_hourly,
                  keep_daily = excluded.keep_daily, keep_weekly = excluded.keep_weekly, keep_monthly = excluded.keep_monthly,
                  created = excluded.created
                """, [folder.path, folder.every, folder.policy.hourly, folder.policy.daily, folder.policy.weekly,
                      folder.policy.monthly, folder.created.timeIntervalSince1970])
        }
    }

    public func removeTracked(_ path: String) throws {
        try write { s in try s.send("DELETE FROM tracked WHERE path = $1", [path]) }
    }

    public func snapshots(root: String?) throws -> [SnapshotRecord] {
        try read { s in
            let rows = if let root { try s.query("SELECT * FROM snapshots WHERE root = $1 ORDER BY seq", [root]) }
                else { try s.query("SELECT * FROM snapshots ORDER BY seq") }
            return try rows.map(Self.snapshot)
        }
    }

    /// `last_seq` of a version still in its root's latest snapshot.
    static let openSeq = Int64.max

    public func latestVersions(root: String) throws -> LatestVersions {
        try read(consistent: true) { s in try Self.latestVersions(s, root: root) }
    }

    /// Snapshots ever numbered in the library (the sequence's last value).
    static func generation(_ s: PGSession) throws -> Int64 {
        try s.query("SELECT n FROM snapshot_generation").first?.get(0) ?? 0
    }

    static func latestVersions(_ s: PGSession, root: String) throws -> LatestVersions {
        let generation = try generation(s)
        guard let latest = try s.query("SELECT seq, entries FROM snapshots WHERE root = $1 ORDER BY seq DESC LIMIT 1", [root]).first else {
            return LatestVersions(seq: nil, generation: generation, versions: [])
        }
        let seq: Int64 = try latest.get(0)
        let cut = root == "/" ? 1 : root.utf8.count + 1
        var versions: [LatestVersions.Version] = []
        versions.reserveCapacity(try latest.get(1, as: Int.self))
        for row in try s.query("""
            SELECT v.last_seq, v.id, v.path_id, p.path, \(entryColumns)
            FROM versions v JOIN paths p ON p.id = v.path_id
            WHERE v.root = $1 AND v.last_seq >= $2 AND v.first_seq <= $2
            """, [root, seq]) {
            let entry = try Self.entry(row, at: 4, path: SafePath.dropping(cut, from: try row.get(3)))
            versions.append(.init(id: try row.get(1), pathID: try row.get(2), entry: entry,
                                  open: (try row.get(0, as: Int64.self)) == openSeq))
        }
        return LatestVersions(seq: seq, generation: generation, versions: versions)
    }

    public func addSnapshot(_ record: SnapshotRecord, entries: [SnapshotEntry], latest: LatestVersions?,
                            events: [Event]) throws -> SnapshotRecord {
        let stored = try write { s -> SnapshotRecord in
            let latestSeq = try s.query("SELECT MAX(seq) FROM snapshots WHERE root = $1", [record.root]).first?.get(0, as: Int64?.self)
            let parent: LatestVersions
            if let latest, latest.seq == latestSeq, latest.generation == (try Self.generation(s)) {
                parent = latest
            } else {
                parent = try Self.latestVersions(s, root: record.root)
            }
            var saved = record
            saved.seq = try s.query("""
                INSERT INTO snapshots (seq, id, root, time, tag, partial, external, source, entries, bytes, root_entry)
                VALUES (COALESCE(NULLIF($1, 0), nextval('snapshots_seq_seq')), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                RETURNING seq
                """, [record.seq, record.id, record.root, record.time.timeIntervalSince1970, record.tag, record.partial,
                      record.external, record.source, record.entries, Int64(record.bytes), record.rootEntry]).first!.get(0)
            if record.seq > 0 {
                try s.send("SELECT setval('snapshots_seq_seq', GREATEST($1, (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM snapshots_seq_seq)))",
                           [record.seq])
            }
            try s.send("UPDATE snapshot_generation SET n = GREATEST(n, $1)", [saved.seq])
            // An unchanged entry costs nothing: its open version simply continues.
            var continued = Set<Int64>()
            continued.reserveCapacity(parent.versions.count)
            var changed: [(entry: SnapshotEntry, absolute: String, pathID: Int64?)] = []
            for entry in entries {
                let previous = parent[PathKey(entry.path)]
                if let previous, previous.entry == entry {
                    continued.insert(previous.id)
                    continue
                }
                changed.append((entry, Self.join(record.root, entry.path), previous?.pathID))
            }
            // Paths new to this root: found or added in one statement per batch.
            var pathIDs: [String: Int64] = [:]
            let unknown = changed.filter { $0.pathID == nil }
            for start in stride(from: 0, to: unknown.count, by: 10_000) {
                let batch = unknown[start..<min(start + 10_000, unknown.count)]
                try s.send("""
                    INSERT INTO paths (path, name) SELECT * FROM unnest($1::TEXT[], $2::TEXT[]) ON CONFLICT (path) DO NOTHING
                    """, [batch.map(\.absolute), batch.map(\.entry.name)])
                for row in try s.query("SELECT path, id FROM paths WHERE path = ANY($1)", [batch.map(\.absolute)]) {
                    pathIDs[try row.get(0)] = try row.get(1)
                }
            }
            for start in stride(from: 0, to: changed.count, by: 10_000) {
                let batch = changed[start..<min(start + 10_000, changed.count)]
                let e = batch.map(\.entry)
                try s.send("""
                    INSERT INTO versions (root, path_id, first_seq, last_seq, type, size, mode, mtime_s, mtime_nsec, inode,
                                          file_id, target, uid, gid, extras)
                    SELECT $1, p, $2, $3, t, sz, m, ms, mn, i, NULLIF(f, ''), NULLIF(tg, E'\\x01'), NULLIF(u, -1), NULLIF(g, -1), NULLIF(x, E'\\x01')
                    FROM unnest($4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[],
                                $11::TEXT[], $12::TEXT[], $13::BIGINT[], $14::BIGINT[], $15::TEXT[])
                      AS v(p, t, sz, m, ms, mn, i, f, tg, u, g, x)
                    """, [record.root, saved.seq, Self.openSeq,
                          try batch.map { item -> Int64 in
                              guard let id = item.pathID ?? pathIDs[item.absolute] else {
                                  throw TroveError(.catalog, "The path \(item.absolute) has no row in the catalog's path index.")
                              }
                              return id
                          },
                          e.map(\.type.rawValue), e.map { Int64($0.size) }, e.map { Int64($0.mode) }, e.map(\.mtime.seconds),
                          e.map { Int64($0.mtime.nanoseconds) }, e.map { Int64(bitPattern: $0.inode) },
                          e.map { $0.fileID?.description ?? "" }, e.map { $0.target ?? Self.absent },
                          e.map { $0.uid.map { Int64($0) } ?? -1 }, e.map { $0.gid.map { Int64($0) } ?? -1 },
                          e.map { $0.extras.map { String(decoding: $0, as: UTF8.self) } ?? Self.absent }])
            }
            // Versions that did not continue end with the parent; any that continued but had
            // been closed (the latest snapshot was forgotten meanwhile) open again.
            if let parentSeq = parent.seq {
                let closing = parent.versions.filter { $0.open && !continued.contains($0.id) }.map(\.id)
                let reopening = parent.versions.filter { !$0.open && continued.contains($0.id) }.map(\.id)
                for (ids, seq) in [(closing, parentSeq), (reopening, Self.openSeq)] where !ids.isEmpty {
                    try s.send("UPDATE versions SET last_seq = $1 WHERE id = ANY($2)", [seq, ids])
                }
            }
            try Self.apply(events.map(CatalogChange.event), in: s)
            return saved
        }
        for event in events { log(event) }
        return stored
    }

    /// Stands for NULL in a text array (a control character no path, target or JSON holds).
    static let absent = "\u{1}"

    public func entries(of snapshot: SnapshotRecord, under prefix: String?) throws -> [SnapshotEntry] {
        try read { s in
            var sql = """
                SELECT p.path, \(Self.entryColumns)
                FROM versions v JOIN paths p ON p.id = v.path_id
                WHERE v.root = $1 AND v.last_seq >= $2 AND v.first_seq <= $2
                """
            var args: [PGArg] = [snapshot.root, snapshot.seq]
            if let prefix, !prefix.isEmpty {
                let absolute = Self.join(snapshot.root, prefix)
                sql += " AND (p.path = $3 OR (p.path > $4 AND p.path < $5))"
                args += [absolute, absolute + "/", absolute + "/\u{10FFFF}"]
            }
            sql += " ORDER BY p.path"
            let cut = snapshot.root == "/" ? 1 : snapshot.root.utf8.count + 1
            return try s.query(sql, args).map { row in
                try Self.entry(row, at: 1, path: SafePath.dropping(cut, from: try row.get(0)))
            }
        }
    }

    public func forget(_ snapshots: [SnapshotRecord], events: [Event]) throws {
        guard !snapshots.isEmpty else { return }
        try write { s in
            try s.send("DELETE FROM snapshots WHERE seq = ANY($1)", [snapshots.map(\.seq)])
            try s.send("""
                DELETE FROM versions WHERE root = ANY($1)
                  AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.root = versions.root
                                  AND s.seq BETWEEN versions.first_seq AND versions.last_seq)
                """, [Array(Set(snapshots.map(\.root)))])
            try s.send("DELETE FROM paths WHERE NOT EXISTS (SELECT 1 FROM versions WHERE path_id = paths.id)")
            try Self.apply(events.map(CatalogChange.event), in: s)
        }
        for event in events { log(event) }
    }

    public func find(_ pattern: String, limit: Int) throws -> [FindHit] {
        let find = FindPattern(pattern)
        let condition = find.glob == nil ? "p.\(find.column) ILIKE $1" : "p.\(find.column) ~ $1"
        let argument = find.glob.map(Self.globRegex) ?? find.like
        return try read { s in
            // The limit counts paths, not (path, snapshot) pairs: every snapshot of a path shown is listed.
            try s.query("""
                WITH hit AS (
                  SELECT p.id, p.path FROM paths p
                  WHERE \(condition) AND EXISTS (SELECT 1 FROM versions v WHERE v.path_id = p.id)
                  ORDER BY p.path LIMIT $2)
                SELECT hit.path AS abs, v.type, v.size, v.mtime_s, v.mtime_nsec, v.file_id, s.id AS snapshot, s.time, s.root
                FROM hit JOIN versions v ON v.path_id = hit.id
                JOIN snapshots s ON s.root = v.root AND s.seq BETWEEN v.first_seq AND v.last_seq
                ORDER BY hit.path, s.seq
                """, [argument, limit]).map { row in
                FindHit(snapshotID: try row.get("snapshot"), snapshotTime: Date(timeIntervalSince1970: try row.get("time")),
                        root: try row.get("root"), path: try row.get("abs"),
                        type: EntryType(rawValue: try row.get("type")) ?? .file, size: UInt64(max(0, try row.get("size", as: Int64.self))),
                        mtime: FileTime(seconds: try row.get("mtime_s"), nanoseconds: Int32(truncatingIfNeeded: try row.get("mtime_nsec", as: Int64.self))),
                        fileID: (try row.get("file_id", as: String?.self)).flatMap(ContentID.init))
            }
        }
    }

    /// A glob (`*`, `?`, `[…]`, `[^…]`; case-sensitive, as SQLite's GLOB) as an anchored
    /// POSIX regular expression.
    static func globRegex(_ glob: String) -> String {
        var regex = "^"
        var characters = Array(glob)[...]
        while let character = characters.popFirst() {
            switch character {
            case "*": regex += ".*"
            case "?": regex += "."
            case "[":
                // A class runs to the next "]" (one right after "[" or "[^" belongs to it).
                var body = ""
                var rest = characters
                if rest.first == "^" { body.append("^"); rest = rest.dropFirst() }
                if rest.first == "]" { body += "\\]"; rest = rest.dropFirst() }
                guard let close = rest.firstIndex(of: "]") else { regex += "\\["; continue }
                for member in rest[..<close] { body += member == "\\" ? "\\\\" : String(member) }
                regex += "[\(body)]"
                characters = rest[(close + 1)...]
            default:
                regex += "\\.^$|()+{}\\".contains(character) ? "\\\(character)" : String(character)
            }
        }
        return regex + "$"
    }

    public func referencedFileIDs() throws -> Set<ContentID> {
        try read(consistent: true) { s in
            var ids = Set(try s.query("SELECT DISTINCT file_id FROM versions WHERE file_id IS NOT NULL")
                .compactMap { ContentID(try $0.get(0, as: String.self)) })
            for row in try s.query("SELECT id FROM snapshots WHERE NOT external") {
                if let content = ContentID(try row.get(0, as: String.self)) { ids.insert(content) }
            }
            return ids
        }
    }

    static func join(_ root: String, _ relative: String) -> String {
        root == "/" ? "/" + relative : root + "/" + relative
    }
}
