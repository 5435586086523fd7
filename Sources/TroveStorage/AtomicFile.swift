#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Replaces a small file atomically: write a temporary sibling, fsync, rename, fsync the folder.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, in folder: String, mode: mode_t = 0o644) throws {
        let tmp = path + ".tmp-\(getpid())"
        do { try writeSynced(data, to: tmp, flags: O_TRUNC, mode: mode) } catch {
            try? POSIX.unlink(tmp)
            throw error
        }
        try POSIX.rename(tmp, path)
        try POSIX.fsyncDirectory(folder)
    }

    /// Writes a file whole only if none of that name exists: of two writers at once exactly one
    /// wins (the name is linked to a complete, synced file, which fails if the name is taken).
    /// Returns false when the name was taken.
    public static func create(_ data: Data, at path: String, in folder: String, mode: mode_t = 0o644) throws -> Bool {
        let tmp = path + ".new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? POSIX.unlink(tmp) }
        try writeSynced(data, to: tmp, flags: O_EXCL, mode: mode)
        do { try POSIX.link(tmp, as: path) } catch let failure as POSIX.Failure where failure.errno == EEXIST { return false }
        try POSIX.fsyncDirectory(folder)
        return true
    }

    /// Writes `data` into a new file at `path` and syncs it.
    static func writeSynced(_ data: Data, to path: String, flags: Int32, mode: mode_t) throws {
        let fd = try POSIX.open(path, O_WRONLY | O_CREAT | flags, mode: mode)
        defer { Glibc.close(fd) }
        try data.withUnsafeBytes { try POSIX.writeFully(fd, $0, path: path) }
        try POSIX.fsync(fd, path: path)
    }
}
