import Foundation
import TroveCore
import TroveStorage

/// A regular file found under the paths given to `trove add`.
public struct FoundFile: Sendable {
    public var path: String
    public var size: UInt64
    public var mtime: Date
}

/// Something under an import path that was not imported, and why.
public struct SkippedPath: Sendable, Codable {
    public var path: String
    public var reason: String
    /// True when it could not be read (an error); false for what Trove does not import
    /// (symbolic links, devices, sockets).
    public var error: Bool

    public init(path: String, reason: String, error: Bool = true) {
        self.path = path
        self.reason = reason
        self.error = error
    }
}

/// Walks folders for import: regular files only, sorted, never descending into Trove's own
/// folders (a store's `.trove`, the library).
struct FileWalker {
    var excluded: Set<String>
    var files: [FoundFile] = []
    var skipped: [SkippedPath] = []

    init(excluded: Set<String>) { self.excluded = excluded }

    /// Checks every argument first so a typo stops the import before anything is written.
    static func validate(_ paths: [String]) throws {
        for path in paths {
            guard let info = try? POSIX.stat(path, follow: true) else {
                throw TroveError(.pathMissing, "\(path) does not exist; check the path (nothing was imported).")
            }
            if access(path, R_OK) != 0 || (POSIX.isDirectory(info) && access(path, X_OK) != 0) {
                throw TroveError(.pathUnreadable, "\(path) cannot be read (permission denied); fix its permissions or run Trove as a user who can read it (nothing was imported).")
            }
        }
    }

    mutating func walk(_ path: String) {
        if excluded.contains(path) { return }
        let info: stat
        do {
            guard let found = try POSIX.stat(path, follow: false) else {
                skipped.append(.init(path: path, reason: "vanished while walking")); return
            }
            info = found
        } catch {
            skipped.append(.init(path: path, reason: "\(error)")); return
        }
        if POSIX.isRegular(info) {
            files.append(FoundFile(path: path, size: UInt64(info.st_size), mtime: POSIX.mtime(info)))
        } else if POSIX.isDirectory(info) {
            if FileManager.default.fileExists(atPath: path + "/store.json") && path.hasSuffix("/.trove") { return }
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else {
                skipped.append(.init(path: path, reason: "folder cannot be read (permission denied)")); return
            }
            for name in names.sorted() { walk(path == "/" ? "/" + name : path + "/" + name) }
        } else if POSIX.isSymlink(info) {
            skipped.append(.init(path: path, reason: "symbolic link (not followed)", error: false))
        } else {
            skipped.append(.init(path: path, reason: "not a regular file", error: false))
        }
    }
}
