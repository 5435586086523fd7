#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Builds trees with byte-exact names and every attribute, and records what `lstat` and the
/// kernel say about each entry, so a restore can be compared with the original entry by entry.
enum Tree {
    /// A path as bytes (names need not be UTF-8).
    typealias Path = [UInt8]

    static func join(_ a: Path, _ b: Path) -> Path { a + [0x2F] + b }
    static func bytes(_ text: String) -> Path { Array(text.utf8) }

    static func withC<R>(_ path: Path, _ body: (UnsafePointer<CChar>) -> R) -> R {
        let c = path.map { CChar(bitPattern: $0) } + [0]
        return c.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func check(_ rc: Int32, _ what: String, _ path: Path) throws {
        if rc != 0 {
            throw Failure(description: "\(what) \(NameCodec.display(NameCodec.decode(path))): \(String(cString: strerror(errno)))")
        }
    }

    static func mkdir(_ path: Path, _ mode: mode_t = 0o755) throws { try check(withC(path) { Glibc.mkdir($0, mode) }, "mkdir", path) }

    static func write(_ path: Path, _ content: [UInt8]) throws {
        let fd = withC(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        try check(fd < 0 ? -1 : 0, "create", path)
        defer { close(fd) }
        let n = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        try check(n == content.count ? 0 : -1, "write", path)
    }

    /// A sparse file: `size` bytes of which only `data` at `offset` are allocated.
    static func sparse(_ path: Path, size: Int64, data: [UInt8], at offset: Int64) throws {
        let fd = withC(path) { open($0, O_WRONLY | O_CREAT | O_TRUNC, 0o644) }
        try check(fd < 0 ? -1 : 0, "create", path)
        defer { close(fd) }
        let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        try check(n == data.count ? 0 : -1, "pwrite", path)
        try check(ftruncate(fd, off_t(size)), "truncate", path)
    }

    static func symlink(_ target: Path, _ path: Path) throws {
        try check(withC(target) { t in withC(path) { Glibc.symlink(t, $0) } }, "symlink", path)
    }

    static func link(_ existing: Path, _ path: Path) throws {
        try check(withC(existing) { e in withC(path) { Glibc.link(e, $0) } }, "link", path)
    }

    static func fifo(_ path: Path) throws { try check(withC(path) { mkfifo($0, 0o640) }, "mkfifo", path) }

    static func device(_ path: Path, major: UInt32, minor: UInt32) throws {
        // Linux dev_t: minor low 8 bits, major 12 bits, then minor's high bits (glibc makedev).
        let dev = (UInt64(minor) & 0xFF) | ((UInt64(major) & 0xFFF) << 8) | ((UInt64(minor) & ~0xFF) << 12) | ((UInt64(major) & ~0xFFF) << 32)
        try check(withC(path) { mknod($0, S_IFCHR | 0o620, dev_t(dev)) }, "mknod", path)
    }

    /// A listening Unix socket (nothing can save one; it must be named as skipped).
    static func socket(_ path: Path) throws {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.prefix(raw.count - 1).enumerated() { raw[index] = byte }
        }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        try check(rc, "bind", path)
    }

    static func chown(_ path: Path, _ uid: UInt32, _ gid: UInt32) throws { try check(withC(path) { lchown($0, uid, gid) }, "chown", path) }
    static func chmod(_ path: Path, _ mode: mode_t) throws { try check(withC(path) { Glibc.chmod($0, mode) }, "chmod", path) }

    static func setTime(_ path: Path, seconds: Int, nanoseconds: Int) throws {
        let time = timespec(tv_sec: seconds, tv_nsec: nanoseconds)
        try check(withC(path) { utimensat(AT_FDCWD, $0, [time, time], AT_SYMLINK_NOFOLLOW) }, "utimensat", path)
    }

    static func setXattr(_ path: Path, _ name: String, _ value: [UInt8]) throws {
        try POSIX.setExtendedAttribute(NameCodec.decode(path), ExtendedAttribute(name: name, value: value))
    }

    /// A POSIX access ACL (user::rw-, user:UID:r--, group::r--, mask::r--, other::---) in the
    /// kernel's xattr form.
    static func accessACL(namedUser uid: UInt32) -> [UInt8] {
        func entry(_ tag: UInt16, _ perm: UInt16, _ id: UInt32) -> [UInt8] {
            withUnsafeBytes(of: tag.littleEndian, Array.init) + withUnsafeBytes(of: perm.littleEndian, Array.init)
                + withUnsafeBytes(of: id.littleEndian, Array.init)
        }
        return withUnsafeBytes(of: UInt32(2).littleEndian, Array.init)
            + entry(0x01, 6, UInt32.max) + entry(0x02, 4, uid) + entry(0x04, 4, UInt32.max) + entry(0x10, 4, UInt32.max)
            + entry(0x20, 0, UInt32.max)
    }

    /// What the kernel says about one entry.
    struct Facts: Equatable {
        var type: mode_t
        var mode: mode_t
        var uid: UInt32
        var gid: UInt32
        var size: Int64
        var mtime: [Int]
        var target: Path?
        var content: String?
        var device: UInt64
        var xattrs: [String: [UInt8]]
        var inode: UInt64
        var blocks: Int64

        /// Equal in everything a restore must keep (inode and allocation aside).
        func matches(_ other: Facts, owners: Bool) -> [String] {
            var out: [String] = []
            if type != other.type { out.append("type \(String(type, radix: 8)) vs \(String(other.type, radix: 8))") }
            if mode != other.mode && type != S_IFLNK { out.append("mode \(String(mode, radix: 8)) vs \(String(other.mode, radix: 8))") }
            if owners && (uid != other.uid || gid != other.gid) { out.append("owner \(uid):\(gid) vs \(other.uid):\(other.gid)") }
            if type == S_IFREG && size != other.size { out.append("size \(size) vs \(other.size)") }
            if mtime != other.mtime { out.append("mtime \(mtime) vs \(other.mtime)") }
            if target != other.target { out.append("link target differs") }
            if content != other.content { out.append("content differs") }
            if device != other.device { out.append("device \(device) vs \(other.device)") }
            if xattrs != other.xattrs { out.append("xattrs \(xattrs.keys.sorted()) vs \(other.xattrs.keys.sorted())") }
            return out
        }
    }

    /// Every entry under `root` by relative path (lstat, links never followed). Files up to
    /// 64 MiB are hashed; larger ones are compared separately.
    static func facts(_ root: Path) throws -> [Path: Facts] {
        var result: [Path: Facts] = [:]
        func walk(_ folder: Path, _ relative: Path?) throws {
            let stream = withC(folder) { opendir($0) }
            guard let stream else { throw Failure(description: "opendir \(NameCodec.decode(folder))") }
            var names: [Path] = []
            while let item = readdir(stream) {
                let name = withUnsafeBytes(of: item.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
                if name != [0x2E] && name != [0x2E, 0x2E] { names.append(name) }
            }
            closedir(stream)
            for name in names {
                let full = join(folder, name)
                let rel = relative.map { join($0, name) } ?? name
                var info = stat()
                try check(withC(full) { lstat($0, &info) }, "lstat", full)
                let type = info.st_mode & S_IFMT
                var target: Path?
                if type == S_IFLNK {
                    var buffer = [UInt8](repeating: 0, count: 8192)
                    let n = withC(full) { path in buffer.withUnsafeMutableBytes { readlink(path, $0.baseAddress!.assumingMemoryBound(to: CChar.self), 8192) } }
                    target = Array(buffer[0..<max(0, n)])
                }
                var content: String?
                if type == S_IFREG && info.st_size <= 64 << 20 {
                    if let raw = readAll(full) { content = ContentHash.hash(raw).id.description }
                }
                let attributes = try POSIX.extendedAttributes(NameCodec.decode(full))
                result[rel] = Facts(type: type, mode: info.st_mode & 0o7777, uid: info.st_uid, gid: info.st_gid, size: Int64(info.st_size),
                                    mtime: [info.st_mtim.tv_sec, info.st_mtim.tv_nsec], target: target, content: content,
                                    device: type == S_IFCHR || type == S_IFBLK ? UInt64(info.st_rdev) : 0,
                                    xattrs: Dictionary(uniqueKeysWithValues: attributes.map { ($0.name, $0.value) }),
                                    inode: UInt64(info.st_ino), blocks: Int64(info.st_blocks))
                if type == S_IFDIR { try walk(full, rel) }
            }
        }
        try walk(root, nil)
        return result
    }

    static func readAll(_ path: Path) -> [UInt8]? {
        let fd = withC(path) { open($0, O_RDONLY) }
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Groups of paths that are one file (hard links), as sorted lists.
    static func linkGroups(_ facts: [Path: Facts]) -> [[Path]] {
        var byInode: [UInt64: [Path]] = [:]
        for (path, fact) in facts where fact.type == S_IFREG { byInode[fact.inode, default: []].append(path) }
        return byInode.values.filter { $0.count > 1 }.map { $0.sorted { $0.lexicographicallyPrecedes($1) } }
            .sorted { $0[0].lexicographicallyPrecedes($1[0]) }
    }

    /// Every difference between two trees (restored against original), by path.
    static func differences(_ original: [Path: Facts], _ restored: [Path: Facts], owners: Bool,
                            skip: Set<Path> = [], extraAllowed: Bool = false) -> [String] {
        var out: [String] = []
        for (path, fact) in original where !skip.contains(path) {
            let shown = NameCodec.display(NameCodec.decode(path))
            guard let other = restored[path] else { out.append("\(shown): missing"); continue }
            for problem in fact.matches(other, owners: owners) { out.append("\(shown): \(problem)") }
        }
        if !extraAllowed {
            for path in restored.keys where original[path] == nil { out.append("\(NameCodec.display(NameCodec.decode(path))): unexpected") }
        }
        let a = linkGroups(original.filter { !skip.contains($0.key) })
        let b = linkGroups(restored.filter { original[$0.key] != nil && !skip.contains($0.key) })
        if a != b { out.append("hard-link groups differ: \(a.count) vs \(b.count)") }
        return out.sorted()
    }
}
