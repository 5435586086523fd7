#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Replaces a small file atomically: write a temporary sibling, fsync, rename, fsync the folder.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String, in folder: String) throws {
        let tmp = path + ".tmp-\(getpid())"
        let fd = try POSIX.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        do {
            try data.withUnsafeBytes { try POSIX.writeFully(fd, $0, path: tmp) }
            try POSIX.fsync(fd, path: tmp)
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
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
        let fd = try POSIX.open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: mode)
        defer { try? POSIX.unlink(tmp) }
        do {
            try data.withUnsafeBytes { try POSIX.writeFully(fd, $0, path: tmp) }
            try POSIX.fsync(fd, path: tmp)
            Glibc.close(fd)
        } catch {
            Glibc.close(fd)
            throw error
        }
        do { try POSIX.link(tmp, as: path) } catch let failure as POSIX.Failure where failure.errno == EEXIST { return false }
        try POSIX.fsyncDirectory(folder)
        return true
    }
}
