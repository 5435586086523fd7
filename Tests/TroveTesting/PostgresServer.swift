import Foundation
#if canImport(Glibc)
import Glibc
#endif
import TroveCore
import TrovePostgres

/// A throwaway PostgreSQL server on loopback (`scripts/postgres-server`), or the one
/// `TROVE_TEST_POSTGRES_URL` names (`.ci/run` starts it). Each library under test gets its own
/// database.
public final class PostgresServer: @unchecked Sendable {
    /// The administrative URL (database `postgres`).
    public let admin: PostgresURL
    private let folder: String?

    public static let shared = Result { () throws -> PostgresServer in
        if let text = ProcessInfo.processInfo.environment["TROVE_TEST_POSTGRES_URL"], !text.isEmpty {
            return PostgresServer(admin: try PostgresURL(text), folder: nil)
        }
        return try PostgresServer()
    }

    private init(admin: PostgresURL, folder: String?) {
        self.admin = admin
        self.folder = folder
    }

    private init() throws {
        let folder = NSTemporaryDirectory() + "trove-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let port = Int.random(in: 20_000...60_000)
        let script = Self.repository + "/scripts/postgres-server"
        // Output goes to a file, not a pipe: the server keeps inherited descriptors open, and a
        // pipe would never reach its end.
        let output = folder + ".out"
        let status = system("'\(script)' start '\(folder)' \(port) fast >'\(output)' 2>&1 </dev/null")
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: output)
        guard status == 0, let url = text.split(separator: "\n").last else {
            throw MotoServer.StartFailure(description: "PostgreSQL did not start: \(text)")
        }
        self.admin = try PostgresURL(String(url))
        self.folder = folder
        // Stopped when this test process ends, however it ends.
        let watchdog = Process()
        watchdog.executableURL = URL(fileURLWithPath: "/bin/sh")
        watchdog.standardOutput = FileHandle.nullDevice
        watchdog.standardError = FileHandle.nullDevice
        watchdog.arguments = ["-c", "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; '\(script)' stop '\(folder)'; rm -rf '\(folder)'"]
        try watchdog.run()
    }

    /// The repository root (this file is Tests/TroveTesting/PostgresServer.swift).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A new, empty database; its URL.
    public func newDatabase(_ prefix: String = "t") throws -> PostgresURL {
        let name = "\(prefix)_\(UInt64.random(in: 0...UInt64.max) % 1_000_000_000_000)"
        try PostgresAdmin.createDatabase(name, on: admin)
        return admin.with(database: name)
    }
}
