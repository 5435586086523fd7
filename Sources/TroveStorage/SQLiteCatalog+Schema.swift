import Foundation
import GRDB
import TroveCore

extension SQLiteCatalog {
    /// Schema migrations, in order. Never edit a released migration; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE settings (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
                CREATE TABLE stores (
                  id TEXT PRIMARY KEY NOT NULL,
                  label TEXT NOT NULL UNIQUE,
                  kind TEXT NOT NULL,
                  location TEXT NOT NULL,
                  copies INTEGER NOT NULL,
                  filesystem_uuid TEXT,
                  created REAL NOT NULL,
                  trust TEXT NOT NULL,
                  no_new_copies INTEGER NOT NULL DEFAULT 0,
                  last_seen REAL,
                  capacity INTEGER,
                  free INTEGER
                );
                CREATE TABLE files (
                  id TEXT PRIMARY KEY NOT NULL,
                  size INTEGER NOT NULL,
                  leaf_hashes BLOB NOT NULL,
                  first_seen REAL NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE imports (
                  file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
                  path TEXT NOT NULL,
                  name TEXT NOT NULL,
                  mtime REAL NOT NULL,
                  time REAL NOT NULL
                );
                CREATE INDEX imports_by_file ON imports(file_id);
                CREATE INDEX imports_by_path ON imports(path);
                CREATE TABLE copies (
                  file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
                  store_id TEXT NOT NULL REFERENCES stores(id) ON DELETE CASCADE,
                  copies INTEGER NOT NULL,
                  mtime REAL NOT NULL,
                  verified REAL,
                  PRIMARY KEY (file_id, store_id)
                ) WITHOUT ROWID;
                CREATE INDEX copies_by_store ON copies(store_id, verified);
                CREATE TABLE events (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT,
                  time REAL NOT NULL,
                  kind TEXT NOT NULL,
                  store_id TEXT,
                  file_id TEXT,
                  details TEXT NOT NULL DEFAULT '{}'
                );
                CREATE INDEX events_by_kind ON events(kind, seq);
                -- The event log is append-only.
                CREATE TRIGGER events_no_update BEFORE UPDATE ON events
                  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                CREATE TRIGGER events_no_delete BEFORE DELETE ON events
                  BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
                """)
        }
        migrator.registerMigration("v2-snapshots") { db in
            try db.execute(sql: """
                CREATE TABLE tracked (
                  path TEXT PRIMARY KEY NOT NULL,
                  every REAL,
                  keep_hourly INTEGER NOT NULL, keep_daily INTEGER NOT NULL,
                  keep_weekly INTEGER NOT NULL, keep_monthly INTEGER NOT NULL,
                  created REAL NOT NULL
                );
                CREATE TABLE snapshots (
                  seq INTEGER PRIMARY KEY AUTOINCREMENT,
                  id TEXT NOT NULL UNIQUE,
                  root TEXT NOT NULL,
                  time REAL NOT NULL,
                  tag TEXT,
                  partial INTEGER NOT NULL,
                  external INTEGER NOT NULL,
                  source TEXT,
                  entries INTEGER NOT NULL,
                  bytes INTEGER NOT NULL
                );
                CREATE INDEX snapshots_by_root ON snapshots(root, seq);
                CREATE TABLE paths (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
                CREATE VIRTUAL TABLE path_index USING fts5(path, name, content='paths', content_rowid='id', tokenize='trigram');
                CREATE TABLE versions (
                  id INTEGER PRIMARY KEY,
                  root TEXT NOT NULL,
                  path_id INTEGER NOT NULL REFERENCES paths(id),
                  first_seq INTEGER NOT NULL,
                  last_seq INTEGER NOT NULL,
                  type TEXT NOT NULL,
                  size INTEGER NOT NULL,
                  mode INTEGER NOT NULL,
                  mtime_ns INTEGER NOT NULL,
                  inode INTEGER NOT NULL,
                  file_id TEXT,
                  target TEXT
                );
                CREATE INDEX versions_by_root ON versions(root, last_seq);
                CREATE INDEX versions_by_path ON versions(path_id);
                CREATE INDEX versions_by_file ON versions(file_id);
                """)
        }
        migrator.registerMigration("v3-durability") { db in
            // Derived totals kept by triggers inside every transaction, so `status` on a million
            // files reads an index instead of joining every copy (`check` verifies them).
            try db.execute(sql: """
                ALTER TABLE files ADD COLUMN durability INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE stores ADD COLUMN held_files INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE stores ADD COLUMN held_bytes INTEGER NOT NULL DEFAULT 0;
                UPDATE files SET durability = \(durabilityV3("files.id"));
                UPDATE stores SET held_files = (SELECT COUNT(*) FROM copies c WHERE c.store_id = stores.id),
                  held_bytes = (SELECT COALESCE(SUM(f.size), 0) FROM copies c JOIN files f ON f.id = c.file_id
                                WHERE c.store_id = stores.id);
                CREATE INDEX files_by_durability ON files(durability, size);
                \(durabilityTriggers(durabilityV3))
                """)
        }
        migrator.registerMigration("v4-open-versions") { db in
            // Versions in their root's latest snapshot stay open (last_seq = Int64.max), so a new
            // snapshot touches only the rows that changed instead of extending every one.
            try db.execute(sql: """
                UPDATE versions SET last_seq = \(Int64.max)
                WHERE last_seq = (SELECT MAX(seq) FROM snapshots s WHERE s.root = versions.root)
                """)
        }
        migrator.registerMigration("v5-entry-metadata") { db in
            // Seconds and nanoseconds apart (a time after 2262 does not fit 64-bit nanoseconds),
            // owner and group, and the rarer metadata (xattrs, hard links, devices, holes) as one
            // JSON object with the manifest's keys.
            try db.execute(sql: """
                ALTER TABLE versions ADD COLUMN mtime_s INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE versions ADD COLUMN uid INTEGER;
                ALTER TABLE versions ADD COLUMN gid INTEGER;
                ALTER TABLE versions ADD COLUMN extras TEXT;
                UPDATE versions SET mtime_s = (mtime_ns - ((mtime_ns % 1000000000 + 1000000000) % 1000000000)) / 1000000000,
                  mtime_ns = (mtime_ns % 1000000000 + 1000000000) % 1000000000;
                ALTER TABLE versions RENAME COLUMN mtime_ns TO mtime_nsec;
                """)
        }
        migrator.registerMigration("v6-failure-domains") { db in
            // Stores record the disk they live on; copies on one disk count once (the larger
            // weight). Heal records why files stay below target.
            try db.execute(sql: """
                ALTER TABLE stores ADD COLUMN disk TEXT;
                ALTER TABLE stores ADD COLUMN disk_name TEXT;
                ALTER TABLE stores ADD COLUMN declared_disk TEXT;
                ALTER TABLE stores ADD COLUMN read_only INTEGER NOT NULL DEFAULT 0;
                DROP TRIGGER copies_inserted;
                DROP TRIGGER copies_deleted;
                DROP TRIGGER copies_weight_changed;
                DROP TRIGGER store_trust_changed;
                \(durabilityTriggers(durabilityV6))
                CREATE TRIGGER store_domain_changed AFTER UPDATE OF disk, declared_disk ON stores
                WHEN COALESCE(OLD.disk, '') != COALESCE(NEW.disk, '') OR COALESCE(OLD.declared_disk, '') != COALESCE(NEW.declared_disk, '')
                BEGIN
                  UPDATE files SET durability = \(durabilityV6("files.id"))
                    WHERE id IN (SELECT file_id FROM copies WHERE store_id = NEW.id);
                END;
                UPDATE files SET durability = \(durabilityV6("files.id"));
                CREATE TABLE stuck_files (
                  file_id TEXT PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
                  kind TEXT NOT NULL,
                  store_label TEXT,
                  detail TEXT
                );
                """)
        }
        migrator.registerMigration("v7-snapshot-root") { db in
            // The snapshotted folder's own mode, times, owner and attributes (a manifest entry line).
            try db.execute(sql: "ALTER TABLE snapshots ADD COLUMN root_entry TEXT")
        }
        migrator.registerMigration("v8-store-config") { db in
            // How to reach each store (kind-specific settings, never secrets) and whether it is encrypted.
            try db.execute(sql: """
                ALTER TABLE stores ADD COLUMN config TEXT NOT NULL DEFAULT '{}';
                ALTER TABLE stores ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v9-journal") { db in
            // What changed since the library's records were last written to the stores.
            try db.execute(sql: journalMigration)
        }
        migrator.registerMigration("v10-store-machine") { db in
            // The machine each store was last seen on, and whether its drive is removable.
            try db.execute(sql: "ALTER TABLE stores ADD COLUMN machine TEXT; ALTER TABLE stores ADD COLUMN removable INTEGER")
        }
        migrator.registerMigration("v11-grids") { db in
            // Grids: a whole copy on a disk that holds one of a grid copy's shares adds nothing.
            // No grid exists before this version, so no durability changes.
            try db.execute(sql: """
                ALTER TABLE stores ADD COLUMN grid_domains TEXT;
                DROP TRIGGER copies_inserted;
                DROP TRIGGER copies_deleted;
                DROP TRIGGER copies_weight_changed;
                DROP TRIGGER store_trust_changed;
                DROP TRIGGER store_domain_changed;
                \(durabilityTriggers(durabilityOf))
                CREATE TRIGGER store_domain_changed AFTER UPDATE OF disk, declared_disk, grid_domains ON stores
                WHEN COALESCE(OLD.disk, '') != COALESCE(NEW.disk, '') OR COALESCE(OLD.declared_disk, '') != COALESCE(NEW.declared_disk, '')
                  OR COALESCE(OLD.grid_domains, '') != COALESCE(NEW.grid_domains, '')
                BEGIN
                  UPDATE files SET durability = \(durabilityOf("files.id"))
                    WHERE id IN (SELECT file_id FROM copies WHERE store_id = NEW.id);
                END;
                """)
        }
        migrator.registerMigration("v12-packs") { db in
            // Which object of a store lives in which pack (docs/packs.md). IDs are kept as their
            // 32 bytes: one row per small object per store, so the rows stay small.
            try db.execute(sql: """
                CREATE TABLE packs (store_id TEXT NOT NULL, pack BLOB NOT NULL, size INTEGER NOT NULL,
                                    PRIMARY KEY (store_id, pack)) WITHOUT ROWID;
                CREATE TABLE packed (store_id TEXT NOT NULL, object BLOB NOT NULL, pack BLOB NOT NULL,
                                     start INTEGER NOT NULL, length INTEGER NOT NULL,
                                     PRIMARY KEY (store_id, object)) WITHOUT ROWID;
                CREATE INDEX packed_by_pack ON packed(store_id, pack, start);
                """)
        }
        migrator.registerMigration("v13-heal-order") { db in
            // Heal's order (most fragile, then largest first) read straight off the index: a
            // pass over a million files streams instead of sorting them all in memory.
            try db.execute(sql: """
                DROP INDEX files_by_durability;
                CREATE INDEX files_by_durability ON files(durability, size DESC);
                """)
        }
        return migrator
    }

