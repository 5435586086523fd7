import Foundation
import NIOCore
import PostgresNIO
import TroveCore
import TroveStorage

/// Records from rows (the same columns as the SQLite catalog's).
extension PostgresCatalog {
    static func date(_ value: Double?) -> Date? { value.map(Date.init(timeIntervalSince1970:)) }

    static func store(_ row: PostgresRandomAccessRow) throws -> StoreRecord {
        let config = try row.get("config", as: String.self)
        return StoreRecord(
            id: try row.get("id"), label: try row.get("label"),
            kind: StoreKind(rawValue: try row.get("kind")) ?? .local,
            location: try row.get("location"), copies: try row.get("copies"), filesystemUUID: try row.get("filesystem_uuid"),
            created: date(try row.get("created")) ?? Date(timeIntervalSince1970: 0),
            trust: TrustState(rawValue: try row.get("trust")) ?? .downgraded, noNewCopies: try row.get("no_new_copies"),
            lastSeen: date(try row.get("last_seen")), capacity: try row.get("capacity"), free: try row.get("free"),
            disk: try row.get("disk"), diskName: try row.get("disk_name"), declaredDisk: try row.get("declared_disk"),
            readOnly: try row.get("read_only"),
            config: (try? JSONCoding.decoder.decode(StoreConfig.self, from: Data(config.utf8))) ?? StoreConfig(),
            encrypted: try row.get("encrypted"), machine: try row.get("machine"), removable: try row.get("removable"),
            shareDomains: StoreRecord.shareDomains(column: try row.get("grid_domains")))
    }

    static func file(_ row: PostgresRandomAccessRow) throws -> FileRecord? {
        guard let id = ContentID(try row.get("id", as: String.self)),
              let leaves = LeafHash.unpack([UInt8](try row.get("leaf_hashes", as: Data.self))) else { return nil }
        return FileRecord(id: id, size: UInt64(max(0, try row.get("size", as: Int64.self))), leafHashes: leaves,
                          firstSeen: date(try row.get("first_seen")) ?? Date(timeIntervalSince1970: 0))
    }

    static func copy(_ row: PostgresRandomAccessRow) throws -> CopyRecord? {
        guard let id = ContentID(try row.get("file_id", as: String.self)) else { return nil }
        return CopyRecord(fileID: id, storeID: try row.get("store_id"), copies: try row.get("copies"),
                          mtime: date(try row.get("mtime")) ?? Date(timeIntervalSince1970: 0), verified: date(try row.get("verified")))
    }

    static func importRecord(_ row: PostgresRandomAccessRow) throws -> ImportRecord? {
        guard let id = ContentID(try row.get("file_id", as: String.self)) else { return nil }
        return ImportRecord(fileID: id, path: try row.get("path"), name: try row.get("name"),
                            mtime: date(try row.get("mtime")) ?? Date(timeIntervalSince1970: 0),
                            time: date(try row.get("time")) ?? Date(timeIntervalSince1970: 0))
    }

    static func event(_ row: PostgresRandomAccessRow) throws -> Event {
        let text = try row.get("details", as: String.self)
        let details = (try? JSONCoding.decoder.decode([String: DetailValue].self, from: Data(text.utf8))) ?? [:]
        return Event(seq: try row.get("seq"), time: date(try row.get("time")) ?? Date(timeIntervalSince1970: 0),
                     kind: EventKind(rawValue: try row.get("kind")) ?? .consistencyFailure, storeID: try row.get("store_id"),
                     fileID: (try row.get("file_id", as: String?.self)).flatMap(ContentID.init), details: details)
    }

    static func snapshot(_ row: PostgresRandomAccessRow) throws -> SnapshotRecord {
        SnapshotRecord(id: try row.get("id"), seq: try row.get("seq"), root: try row.get("root"),
                       time: Date(timeIntervalSince1970: try row.get("time")), tag: try row.get("tag"),
                       partial: try row.get("partial"), external: try row.get("external"), source: try row.get("source"),
                       entries: try row.get("entries"), bytes: UInt64(max(0, try row.get("bytes", as: Int64.self))),
                       rootEntry: try row.get("root_entry"))
    }

    /// The columns `entry(_:at:path:)` reads, in order.
    static let entryColumns = "v.type, v.size, v.mode, v.mtime_s, v.mtime_nsec, v.inode, v.file_id, v.target, v.uid, v.gid, v.extras"

