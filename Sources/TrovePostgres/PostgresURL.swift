import Foundation
import TroveCore

/// Where a PostgreSQL catalog lives: `postgresql://USER@HOST[:PORT]/DATABASE[?sslmode=…&host=/socket/dir]`.
/// The password is never part of it (a library folder keeps this URL): it comes from
/// `PGPASSWORD` or `~/.pgpass`, as for `psql`.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    /// Host name or address; nil with `socketDirectory`.
    public var host: String?
    public var port: Int
    /// A folder holding the server's Unix socket (`?host=/run/postgresql`).
    public var socketDirectory: String?
    public var database: String
    /// `disable`, `prefer` (the default, as libpq) or `require`.
    public var sslMode: String

    /// Parses a URL; a usage error saying what is wrong otherwise.
    public init(_ text: String) throws {
        guard let url = URLComponents(string: text), ["postgresql", "postgres"].contains(url.scheme ?? "") else {
            throw TroveError(.usage, "\(text) is not a PostgreSQL URL; write postgresql://USER@HOST[:PORT]/DATABASE.")
        }
        if url.password != nil {
            throw TroveError(.usage, "Leave the password out of the catalog URL (the library folder keeps the URL); put it in PGPASSWORD or ~/.pgpass.")
        }
        let query = Dictionary((url.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { _, b in b })
        let database = String(url.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw TroveError(.usage, "\(text) names no database; write postgresql://USER@HOST[:PORT]/DATABASE.")
        }
        let socket = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        let host = url.host.flatMap { $0.isEmpty ? nil : $0 } ?? query["host"].flatMap { $0.hasPrefix("/") ? nil : $0 }
        guard host != nil || socket != nil else {
            throw TroveError(.usage, "\(text) names no server; write postgresql://USER@HOST/DATABASE, or ?host=/socket/folder.")
        }
        let mode = query["sslmode"] ?? "prefer"
        guard ["disable", "prefer", "require"].contains(mode) else {
            throw TroveError(.usage, "sslmode=\(mode) is not supported; use disable, prefer or require.")
        }
        self.user = url.user ?? ProcessInfo.processInfo.environment["PGUSER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "postgres"
        self.host = socket == nil ? host : nil
        self.port = url.port ?? Int(query["port"] ?? "") ?? 5432
        self.socketDirectory = socket
        self.database = database
        self.sslMode = mode
    }

    /// The URL as written back (never with a password).
    public var description: String {
        var text = "postgresql://\(user)@\(host ?? "")"
        if host != nil, port != 5432 { text += ":\(port)" }
        text += "/\(database)"
        var options: [String] = []
        if let socketDirectory { options.append("host=\(socketDirectory)") }
        if socketDirectory != nil, port != 5432 { options.append("port=\(port)") }
        if sslMode != "prefer" { options.append("sslmode=\(sslMode)") }
        return options.isEmpty ? text : text + "?" + options.joined(separator: "&")
    }

    /// The same server with another database (tests and `catalog migrate` make databases).
    public func with(database: String) -> PostgresURL {
        var copy = self
        copy.database = database
        return copy
    }

    /// The password: `PGPASSWORD`, else the first matching line of `PGPASSFILE` or `~/.pgpass`
    /// (ignored, as libpq does, when others can read it); nil when neither has one.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let password = environment["PGPASSWORD"] { return password }
        let file = environment["PGPASSFILE"] ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.pgpass"
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: file),
              let mode = attributes[.posixPermissions] as? Int, mode & 0o077 == 0,
              let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
        return Self.passwordLine(in: text, host: host ?? "localhost", port: port, database: database, user: user)
    }

    /// The password of the first `host:port:database:user:password` line that matches (`*`
    /// matches anything; `\:` and `\\` are escapes).
    static func passwordLine(in text: String, host: String, port: Int, database: String, user: String) -> String? {
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            var fields: [String] = [""]
            var escaped = false
            for character in line {
                if escaped { fields[fields.count - 1].append(character); escaped = false }
                else if character == "\\" { escaped = true }
                else if character == ":" && fields.count < 5 { fields.append("") }
                else { fields[fields.count - 1].append(character) }
            }
            guard fields.count == 5 else { continue }
            let wanted = [host, String(port), database, user]
            if zip(fields, wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }
}
