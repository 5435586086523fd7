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