    /// The triggers that keep `files.durability` and the stores' held totals, with `durability`
    /// giving the SQL for one file's durability.
    static func durabilityTriggers(_ durability: (String) -> String) -> String {
        """
        CREATE TRIGGER copies_inserted AFTER INSERT ON copies BEGIN
          UPDATE files SET durability = \(durability("NEW.file_id")) WHERE id = NEW.file_id;
          UPDATE stores SET held_files = held_files + 1,
            held_bytes = held_bytes + COALESCE((SELECT size FROM files WHERE id = NEW.file_id), 0)
            WHERE id = NEW.store_id;
        END;
        CREATE TRIGGER copies_deleted AFTER DELETE ON copies BEGIN
          UPDATE files SET durability = \(durability("OLD.file_id")) WHERE id = OLD.file_id;
          UPDATE stores SET held_files = held_files - 1,
            held_bytes = held_bytes - COALESCE((SELECT size FROM files WHERE id = OLD.file_id), 0)
            WHERE id = OLD.store_id;
        END;
        CREATE TRIGGER copies_weight_changed AFTER UPDATE OF copies ON copies BEGIN
          UPDATE files SET durability = \(durability("NEW.file_id")) WHERE id = NEW.file_id;
        END;
        CREATE TRIGGER store_trust_changed AFTER UPDATE OF trust ON stores WHEN OLD.trust != NEW.trust BEGIN
          UPDATE files SET durability = \(durability("files.id"))
            WHERE id IN (SELECT file_id FROM copies WHERE store_id = NEW.id);
        END;
        """
    }

