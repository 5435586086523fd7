import Foundation
import Logging
import TroveCore

/// Databases on a server (tests and benchmarks make one per library).
public enum PostgresAdmin {
    /// Creates database `name` through `server` (any database the user may connect to).
    public static func createDatabase(_ name: String, on server: PostgresURL, logger: Logger = Logger(label: "trove.postgres")) throws {
        let session = try PGSession.connect(server, logger: logger)
        defer { session.close() }
        do { try session.simple("CREATE DATABASE \"\(name)\"") } catch {
            throw TroveError(.catalog, "Cannot create the database \(name) on \(server): \(PGSession.describe(error)).")
        }
    }

    /// Drops database `name` (after closing other connections to it).
    public static func dropDatabase(_ name: String, on server: PostgresURL, logger: Logger = Logger(label: "trove.postgres")) throws {
        let session = try PGSession.connect(server, logger: logger)
        defer { session.close() }
        do { try session.simple("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)") } catch {
            throw TroveError(.catalog, "Cannot drop the database \(name) on \(server): \(PGSession.describe(error)).")
        }
    }
}

extension PostgresAdmin {
    /// Ends every session holding one of Trove's library locks in the database `url` names (a
    /// machine that hangs with a lock; the server ends a crashed one's by itself). Returns how
    /// many were ended.
    @discardableResult
    public static func endLockHolders(on url: PostgresURL, logger: Logger = Logger(label: "trove.postgres")) throws -> Int {
        let session = try PGSession.connect(url, logger: logger)
        defer { session.close() }
        do {
            return try session.query("""
                SELECT pg_terminate_backend(pid) FROM pg_locks
                WHERE locktype = 'advisory' AND classid::BIGINT = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                """, [Int64(PostgresCatalog.lockSpace)]).count
        } catch {
            throw TroveError(.catalog, "Cannot end the lock holders on \(url): \(PGSession.describe(error)).")
        }
    }
}
