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
}