    /// Schema v3's durability (every trusted copy counted): kept so that migration never changes.
    static func durabilityV3(_ file: String) -> String {
        "(SELECT COALESCE(SUM(c.copies), 0) FROM copies c JOIN stores s ON s.id = c.store_id WHERE c.file_id = \(file) AND s.trust = 'trusted')"
    }

    /// A store's failure domain in SQL: the same rule as `StoreRecord.domain`.
    static let domainOf = "COALESCE('declared:' || s.declared_disk, s.disk, 'store:' || s.id)"

    /// Schema v6 to v10's durability (before grids): kept so that migration never changes.
    static func durabilityV6(_ file: String) -> String {
        """
        (SELECT COALESCE(SUM(w), 0) FROM (SELECT MAX(c.copies) AS w FROM copies c JOIN stores s ON s.id = c.store_id
         WHERE c.file_id = \(file) AND s.trust = 'trusted' GROUP BY \(domainOf)))
        """
    }

    /// SQL for the durability of a file, as `durability(of:)` in TroveCore: counted copies on
    /// trusted stores, the largest weight of each failure domain, leaving out whole copies on a
    /// domain that holds a share of a counted grid copy of the file.
    static func durabilityOf(_ file: String) -> String {
        """
        (SELECT COALESCE(SUM(w), 0) FROM (SELECT MAX(c.copies) AS w FROM copies c JOIN stores s ON s.id = c.store_id
         WHERE c.file_id = \(file) AND s.trust = 'trusted'
           AND (s.grid_domains IS NOT NULL OR NOT EXISTS (
             SELECT 1 FROM copies gc JOIN stores gs ON gs.id = gc.store_id
             WHERE gc.file_id = \(file) AND gc.copies > 0 AND gs.trust = 'trusted' AND gs.grid_domains IS NOT NULL
               AND instr(gs.grid_domains, '|' || \(domainOf) || '|') > 0))
         GROUP BY \(domainOf)))
        """
    }