    /// An entry from `entryColumns` starting at column `start`.
    static func entry(_ row: PostgresRandomAccessRow, at start: Int, path: String) throws -> SnapshotEntry {
        let fileID = try row.get(start + 6, as: String?.self)
        let uid = try row.get(start + 8, as: Int64?.self)
        let gid = try row.get(start + 9, as: Int64?.self)
        var entry = SnapshotEntry(
            path: path, type: EntryType(rawValue: try row.get(start)) ?? .file,
            size: UInt64(max(0, try row.get(start + 1, as: Int64.self))),
            mode: UInt32(truncatingIfNeeded: try row.get(start + 2, as: Int64.self)),
            mtime: FileTime(seconds: try row.get(start + 3), nanoseconds: Int32(truncatingIfNeeded: try row.get(start + 4, as: Int64.self))),
            inode: UInt64(bitPattern: try row.get(start + 5, as: Int64.self)), fileID: fileID.flatMap(ContentID.init),
            target: try row.get(start + 7), uid: uid.map { UInt32(truncatingIfNeeded: $0) },
            gid: gid.map { UInt32(truncatingIfNeeded: $0) })
        if let extras = try row.get(start + 10, as: String?.self) { try entry.setExtras(Array(extras.utf8)) }
        return entry
    }
}

/// Changes as statements. Additions of files, imports, copies and events (an import's
/// thousands, interleaved file by file) go as one statement per kind over arrays — files first,
/// so that what refers to them finds them; each kind keeps its order — and every statement is
/// sent without waiting for the one before: a batch costs a few round trips, not one per row.
extension PostgresCatalog {
    static func apply(_ changes: [CatalogChange], in s: PGSession) throws {
        for run in CatalogChange.runs(changes) {
            if run.first?.additionRank == nil { try applyOne(run.first!, in: s) } else { try applyRun(run, in: s) }
        }
    }

    static func applyRun(_ run: ArraySlice<CatalogChange>, in s: PGSession) throws {
        switch run.first! {
        case .insertFile:
            let files = run.compactMap { if case .insertFile(let f) = $0 { f } else { nil } }
            try s.send("""
                INSERT INTO files (id, size, leaf_hashes, first_seen)
                SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BYTEA[], $4::FLOAT8[]) ON CONFLICT (id) DO NOTHING
                """, [files.map(\.id.description), files.map { Int64($0.size) },
                      files.map { ByteBuffer(bytes: LeafHash.pack($0.leafHashes)) }, files.map(\.firstSeen.timeIntervalSince1970)])
        case .addImport:
            let imports = run.compactMap { if case .addImport(let i) = $0 { i } else { nil } }
            try s.send("""
                INSERT INTO imports (file_id, path, name, mtime, time)
                SELECT a, b, c, d, e FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::FLOAT8[], $5::FLOAT8[])
                  WITH ORDINALITY AS t(a, b, c, d, e, n) ORDER BY n
                """,
                [imports.map(\.fileID.description), imports.map(\.path), imports.map(\.name),
                 imports.map(\.mtime.timeIntervalSince1970), imports.map(\.time.timeIntervalSince1970)])
        case .saveCopy:
            // A later change of the same copy in the run wins, as applying them one by one would.
            var latest: [String: CopyRecord] = [:]
            var order: [String] = []
            for case .saveCopy(let c) in run {
                let key = c.fileID.description + "@" + c.storeID
                if latest.updateValue(c, forKey: key) == nil { order.append(key) }
            }
            let copies = order.map { latest[$0]! }
            try s.send("""
                INSERT INTO copies (file_id, store_id, copies, mtime, verified)
                SELECT a, b, c, d, NULLIF(e, 'NaN') FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::FLOAT8[], $5::FLOAT8[]) AS t(a, b, c, d, e)
                ON CONFLICT (file_id, store_id) DO UPDATE SET copies = excluded.copies, mtime = excluded.mtime, verified = excluded.verified
                """, [copies.map(\.fileID.description), copies.map(\.storeID), copies.map { Int64($0.copies) },
                      copies.map(\.mtime.timeIntervalSince1970), copies.map { $0.verified?.timeIntervalSince1970 ?? .nan }])
        case .event:
            let events = run.compactMap { if case .event(let e) = $0 { e } else { nil } }
            // An event keeps its sequence number when it has one (a catalog rebuilt from the stores).
            try s.send("""
                INSERT INTO events (seq, time, kind, store_id, file_id, details)
                SELECT COALESCE(NULLIF(a, 0), nextval('events_seq_seq')), b, c, NULLIF(d, ''), NULLIF(e, ''), f
                FROM unnest($1::BIGINT[], $2::FLOAT8[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[]) WITH ORDINALITY AS t(a, b, c, d, e, f, n)
                ORDER BY n
                """, [events.map { $0.seq ?? 0 }, events.map(\.time.timeIntervalSince1970), events.map(\.kind.rawValue),
                      events.map { $0.storeID ?? "" }, events.map { $0.fileID?.description ?? "" },
                      try events.map { String(decoding: try JSONCoding.encoder.encode($0.details), as: UTF8.self) }])
            if events.contains(where: { ($0.seq ?? 0) > 0 }) {
                try s.send("SELECT setval('events_seq_seq', GREATEST((SELECT MAX(seq) FROM events), 1))")
            }
        default:
            for change in run { try applyOne(change, in: s) }
        }
    }

