import Foundation
import TroveCore

extension PostgresCatalog {
    /// Schema versions in order, each applied once under a lock (machines may open a new
    /// library at the same moment). Never edit a released one; add another.
    static let migrations: [(name: String, sql: String)] = [("pg1", schemaV1), ("pg2", schemaV2), ("pg3", schemaV3)]

    /// The schema version this build knows (the last migration's name).
    public static let schemaVersion = "pg3"

    /// SQLite's v12: the pack index (docs/packs.md).
    static let schemaV3 = #"""
        CREATE TABLE packs (store_id TEXT COLLATE "C" NOT NULL, pack TEXT COLLATE "C" NOT NULL, size BIGINT NOT NULL,
                            PRIMARY KEY (store_id, pack));
        CREATE TABLE packed (store_id TEXT COLLATE "C" NOT NULL, object TEXT COLLATE "C" NOT NULL, pack TEXT COLLATE "C" NOT NULL,
                             start BIGINT NOT NULL, length BIGINT NOT NULL, PRIMARY KEY (store_id, object));
        CREATE INDEX packed_by_pack ON packed(store_id, pack, start);
        """#

    /// SQLite's v11: grids. A whole copy on a disk that holds one of a grid copy's shares adds
    /// nothing (`durability(of:)`); a grid's member domains changing recounts its files.
    static let schemaV2 = #"""
        ALTER TABLE stores ADD COLUMN grid_domains TEXT;
        CREATE OR REPLACE FUNCTION trove_durability(f TEXT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
          SELECT COALESCE(SUM(w), 0)::BIGINT FROM (
            SELECT MAX(c.copies) AS w FROM copies c JOIN stores s ON s.id = c.store_id
            WHERE c.file_id = f AND s.trust = 'trusted'
              AND (s.grid_domains IS NOT NULL OR NOT EXISTS (
                SELECT 1 FROM copies gc JOIN stores gs ON gs.id = gc.store_id
                WHERE gc.file_id = f AND gc.copies > 0 AND gs.trust = 'trusted' AND gs.grid_domains IS NOT NULL
                  AND strpos(gs.grid_domains, '|' || COALESCE('declared:' || s.declared_disk, s.disk, 'store:' || s.id) || '|') > 0))
            GROUP BY COALESCE('declared:' || s.declared_disk, s.disk, 'store:' || s.id)) d
        $$;
        CREATE OR REPLACE FUNCTION trove_store_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.trust IS DISTINCT FROM NEW.trust OR COALESCE(OLD.disk, '') <> COALESCE(NEW.disk, '')
             OR COALESCE(OLD.declared_disk, '') <> COALESCE(NEW.declared_disk, '')
             OR COALESCE(OLD.grid_domains, '') <> COALESCE(NEW.grid_domains, '') THEN
            UPDATE files SET durability = trove_durability(files.id)
              WHERE id IN (SELECT file_id FROM copies WHERE store_id = NEW.id);
          END IF;
          RETURN NULL;
        END $$;
        """#

    /// Tables as SQLite's v10 schema, with the same derived totals kept by triggers
    /// (`files.durability`, the stores' held totals) and the same journal rows. Text that is
    /// compared or ordered uses the "C" collation: byte order, as SQLite.
    static let schemaV1 = #"""
        CREATE TABLE settings (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE stores (
          id TEXT COLLATE "C" PRIMARY KEY,
          label TEXT COLLATE "C" NOT NULL UNIQUE,
          kind TEXT NOT NULL,
          location TEXT NOT NULL,
          copies BIGINT NOT NULL,
          filesystem_uuid TEXT,
          created DOUBLE PRECISION NOT NULL,
          trust TEXT NOT NULL,
          no_new_copies BOOLEAN NOT NULL DEFAULT false,
          last_seen DOUBLE PRECISION,
          capacity BIGINT,
          free BIGINT,
          disk TEXT, disk_name TEXT, declared_disk TEXT,
          read_only BOOLEAN NOT NULL DEFAULT false,
          config TEXT NOT NULL DEFAULT '{}',
          encrypted BOOLEAN NOT NULL DEFAULT false,
          machine TEXT,
          removable BOOLEAN,
          held_files BIGINT NOT NULL DEFAULT 0,
          held_bytes BIGINT NOT NULL DEFAULT 0
        );
        CREATE TABLE files (
          id TEXT COLLATE "C" PRIMARY KEY,
          size BIGINT NOT NULL,
          leaf_hashes BYTEA NOT NULL,
          first_seen DOUBLE PRECISION NOT NULL,
          durability BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX files_by_durability ON files (durability, size);
        CREATE TABLE imports (
          id BIGSERIAL PRIMARY KEY,
          file_id TEXT COLLATE "C" NOT NULL REFERENCES files (id) ON DELETE CASCADE,
          path TEXT COLLATE "C" NOT NULL,
          name TEXT NOT NULL,
          mtime DOUBLE PRECISION NOT NULL,
          time DOUBLE PRECISION NOT NULL
        );
        CREATE INDEX imports_by_file ON imports (file_id);
        CREATE INDEX imports_by_path ON imports (path);
        CREATE TABLE copies (
          file_id TEXT COLLATE "C" NOT NULL REFERENCES files (id) ON DELETE CASCADE,
          store_id TEXT COLLATE "C" NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
          copies BIGINT NOT NULL,
          mtime DOUBLE PRECISION NOT NULL,
          verified DOUBLE PRECISION,
          PRIMARY KEY (file_id, store_id)
        );
        CREATE INDEX copies_by_store ON copies (store_id, verified);
        CREATE TABLE events (
          seq BIGSERIAL PRIMARY KEY,
          time DOUBLE PRECISION NOT NULL,
          kind TEXT NOT NULL,
          store_id TEXT,
          file_id TEXT,
          details TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX events_by_kind ON events (kind, seq);
        CREATE TABLE tracked (
          path TEXT COLLATE "C" PRIMARY KEY,
          every DOUBLE PRECISION,
          keep_hourly BIGINT NOT NULL, keep_daily BIGINT NOT NULL,
          keep_weekly BIGINT NOT NULL, keep_monthly BIGINT NOT NULL,
          created DOUBLE PRECISION NOT NULL
        );
        CREATE TABLE snapshots (
          seq BIGSERIAL PRIMARY KEY,
          id TEXT COLLATE "C" NOT NULL UNIQUE,
          root TEXT COLLATE "C" NOT NULL,
          time DOUBLE PRECISION NOT NULL,
          tag TEXT,
          partial BOOLEAN NOT NULL,
          external BOOLEAN NOT NULL,
          source TEXT,
          entries BIGINT NOT NULL,
          bytes BIGINT NOT NULL,
          root_entry TEXT
        );
        CREATE INDEX snapshots_by_root ON snapshots (root, seq);
        -- The highest snapshot number ever given (SQLite's sqlite_sequence), read in the same
        -- snapshot of the catalog as the versions it vouches for.
        CREATE TABLE snapshot_generation (n BIGINT NOT NULL);
        INSERT INTO snapshot_generation VALUES (0);
        CREATE TABLE paths (id BIGSERIAL PRIMARY KEY, path TEXT COLLATE "C" NOT NULL UNIQUE, name TEXT COLLATE "C" NOT NULL);
        CREATE TABLE versions (
          id BIGSERIAL PRIMARY KEY,
          root TEXT COLLATE "C" NOT NULL,
          path_id BIGINT NOT NULL REFERENCES paths (id),
          first_seq BIGINT NOT NULL,
          last_seq BIGINT NOT NULL,
          type TEXT NOT NULL,
          size BIGINT NOT NULL,
          mode BIGINT NOT NULL,
          mtime_s BIGINT NOT NULL,
          mtime_nsec BIGINT NOT NULL,
          inode BIGINT NOT NULL,
          file_id TEXT COLLATE "C",
          target TEXT,
          uid BIGINT, gid BIGINT,
          extras TEXT
        );
        CREATE INDEX versions_by_root ON versions (root, last_seq);
        CREATE INDEX versions_by_path ON versions (path_id);
        CREATE INDEX versions_by_file ON versions (file_id);
        CREATE TABLE stuck_files (
          file_id TEXT COLLATE "C" PRIMARY KEY REFERENCES files (id) ON DELETE CASCADE,
          kind TEXT NOT NULL,
          store_label TEXT,
          detail TEXT
        );
        CREATE TABLE journal (
          seq BIGSERIAL PRIMARY KEY,
          kind TEXT NOT NULL,
          key TEXT NOT NULL,
          store TEXT
        );

        -- A file's durability, as `durability(of:)` in TroveCore: counted copies on trusted
        -- stores, the largest weight of each failure domain (the domain as `StoreRecord.domain`).
        CREATE FUNCTION trove_durability(f TEXT) RETURNS BIGINT LANGUAGE sql STABLE AS $$
          SELECT COALESCE(SUM(w), 0)::BIGINT FROM (
            SELECT MAX(c.copies) AS w FROM copies c JOIN stores s ON s.id = c.store_id
            WHERE c.file_id = f AND s.trust = 'trusted'
            GROUP BY COALESCE('declared:' || s.declared_disk, s.disk, 'store:' || s.id)) d
        $$;

        -- Copies: per statement, over the rows it changed (an import's thousands of rows cost
        -- one update of each store's totals, not one each).
        CREATE FUNCTION trove_copies_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE files SET durability = trove_durability(id) WHERE id IN (SELECT file_id FROM new_rows);
          UPDATE stores s SET held_files = s.held_files + n.files, held_bytes = s.held_bytes + n.bytes
            FROM (SELECT r.store_id, COUNT(*) AS files, COALESCE(SUM(f.size), 0) AS bytes
                  FROM new_rows r LEFT JOIN files f ON f.id = r.file_id GROUP BY r.store_id) n
            WHERE s.id = n.store_id;
          INSERT INTO journal (kind, key, store) SELECT 'copy', file_id, store_id FROM new_rows;
          RETURN NULL;
        END $$;
        CREATE TRIGGER copies_inserted AFTER INSERT ON copies REFERENCING NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_copies_inserted();

        CREATE FUNCTION trove_copies_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE files SET durability = trove_durability(id) WHERE id IN (SELECT file_id FROM old_rows);
          UPDATE stores s SET held_files = s.held_files - n.files, held_bytes = s.held_bytes - n.bytes
            FROM (SELECT r.store_id, COUNT(*) AS files, COALESCE(SUM(f.size), 0) AS bytes
                  FROM old_rows r LEFT JOIN files f ON f.id = r.file_id GROUP BY r.store_id) n
            WHERE s.id = n.store_id;
          INSERT INTO journal (kind, key, store) SELECT 'copy-removed', file_id, store_id FROM old_rows;
          RETURN NULL;
        END $$;
        CREATE TRIGGER copies_deleted AFTER DELETE ON copies REFERENCING OLD TABLE AS old_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_copies_deleted();

        CREATE FUNCTION trove_copies_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          UPDATE files SET durability = trove_durability(id)
            WHERE id IN (SELECT n.file_id FROM new_rows n JOIN old_rows o ON o.file_id = n.file_id AND o.store_id = n.store_id
                         WHERE n.copies IS DISTINCT FROM o.copies);
          RETURN NULL;
        END $$;
        CREATE TRIGGER copies_updated AFTER UPDATE ON copies REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_copies_updated();

        CREATE FUNCTION trove_store_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.trust IS DISTINCT FROM NEW.trust OR COALESCE(OLD.disk, '') <> COALESCE(NEW.disk, '')
             OR COALESCE(OLD.declared_disk, '') <> COALESCE(NEW.declared_disk, '') THEN
            UPDATE files SET durability = trove_durability(files.id)
              WHERE id IN (SELECT file_id FROM copies WHERE store_id = NEW.id);
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER stores_changed AFTER UPDATE ON stores FOR EACH ROW EXECUTE FUNCTION trove_store_changed();

        -- The event log is append-only.
        CREATE FUNCTION trove_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the event log is append-only'; END $$;
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
          FOR EACH ROW EXECUTE FUNCTION trove_append_only();

        -- The journal: what changed since the library's records were written to the stores.
        CREATE FUNCTION trove_journal_files_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO journal (kind, key) SELECT 'file', id FROM new_rows; RETURN NULL; END $$;
        CREATE TRIGGER files_added_journal AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_journal_files_added();
        CREATE FUNCTION trove_journal_files_removed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO journal (kind, key) SELECT 'file-removed', id FROM old_rows; RETURN NULL; END $$;
        CREATE TRIGGER files_removed_journal AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_journal_files_removed();
        CREATE FUNCTION trove_journal_imports_added() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN INSERT INTO journal (kind, key) SELECT 'import', id::TEXT FROM new_rows ORDER BY id; RETURN NULL; END $$;
        CREATE TRIGGER imports_added_journal AFTER INSERT ON imports REFERENCING NEW TABLE AS new_rows
          FOR EACH STATEMENT EXECUTE FUNCTION trove_journal_imports_added();
        CREATE FUNCTION trove_journal_snapshots() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'INSERT' THEN
            IF NOT NEW.external THEN INSERT INTO journal (kind, key) VALUES ('snapshot', NEW.id); END IF;
          ELSIF NOT OLD.external THEN
            INSERT INTO journal (kind, key) VALUES ('snapshot-forgotten', OLD.id);
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER snapshots_journal AFTER INSERT OR DELETE ON snapshots FOR EACH ROW EXECUTE FUNCTION trove_journal_snapshots();

        -- `find` searches names and paths by trigrams where the server has pg_trgm (a trusted
        -- extension since PostgreSQL 13); without it, by a scan of the distinct paths.
        DO $$ BEGIN
          BEGIN CREATE EXTENSION IF NOT EXISTS pg_trgm; EXCEPTION WHEN OTHERS THEN NULL; END;
          IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
            CREATE INDEX paths_by_name_trigram ON paths USING gin (name gin_trgm_ops);
            CREATE INDEX paths_by_path_trigram ON paths USING gin (path gin_trgm_ops);
          END IF;
        END $$;
        """#
}
