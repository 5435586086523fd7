import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import TroveCore

/// A value bound to a query parameter (nil binds NULL).
typealias PGArg = (any PostgresThrowingDynamicTypeEncodable)?

/// One connection to the server, used synchronously from Trove's worker threads: each call
/// sends its statement(s) and waits for the answer. Statements queued with `send` go out
/// back to back without waiting (one transaction's worth of rows costs one wait).
final class PGSession: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    let url: PostgresURL
    private var pending: [EventLoopFuture<PostgresQueryResult>] = []

    private init(connection: PostgresConnection, url: PostgresURL, logger: Logger) {
        self.connection = connection
        self.url = url
        self.logger = logger
    }

    deinit { try? connection.close().wait() }

    /// Connects, with the password from `PGPASSWORD` or `~/.pgpass`.
    static func connect(_ url: PostgresURL, logger: Logger) throws -> PGSession {
        let password = url.password()
        var configuration: PostgresConnection.Configuration
        if let socket = url.socketDirectory {
            configuration = .init(unixSocketPath: "\(socket)/.s.PGSQL.\(url.port)", username: url.user, password: password,
                                  database: url.database)
        } else {
            let tls: PostgresConnection.Configuration.TLS
            switch url.sslMode {
            case "disable": tls = .disable
            case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            default: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
            configuration = .init(host: url.host ?? "localhost", port: url.port, username: url.user, password: password,
                                  database: url.database, tls: tls)
        }
        configuration.options.connectTimeout = .seconds(10)
        do {
            let connection = try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.any(),
                                                            configuration: configuration, id: 1, logger: logger).wait()
            return PGSession(connection: connection, url: url, logger: logger)
        } catch {
            throw TroveError(.catalog, "Cannot reach the PostgreSQL catalog \(url) (\(Self.describe(error))); check that the server runs and accepts this user, with the password in PGPASSWORD or ~/.pgpass.")
        }
    }

    static func bindings(_ args: [PGArg]) throws -> PostgresBindings {
        var binds = PostgresBindings(capacity: args.count)
        for arg in args {
            if let arg { try binds.append(arg) } else { binds.appendNull() }
        }
        return binds
    }

    /// Runs one statement and returns its rows.
    func query(_ sql: String, _ args: [PGArg] = []) throws -> [PostgresRandomAccessRow] {
        try flush()
        let result = try wait(connection.query(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(args)), logger: logger))
        return result.rows.map { $0.makeRandomAccess() }
    }

    /// Runs a query through a server-side cursor, handing `body` its rows a batch at a time, so
    /// they never all sit in memory. Only inside a transaction (a cursor lives in one).
    func forEachRow(_ sql: String, batch: Int = 4_096, _ body: (PostgresRandomAccessRow) throws -> Void) throws {
        try execute("DECLARE trove_rows NO SCROLL CURSOR FOR " + sql)
        while true {
            let rows = try query("FETCH \(batch) FROM trove_rows")
            for row in rows { try body(row) }
            if rows.count < batch { break }
        }
        try execute("CLOSE trove_rows")
    }

    /// Runs one statement; returns how many rows it changed.
    @discardableResult
    func execute(_ sql: String, _ args: [PGArg] = []) throws -> Int {
        try flush()
        let result = try wait(connection.query(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(args)), logger: logger))
        return result.metadata.rows ?? 0
    }

    /// Queues a statement without waiting for it; `flush` (or the next `query`) waits for all.
    func send(_ sql: String, _ args: [PGArg] = []) throws {
        pending.append(connection.query(PostgresQuery(unsafeSQL: sql, binds: try Self.bindings(args)), logger: logger))
        if pending.count >= 256 { try flush() }
    }

    /// Waits for every queued statement; the first failure is thrown.
    func flush() throws {
        let futures = pending
        pending.removeAll()
        var failure: Error?
        for future in futures {
            do { _ = try future.wait() } catch { if failure == nil { failure = error } }
        }
        if let failure { throw failure }
    }

    /// Runs several statements separated by semicolons (schema changes), one after another.
    func simple(_ sql: String) throws {
        for statement in Self.statements(sql) { try execute(statement) }
    }

    /// `sql` cut at each semicolon outside quotes, dollar-quoted bodies and comments.
    static func statements(_ sql: String) -> [String] {
        var result: [String] = []
        var current = ""
        var quote: Character?
        var dollar = false
        var comment = false
        var previous: Character = " "
        for character in sql {
            current.append(character)
            if comment {
                if character == "\n" { comment = false }
            } else if let open = quote {
                if character == open { quote = nil }
            } else if dollar {
                if character == "$" && previous == "$" { dollar = false; previous = " "; continue }
            } else if character == "$" && previous == "$" {
                dollar = true; previous = " "; continue
            } else if character == "-" && previous == "-" {
                comment = true
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == ";" {
                current.removeLast()
                if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { result.append(current) }
                current = ""
            }
            previous = character
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { result.append(current) }
        return result
    }

    private func wait<T>(_ future: EventLoopFuture<T>) throws -> T {
        try future.wait()
    }

    func close() { try? connection.close().wait() }

    /// Runs one statement if the connection still answers within `seconds`; false otherwise
    /// (a connection the server ended may never answer, and the caller must not hang on it).
    func executeIfAlive(_ sql: String, within seconds: Double) -> Bool {
        guard !connection.isClosed else { return false }
        let done = DispatchSemaphore(value: 0)
        let succeeded = NIOLockedValueBox(false)
        connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).whenComplete { result in
            if case .success = result { succeeded.withLockedValue { $0 = true } }
            done.signal()
        }
        guard done.wait(timeout: .now() + seconds) == .success else { return false }
        return succeeded.withLockedValue { $0 }
    }

    /// A server error as one line: its message and SQLSTATE, or the error itself.
    static func describe(_ error: Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                let detail = error.serverInfo?[.detail].map { " (\($0))" } ?? ""
                return "\(message)\(detail) [\(error.serverInfo?[.sqlState] ?? "?")]"
            }
            return "\(error.code)" + (error.underlying.map { ": \($0)" } ?? "")
        }
        return "\(error)"
    }

    /// The SQLSTATE of a server error.
    static func sqlState(_ error: Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }
}

extension PostgresRandomAccessRow {
    func get<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        try self[column].decode(T.self)
    }

    func get<T: PostgresDecodable>(_ index: Int, as type: T.Type = T.self) throws -> T {
        try self[index].decode(T.self)
    }
}
