import Foundation
import TroveCore
import TroveStorage

/// Walks a folder for a snapshot: every file, folder and symbolic link with its metadata
/// (lstat: links are recorded, never followed). Unreadable parts are reported, not fatal.
struct TreeScanner {
    let root: String
    let excluded: Set<String>
    var entries: [SnapshotEntry] = []
    var skipped: [SkippedPath] = []

    init(root: String, excluded: Set<String>) {
        self.root = root
        self.excluded = excluded
    }

    mutating func scan() {
        walk(root, relative: "")
    }

    static func entry(relative: String, info: stat, target: String?) -> SnapshotEntry? {
        let type: EntryType
        if POSIX.isRegular(info) { type = .file } else if POSIX.isDirectory(info) { type = .directory } else if POSIX.isSymlink(info) {
            type = .symlink
        } else { return nil }
        let mtime = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
        return SnapshotEntry(path: relative, type: type, size: type == .file ? UInt64(info.st_size) : 0,
                             mode: UInt32(info.st_mode & 0o7777), mtimeNs: mtime, inode: UInt64(info.st_ino), target: target)
    }

    private mutating func walk(_ folder: String, relative: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else {
            skipped.append(.init(path: folder, reason: "folder cannot be read (permission denied)"))
            return
        }
        for name in names.sorted() {
            let full = folder == "/" ? "/" + name : folder + "/" + name
            if excluded.contains(full) { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            guard let found = try? POSIX.stat(full, follow: false) else {
                skipped.append(.init(path: full, reason: "vanished or cannot be examined"))
                continue
            }
            var target: String?
            if POSIX.isSymlink(found) {
                target = try? FileManager.default.destinationOfSymbolicLink(atPath: full)
            }
            guard let entry = Self.entry(relative: rel, info: found, target: target) else {
                skipped.append(.init(path: full, reason: "not a regular file, folder or link", error: false))
                continue
            }
            if entry.type == .file && access(full, R_OK) != 0 {
                skipped.append(.init(path: full, reason: "cannot be read (permission denied)"))
                continue
            }
            entries.append(entry)
            if entry.type == .directory { walk(full, relative: rel) }
        }
    }
}
