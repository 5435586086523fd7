#if canImport(Glibc)
import Glibc
#endif
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
/// folders (a store's `.trove`, the library). Files found are spooled, not held: an import of a
/// million files keeps a working file of their paths.
struct FileWalker {
    var excluded: Set<String>
    let files: FoundFileSpool
    var skipped: [SkippedPath] = []

    init(excluded: Set<String>, spoolIn folder: String) throws {
        self.excluded = excluded
        files = try FoundFileSpool(in: folder)
    }

    /// Checks every argument first so a typo stops the import before anything is written.
    static func validate(_ paths: [String]) throws {
        for path in paths {
            guard let info = try? POSIX.stat(path, follow: true) else {
                throw TroveError(.pathMissing, "\(path) does not exist; check the path (nothing was imported).")
            }
            if !POSIX.canAccess(path, R_OK) || (POSIX.isDirectory(info) && !POSIX.canAccess(path, X_OK)) {
                throw TroveError(.pathUnreadable, "\(path) cannot be read (permission denied); fix its permissions or run Trove as a user who can read it (nothing was imported).")
            }
        }
    }

    /// Files already found, by (device, inode): a second name of a hard-linked file is not
    /// imported (or counted) twice.
    private var seen: [[UInt64]: String] = [:]

    mutating func walk(_ path: String) throws {
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
            if info.st_nlink > 1 {
                let key = [UInt64(info.st_dev), UInt64(info.st_ino)]
                if let first = seen[key] {
                    skipped.append(.init(path: path, reason: "hard link to \(NameCodec.display(first)) (imported once)", error: false))
                    return
                }
                seen[key] = path
            }
            try files.append(FoundFile(path: path, size: UInt64(info.st_size), mtime: POSIX.mtime(info)))
        } else if POSIX.isDirectory(info) {
            if path.hasSuffix("/.trove"), (try? POSIX.stat(path + "/store.json")) != nil { return }
            // Names as bytes (NameCodec): a name that is not UTF-8 is imported, not skipped.
            guard let (_, stream) = POSIX.openFolder(path) else {
                skipped.append(.init(path: path, reason: "folder cannot be read (\(String(cString: strerror(errno))))")); return
            }
            let names = POSIX.names(inFolder: stream)
            closedir(stream)
            for name in names { try walk(path == "/" ? "/" + name : path + "/" + name) }
        } else if POSIX.isSymlink(info) {
            skipped.append(.init(path: path, reason: "symbolic link (not followed)", error: false))
        } else {
            skipped.append(.init(path: path, reason: "not a regular file", error: false))
        }
    }
}

/// Files found by the walk, spooled to a working file and read back in the order found.
final class FoundFileSpool {
    private let file: SpoolFile
    /// The sum of the files' sizes.
    private(set) var bytes: UInt64 = 0

    init(in folder: String) throws { file = try SpoolFile(in: folder) }

    func append(_ found: FoundFile) throws {
        try file.appendText(found.path)
        try file.appendRaw(found.size)
        try file.appendRaw(found.mtime.timeIntervalSince1970)
        bytes += found.size
    }

    func reader() throws -> Reader { Reader(bytes: try file.reader()) }

    struct Reader {
        private var bytes: SpoolFile.Reader

        init(bytes: SpoolFile.Reader) { self.bytes = bytes }

        mutating func next() throws -> FoundFile? {
            guard try !bytes.atEnd() else { return nil }
            return FoundFile(path: try bytes.takeText() ?? "", size: try bytes.takeRaw(UInt64.self),
                             mtime: Date(timeIntervalSince1970: try bytes.takeRaw(Double.self)))
        }
    }
}
