#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import TroveCore

/// Thin, throwing wrappers over the syscalls durability depends on (open, read, write, fsync,
/// rename, directory fsync), which neither Foundation nor swift-system offer in full.
public enum POSIX {
    /// An errno with the operation and path it came from.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let errno: Int32
        public let operation: String
        public let path: String
        public init(errno: Int32, operation: String, path: String) {
            self.errno = errno
            self.operation = operation
            self.path = path
        }
        public var description: String { "\(operation) \(path): \(String(cString: strerror(errno)))" }
        public var isNoSpace: Bool { errno == ENOSPC || errno == EDQUOT }
        public var isPermission: Bool { errno == EACCES || errno == EPERM || errno == EROFS }
        public var isMissing: Bool { errno == ENOENT || errno == ENOTDIR }
    }

    static func fail(_ operation: String, _ path: String) -> Failure {
        Failure(errno: errno, operation: operation, path: path)
    }

    /// Opens a file, retrying on EINTR.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> Int32 {
        while true {
            let fd = NameCodec.withCString(path) { Glibc.open($0, flags | O_CLOEXEC, mode) }
            if fd >= 0 { return fd }
            if errno != EINTR { throw fail("open", path) }
        }
    }

    /// Reads until the buffer is full or the file ends; returns the bytes read.
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String) throws -> Int {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return 0 }
            let n = Glibc.read(fd, base + done, buffer.count - done)
            if n > 0 { done += n } else if n == 0 { break } else if errno != EINTR { throw fail("read", path) }
        }
        return done
    }

    /// Writes the whole buffer, retrying short writes and EINTR.
    public static func writeFully(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < buffer.count {
            guard let base = buffer.baseAddress else { return }
            let n = Glibc.write(fd, base + done, buffer.count - done)
            if n >= 0 { done += n } else if errno != EINTR { throw fail("write", path) }
        }
    }

    /// Flushes a file's data and metadata to the drive.
    public static func fsync(_ fd: Int32, path: String) throws {
        if Glibc.fsync(fd) != 0 { throw fail("fsync", path) }
    }

    /// Flushes a folder so a rename or create inside it survives a crash.
    public static func fsyncDirectory(_ path: String) throws {
        let fd = try open(path, O_RDONLY | O_DIRECTORY)
        defer { Glibc.close(fd) }
        try fsync(fd, path: path)
    }

    /// Atomically renames within one filesystem.
    public static func rename(_ from: String, _ to: String) throws {
        let rc = NameCodec.withCString(from) { source in NameCodec.withCString(to) { Glibc.rename(source, $0) } }
        if rc != 0 { throw fail("rename", to) }
    }

    /// Removes a file; a missing file is not an error.
    public static func unlink(_ path: String) throws {
        if NameCodec.withCString(path, { Glibc.unlink($0) }) != 0 && errno != ENOENT { throw fail("unlink", path) }
    }

    /// Creates a folder; an existing one is fine.
    public static func mkdir(_ path: String, mode: mode_t = 0o755) throws {
        if NameCodec.withCString(path, { Glibc.mkdir($0, mode) }) != 0 && errno != EEXIST { throw fail("mkdir", path) }
    }

    /// `stat` of a path (following symlinks when `follow`); nil when it does not exist.
    public static func stat(_ path: String, follow: Bool = true) throws -> stat? {
        var info = Glibc.stat()
        let rc = NameCodec.withCString(path) { fstatat(AT_FDCWD, $0, &info, follow ? 0 : AT_SYMLINK_NOFOLLOW) }
        if rc == 0 { return info }
        if errno == ENOENT || errno == ENOTDIR { return nil }
        throw fail("stat", path)
    }

    /// Capacity and free bytes of the filesystem holding `path`.
    public static func space(_ path: String) throws -> (capacity: Int64, free: Int64) {
        var info = statvfs()
        if statvfs(path, &info) != 0 { throw fail("statvfs", path) }
        let unit = Int64(info.f_frsize)
        return (Int64(info.f_blocks) * unit, Int64(info.f_bavail) * unit)
    }

    /// Modification time of a stat result.
    public static func mtime(_ info: stat) -> Date {
        Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
    }

    public static func isDirectory(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFDIR }
    public static func isRegular(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFREG }
    public static func isSymlink(_ info: stat) -> Bool { (info.st_mode & S_IFMT) == S_IFLNK }
}