    /// Records stuck files; the last record of a file wins, as SQLite's INSERT OR REPLACE.
    static func insertStuck(_ all: [StuckFile], in s: PGSession) throws {
        var seen = Set<ContentID>()
        let stuck = all.reversed().filter { seen.insert($0.fileID).inserted }.reversed()
        guard !stuck.isEmpty else { return }
        try s.send("""
            INSERT INTO stuck_files (file_id, kind, store_label, detail)
            SELECT a, b, NULLIF(c, ''), NULLIF(d, '') FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS t(a, b, c, d)
            ON CONFLICT (file_id) DO UPDATE SET kind = excluded.kind, store_label = excluded.store_label, detail = excluded.detail
            """, [stuck.map(\.fileID.description), stuck.map(\.kind.rawValue), stuck.map { $0.storeLabel ?? "" },
                  stuck.map { $0.detail ?? "" }])
    }

    static let storeUpsert = StoreRecord.upsertSQL { "$\($0)" }

    static func applyOne(_ change: CatalogChange, in s: PGSession) throws {
        switch change {
        case .saveStore(let r):
            try s.send(storeUpsert, [r.id, r.label, r.kind.rawValue, r.location, r.copies, r.filesystemUUID,
                      r.created.timeIntervalSince1970, r.trust.rawValue, r.noNewCopies,
                      r.lastSeen?.timeIntervalSince1970, r.capacity.map { Int64($0) }, r.free.map { Int64($0) },
                      r.disk, r.diskName, r.declaredDisk, r.readOnly,
                      String(decoding: try JSONCoding.encoder.encode(r.config), as: UTF8.self), r.encrypted, r.machine, r.removable,
                      r.shareDomainsColumn])
        case .removeCopy(let file, let store):
            try s.send("DELETE FROM copies WHERE file_id = $1 AND store_id = $2", [file.description, store])
        case .removeCopies(let store):
            try s.send("DELETE FROM copies WHERE store_id = $1", [store])
        case .setCopyWeights(let store, let copies):
            try s.send("UPDATE copies SET copies = $1 WHERE store_id = $2 AND copies > 0", [copies, store])
        case .capCopyWeights(let store, let copies):
            try s.send("UPDATE copies SET copies = $1 WHERE store_id = $2 AND copies > $1", [copies, store])
        case .replaceStuck(let all):
            try s.send("DELETE FROM stuck_files")
            try insertStuck(all, in: s)
        case .removeFile(let id):
            try s.send("DELETE FROM stuck_files WHERE file_id = $1", [id.description])
            try s.send("DELETE FROM copies WHERE file_id = $1", [id.description])
            try s.send("DELETE FROM files WHERE id = $1", [id.description])
        case .setSetting(let key, let value):
            try s.send("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [key, value])
        case .removeSetting(let key):
            try s.send("DELETE FROM settings WHERE key = $1", [key])
        case .trimJournal(let through):
            try s.send("DELETE FROM journal WHERE seq <= $1", [through])
        case .dropJournal(let keys, let kind):
            if let kind {
                try s.send("DELETE FROM journal WHERE key = ANY($1) AND kind = $2", [keys, kind])
            } else {
                try s.send("DELETE FROM journal WHERE key = ANY($1)", [keys])
            }
        case .insertFile, .addImport, .saveCopy, .event:
            try applyRun([change][...], in: s)
        }
    }
}
