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
        migrator.registerMigration("v14-path-index-detail-none") { db in
            // `find` asks the trigram index for candidates and tests each path's pattern itself,
            // so the index needs no token positions: without them it is 40% smaller and each new
            // path costs a third less to index (Benchmarks/RESULTS.md, issue 14).
            try db.execute(sql: """
                DROP TABLE path_index;
                CREATE VIRTUAL TABLE path_index USING fts5(path, name, content='paths', content_rowid='id', tokenize='trigram',
                                                           detail='none');
                INSERT INTO path_index (path_index) VALUES ('rebuild');
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
    public static let schemaVersion = "v14-path-index-detail-none"
}