extension POSIX {
    private typealias SyncFSFunction = @convention(c) (Int32) -> Int32
    /// glibc's syncfs(2), looked up at run time: Swift's Glibc module hides GNU extensions.
    private static let syncfsFunction: SyncFSFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syncfs") else { return nil }
        return unsafeBitCast(symbol, to: SyncFSFunction.self)
    }()

    private typealias FallocateFunction = @convention(c) (Int32, Int32, off_t, off_t) -> Int32
    /// glibc's fallocate(2) (not posix_fallocate, which emulates a missing one by writing a
    /// byte into every block: slow on FUSE, a second full write on FAT).
    private static let fallocateFunction: FallocateFunction? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: FallocateFunction.self)
    }()

    /// Reserves `bytes` for a file where the filesystem can do it natively; returns 0, or the
    /// errno (ENOSPC and EDQUOT as ENOSPC). Filesystems that cannot reserve are left alone.
    public static func reserve(_ fd: Int32, bytes: UInt64) -> Int32 {
        guard let function = fallocateFunction else { return 0 }
        guard function(fd, 0, 0, off_t(bytes)) != 0 else { return 0 }
        return errno == ENOSPC || errno == EDQUOT ? ENOSPC : errno
    }

    /// Makes everything written to the filesystem holding `fd` durable with one device flush;
    /// false when unavailable, failed, or not trusted on that filesystem (FUSE and network
    /// filesystems may accept syncfs without reaching stable storage): callers then fsync
    /// file by file.
    /// True when `syncFilesystem` would flush the filesystem holding `fd` (decide before writing).
    public static func trustsSyncFilesystem(_ fd: Int32) -> Bool {
        syncfsFunction != nil && isLocalBlockFilesystem(fd)
    }

    public static func syncFilesystem(_ fd: Int32) -> Bool {
        guard let function = syncfsFunction, isLocalBlockFilesystem(fd) else { return false }
        return function(fd) == 0
    }

    /// ext2/3/4, XFS, Btrfs, F2FS, ZFS and tmpfs: filesystems whose syncfs is known to flush.
    static func isLocalBlockFilesystem(_ fd: Int32) -> Bool {
        var info = Glibc.stat()
        guard fstat(fd, &info) == 0, let type = FilesystemUUID.mountType(device: info.st_dev) else { return false }
        return ["ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "zfs", "tmpfs"].contains(type)
    }

    /// A timespec for a file time.
    public static func timespec(_ time: FileTime) -> Glibc.timespec {
        Glibc.timespec(tv_sec: Int(time.seconds), tv_nsec: Int(time.nanoseconds))
    }

    /// The modification time of a stat result, to the nanosecond.
    public static func fileTime(_ info: stat) -> FileTime {
        FileTime(seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int32(info.st_mtim.tv_nsec))
    }
}

extension TroveError {
    /// A clear error and a documented exit code for a system call's failure on a path.
    public static func from(_ failure: POSIX.Failure) -> TroveError {
        let path = NameCodec.display(failure.path)
        switch failure.errno {
        case ENAMETOOLONG:
            return TroveError(.usage, "\(path): the name or path is too long for the filesystem (\(failure.operation)); shorten it.")
        case ENOENT, ENOTDIR:
            return TroveError(.pathMissing, "\(path) does not exist (\(failure.operation)); check the path.")
        case EACCES, EPERM:
            return TroveError(.pathUnreadable, "\(path): permission denied (\(failure.operation)); fix its permissions.")
        case EROFS:
            return TroveError(.storeNotWritable, "\(path) is on a read-only filesystem (\(failure.operation)); remount it read-write or pick another place.")
        case ENOSPC, EDQUOT:
            return TroveError(.diskFull, "There is no space left for \(path) (\(failure.operation)); free some space and retry.")
        case ELOOP:
            return TroveError(.usage, "\(path): too many levels of symbolic links (\(failure.operation)).")
        default:
            return TroveError(.io, "\(failure.operation) \(path) failed: \(String(cString: strerror(failure.errno))); check the path and the drive holding it, then retry.")
        }
    }
}
