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

    public func versions(of snapshot: SnapshotRecord, under: String?, after: String?, limit: Int) throws -> [SnapshotVersion] {
        try read { s in try Self.versionPage(s, root: snapshot.root, seq: snapshot.seq, under: under, after: after, limit: limit) }
    }

    /// Up to `limit` versions of the root's snapshot `seq`, in path order after `after`.
    static func versionPage(_ s: PGSession, root: String, seq: Int64?, under: String? = nil, after: String?,
                            limit: Int) throws -> [SnapshotVersion] {
        guard let seq else { return [] }
        let cut = join(root, "").utf8.count
        let bounds = Self.pageBounds(root: root, under: under, after: after)
        var versions: [SnapshotVersion] = []
        for row in try s.query("""
            SELECT v.last_seq, v.id, v.path_id, p.path, \(entryColumns)
            FROM paths p JOIN versions v ON v.path_id = p.id
            WHERE p.path \(bounds.inclusive ? ">=" : ">") $1 AND p.path < $2 AND (p.path = $3 OR p.path > $4)
              AND v.root = $5 AND v.last_seq >= $6 AND v.first_seq <= $6
            ORDER BY p.path LIMIT $7
            """, [bounds.lower, bounds.upper, bounds.only, bounds.inside, root, seq, Int64(limit)]) {
            let entry = try Self.entry(row, at: 4, path: SafePath.dropping(cut, from: try row.get(3)))
            versions.append(.init(id: try row.get(1), pathID: try row.get(2), entry: entry,
                                  open: (try row.get(0, as: Int64.self)) == openSeq))
        }
        return versions
    }

    public func snapshotGeneration() throws -> Int64 {
        try read { s in try Self.generation(s) }
    }

    /// Snapshots ever numbered in the library (the sequence's last value).
    static func generation(_ s: PGSession) throws -> Int64 {
        try s.query("SELECT n FROM snapshot_generation").first?.get(0) ?? 0
    }

    public func addSnapshot<Source: SnapshotEntrySource>(_ record: SnapshotRecord, entries source: Source, basis: SnapshotBasis?,
                                                         events: [Event]) throws -> SnapshotRecord {
        let stored = try write { s -> SnapshotRecord in
            let latestSeq = try s.query("SELECT MAX(seq) FROM snapshots WHERE root = $1", [record.root]).first?.get(0, as: Int64?.self)
            var merge = VersionMerge(source: source, basis: basis, latestSeq: latestSeq, generation: try Self.generation(s)) { after, limit in
                try Self.versionPage(s, root: record.root, seq: latestSeq, after: after, limit: limit)
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
            // Written 10,000 new versions at a time.
            var finished = false
            while !finished {
                var changed: [(entry: SnapshotEntry, absolute: String, pathID: Int64?)] = []
                while changed.count < 10_000 {
                    guard let (entry, known) = try merge.next() else { finished = true; break }
                    changed.append((entry, Self.join(record.root, entry.path), known))
                }
                try Self.insertVersions(changed, of: saved, in: s)
                if let latestSeq {
                    for (ids, seq) in [(merge.closing, latestSeq), (merge.reopening, Self.openSeq)] where !ids.isEmpty {
                        try s.send("UPDATE versions SET last_seq = $1 WHERE id = ANY($2)", [seq, ids])
                    }
                }
                merge.closing.removeAll(keepingCapacity: true)
                merge.reopening.removeAll(keepingCapacity: true)
            }
            try Self.apply(events.map(CatalogChange.event), in: s)
            return saved
        }
        for event in events { log(event) }
        return stored
    }

    /// Records new versions of `snapshot`, finding or adding their paths in one statement.
    private static func insertVersions(_ batch: [(entry: SnapshotEntry, absolute: String, pathID: Int64?)],
                                       of snapshot: SnapshotRecord, in s: PGSession) throws {
        guard !batch.isEmpty else { return }
        // Keyed by bytes: Swift's String equality would merge NFC and NFD spellings of a name.
        var pathIDs: [PathKey: Int64] = [:]
        var seen = Set<PathKey>()
        let unknown = batch.filter { $0.pathID == nil && seen.insert(PathKey($0.absolute)).inserted }
        if !unknown.isEmpty {
            // Returning every row's ID, new or not: looking paths up by `= ANY` lets the planner
            // pick the trigram index, which took seconds for a thousand paths.
            for row in try s.query("""
                INSERT INTO paths (path, name) SELECT * FROM unnest($1::TEXT[], $2::TEXT[])
                ON CONFLICT (path) DO UPDATE SET name = EXCLUDED.name RETURNING path, id
                """, [unknown.map(\.absolute), unknown.map(\.entry.name)]) {
                pathIDs[PathKey(try row.get(0))] = try row.get(1)
            }
        }
        let e = batch.map(\.entry)
        try s.send("""
            INSERT INTO versions (root, path_id, first_seq, last_seq, type, size, mode, mtime_s, mtime_nsec, inode,
                                  file_id, target, uid, gid, extras)
            SELECT $1, p, $2, $3, t, sz, m, ms, mn, i, NULLIF(f, ''), NULLIF(tg, E'\\x01'), NULLIF(u, -1), NULLIF(g, -1), NULLIF(x, E'\\x01')
            FROM unnest($4::BIGINT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[],
                        $11::TEXT[], $12::TEXT[], $13::BIGINT[], $14::BIGINT[], $15::TEXT[])
              AS v(p, t, sz, m, ms, mn, i, f, tg, u, g, x)
            """, [snapshot.root, snapshot.seq, openSeq,
                  try batch.map { item -> Int64 in
                      guard let id = item.pathID ?? pathIDs[PathKey(item.absolute)] else {
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

    static func join(_ root: String, _ relative: String) -> String {
        root == "/" ? "/" + relative : root + "/" + relative
    }
}