    /// The schema version this build knows (the last migration's name).
    public static let schemaVersion = "v13-heal-order"

    /// Applies one change with cached (prepared once) statements: imports apply thousands.
    static func apply(_ change: CatalogChange, in db: Database) throws {
        switch change {
        case .saveStore(let s):
            try db.cachedStatement(sql: """
                INSERT INTO stores (id, label, kind, location, copies, filesystem_uuid, created, trust,
                                    no_new_copies, last_seen, capacity, free, disk, disk_name, declared_disk, read_only,
                                    config, encrypted, machine, removable, grid_domains)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET label = excluded.label, kind = excluded.kind,
                  location = excluded.location, copies = excluded.copies, filesystem_uuid = excluded.filesystem_uuid,
                  trust = excluded.trust, no_new_copies = excluded.no_new_copies, last_seen = excluded.last_seen,
                  capacity = excluded.capacity, free = excluded.free, disk = excluded.disk, disk_name = excluded.disk_name,
                  declared_disk = excluded.declared_disk, read_only = excluded.read_only,
                  config = excluded.config, encrypted = excluded.encrypted, machine = excluded.machine,
                  removable = excluded.removable, grid_domains = excluded.grid_domains
                """).execute(arguments: [s.id, s.label, s.kind.rawValue, s.location, s.copies, s.filesystemUUID,
                                 s.created.timeIntervalSince1970, s.trust.rawValue, s.noNewCopies,
                                 s.lastSeen?.timeIntervalSince1970, s.capacity, s.free, s.disk, s.diskName,
                                 s.declaredDisk, s.readOnly,
                                 String(decoding: try JSONCoding.encoder.encode(s.config), as: UTF8.self), s.encrypted,
                                 s.machine, s.removable, s.shareDomainsColumn])
        case .insertFile(let f):
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO files (id, size, leaf_hashes, first_seen) VALUES (?, ?, ?, ?)").execute(arguments: [f.id.description, Int64(f.size), Data(LeafHash.pack(f.leafHashes)),
                                       f.firstSeen.timeIntervalSince1970])
        case .addImport(let i):
            try db.cachedStatement(sql: "INSERT INTO imports (file_id, path, name, mtime, time) VALUES (?, ?, ?, ?, ?)").execute(arguments: [i.fileID.description, i.path, i.name, i.mtime.timeIntervalSince1970,
                                       i.time.timeIntervalSince1970])
        case .saveCopy(let c):
            try db.cachedStatement(sql: """
                INSERT INTO copies (file_id, store_id, copies, mtime, verified) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(file_id, store_id) DO UPDATE SET copies = excluded.copies, mtime = excluded.mtime,
                  verified = excluded.verified
                """).execute(arguments: [c.fileID.description, c.storeID, c.copies, c.mtime.timeIntervalSince1970,
                                 c.verified?.timeIntervalSince1970])
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
