#if canImport(Glibc)
import Glibc
#endif
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
        // readdir + fstatat relative to the open folder: no path is resolved from the root again.
        let dirFD = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0, let stream = fdopendir(dirFD) else {
            if dirFD >= 0 { close(dirFD) }
            skipped.append(.init(path: folder, reason: "folder cannot be read (permission denied)"))
            return
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let item = readdir(stream) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        // Byte order, like `sort` in the C locale, so manifests are the same on every machine.
        names.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for name in names {
            let full = folder == "/" ? "/" + name : folder + "/" + name
            if excluded.contains(full) { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var found = stat()
            guard fstatat(dirFD, name, &found, AT_SYMLINK_NOFOLLOW) == 0 else {
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
            if entry.type == .file && faccessat(dirFD, name, R_OK, 0) != 0 {
                skipped.append(.init(path: full, reason: "cannot be read (permission denied)"))
                continue
            }
            entries.append(entry)
            if entry.type == .directory { walk(full, relative: rel) }
        }
    }
}
