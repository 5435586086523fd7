#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Walks a folder for a snapshot: every file, folder, symbolic link, FIFO and device with all
/// the metadata a faithful restore needs (lstat: links are recorded, never followed). Names are
/// kept as bytes (NameCodec). Unreadable parts are reported, never fatal and never silent.
struct TreeScanner {
    let root: String
    let excluded: Set<String>
    var entries: [SnapshotEntry] = []
    var skipped: [SkippedPath] = []
    /// The first path seen of each multiply-linked inode, by (device, inode).
    private var linkLeaders: [LinkKey: String] = [:]

    private struct LinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    init(root: String, excluded: Set<String>) {
        self.root = root
        self.excluded = excluded
    }

    mutating func scan() {
        walk(root, relative: "")
    }

    /// The type of a stat result, or nil for what cannot be snapshotted (sockets).
    static func type(of info: stat) -> EntryType? {
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .file
        case S_IFDIR: return .directory
        case S_IFLNK: return .symlink
        case S_IFIFO: return .fifo
        case S_IFCHR: return .charDevice
        case S_IFBLK: return .blockDevice
        default: return nil
        }
    }

    /// An entry from a stat result (no content ID, attributes or links yet).
    static func entry(relative: String, info: stat, target: String?) -> SnapshotEntry? {
        guard let type = type(of: info) else { return nil }
        var entry = SnapshotEntry(path: relative, type: type, target: target)
        entry.refresh(from: info)
        if type == .charDevice || type == .blockDevice { entry.device = UInt64(info.st_rdev) }
        return entry
    }

    private mutating func walk(_ folder: String, relative: String) {
        // readdir + fstatat relative to the open folder: no path is resolved from the root again.
        guard let (dirFD, stream) = POSIX.openFolder(folder) else {
            skipped.append(.init(path: folder, reason: "folder cannot be read (\(String(cString: strerror(errno))))"))
            return
        }
        defer { closedir(stream) }
        for name in POSIX.names(inFolder: stream) {
            let full = folder == "/" ? "/" + name : folder + "/" + name
            if excluded.contains(full) { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var found = stat()
            guard NameCodec.withCString(name, { fstatat(dirFD, $0, &found, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                skipped.append(.init(path: full, reason: "cannot be examined (\(String(cString: strerror(errno))))"))
                continue
            }
            var target: String?
            if POSIX.isSymlink(found) {
                do { target = try POSIX.readLink(full) } catch {
                    skipped.append(.init(path: full, reason: "link cannot be read (\(error))"))
                    continue
                }
            }
            guard var entry = Self.entry(relative: rel, info: found, target: target) else {
                skipped.append(.init(path: full, reason: "socket (a program's live endpoint; not saved)", error: false))
                continue
            }
            if entry.type == .file && NameCodec.withCString(name, { faccessat(dirFD, $0, R_OK, 0) }) != 0 {
                skipped.append(.init(path: full, reason: "cannot be read (permission denied)"))
                continue
            }
            do { entry.xattrs = try POSIX.extendedAttributes(full) } catch {
                skipped.append(.init(path: full, reason: "extended attributes cannot be read (\(error)); saved without them"))
            }
            if entry.type != .directory && found.st_nlink > 1 {
                let key = LinkKey(device: UInt64(found.st_dev), inode: UInt64(found.st_ino))
                if let leader = linkLeaders[key] { entry.hardLink = leader } else { linkLeaders[key] = rel }
            }
            if entry.type == .file && entry.size >= 4096 && UInt64(found.st_blocks) * 512 < entry.size {
                entry.sparse = POSIX.hasHoles(full, size: entry.size)
            }
            entries.append(entry)
            if entry.type == .directory { walk(full, relative: rel) }
        }
    }
}

extension SnapshotEntry {
    /// Takes size, mode, times, inode and owner from a fresh stat result.
    mutating func refresh(from info: stat) {
        size = type == .file ? UInt64(info.st_size) : 0
        mode = UInt32(info.st_mode & 0o7777)
        mtime = POSIX.fileTime(info)
        inode = UInt64(info.st_ino)
        uid = info.st_uid
        gid = info.st_gid
    }
}
