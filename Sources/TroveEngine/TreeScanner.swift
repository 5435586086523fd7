#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Walks a folder for a snapshot: every file, folder, symbolic link, FIFO and device with all
/// the metadata a faithful restore needs (lstat: links are recorded, never followed). Names are
/// kept as bytes (NameCodec). Unreadable parts are reported, never fatal and never silent.
/// Entries come in path order (`PathKey.precedes`, the manifest's order), one folder's
/// children at a time, so a snapshot can stream them instead of holding the whole tree.
struct TreeScanner {
    let root: String
    let excluded: Set<String>
    /// Every entry, when walked with `scan()`.
    var entries: [SnapshotEntry] = []
    var skipped: [SkippedPath] = []
    /// The first path seen of each multiply-linked inode, by (device, inode).
    private var linkLeaders: [LinkKey: String] = [:]

    private struct LinkKey: Hashable {
        var device: UInt64
        var inode: UInt64
    }

    /// The folders holding an excluded path: only their children are checked against `excluded`.
    private let excludedParents: Set<String>

    init(root: String, excluded: Set<String>) {
        self.root = root
        self.excluded = excluded
        excludedParents = Set(excluded.map { path in
            guard let slash = path.lastIndex(of: "/") else { return "" }
            return slash == path.startIndex ? "/" : String(path[..<slash])
        })
    }

    /// Walks the whole tree into `entries`.
    mutating func scan() {
        var all: [SnapshotEntry] = []
        scan { entry, _ in all.append(entry) }
        entries = all
    }

    /// Walks the tree, giving `found` each entry in path order, and whether it is the first
    /// name of a file with several (its content is what the later names take).
    mutating func scan(_ found: (SnapshotEntry, _ linkLeader: Bool) throws -> Void) rethrows {
        try walk(root, relative: "", found)
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

    /// One child of a folder, examined, waiting for its place in path order.
    private struct Child {
        var name: [UInt8]
        var entry: SnapshotEntry
        /// The whole path, for a folder (walked next).
        var folder: String?
        var link: LinkKey?
    }

    private mutating func walk(_ folder: String, relative: String,
                               _ found: (SnapshotEntry, _ linkLeader: Bool) throws -> Void) rethrows {
        // readdir + fstatat relative to the open folder: no path is resolved from the root again.
        guard let (dirFD, stream) = POSIX.openFolder(folder) else {
            skipped.append(.init(path: folder, reason: "folder cannot be read (\(String(cString: strerror(errno))))"))
            return
        }
        var children: [Child] = []
        let me = getuid()
        let mayExclude = excludedParents.contains(folder)
        for name in POSIX.names(inFolder: stream) {
            // The whole path is spelled out only where it is needed (most files never need it).
            let full = { folder == "/" ? "/" + name : folder + "/" + name }
            if mayExclude, excluded.contains(full()) { continue }
            let rel = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard NameCodec.withCString(name, { fstatat(dirFD, $0, &info, AT_SYMLINK_NOFOLLOW) }) == 0 else {
                skipped.append(.init(path: full(), reason: "cannot be examined (\(String(cString: strerror(errno))))"))
                continue
            }
            var target: String?
            if POSIX.isSymlink(info) {
                do { target = try POSIX.readLink(full()) } catch {
                    skipped.append(.init(path: full(), reason: "link cannot be read (\(error))"))
                    continue
                }
            }
            guard var entry = Self.entry(relative: rel, info: info, target: target) else {
                skipped.append(.init(path: full(), reason: "socket (a program's live endpoint; not saved)", error: false))
                continue
            }
            // The owner's read bit settles it for the owner (the kernel checks nothing else for
            // them); anyone else asks the kernel, which knows groups, ACLs and capabilities.
            let ownReadable = info.st_uid == me && info.st_mode & S_IRUSR != 0
            if entry.type == .file && !ownReadable && NameCodec.withCString(name, { faccessat(dirFD, $0, R_OK, 0) }) != 0 {
                skipped.append(.init(path: full(), reason: "cannot be read (permission denied)"))
                continue
            }
            do { entry.xattrs = try POSIX.extendedAttributes(name: name, inFolder: dirFD, path: full) } catch {
                skipped.append(.init(path: full(), reason: "extended attributes cannot be read (\(error)); saved without them"))
            }
            if entry.type == .file && entry.size >= 4096 && UInt64(info.st_blocks) * 512 < entry.size {
                entry.sparse = POSIX.hasHoles(full(), size: entry.size)
            }
            let link = entry.type != .directory && info.st_nlink > 1
                ? LinkKey(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)) : nil
            children.append(Child(name: Array(name.utf8), entry: entry, folder: entry.type == .directory ? full() : nil, link: link))
        }
        closedir(stream)
        // In byte order of the whole path: a folder's own entry sorts by its name, its contents
        // by its name and a `/` ("a", "a-b", "a/c", "a0").
        var order: [(key: [UInt8], child: Int, contents: Bool)] = []
        order.reserveCapacity(children.count)
        for (index, child) in children.enumerated() {
            order.append((child.name, index, false))
            if child.entry.type == .directory { order.append((child.name + [0x2F], index, true)) }
        }
        order.sort { $0.key.lexicographicallyPrecedes($1.key) }
        for item in order {
            let child = children[item.child]
            if item.contents, let folder = child.folder {
                try walk(folder, relative: child.entry.path, found)
                continue
            }
            var entry = child.entry
            var leader = false
            if let key = child.link {
                if let first = linkLeaders[key] { entry.hardLink = first } else { linkLeaders[key] = entry.path; leader = true }
            }
            try found(entry, leader)
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
