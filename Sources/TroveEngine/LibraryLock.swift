#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Advisory locks between Trove processes sharing a library (flock: released if a process dies).
///
/// - `activity.lock`: imports and heals hold it shared; `gc` needs it exclusive, so it never
///   deletes an object an import has written but not yet recorded.
/// - `recovery.lock`: a heal holds it exclusive, so only one recovery runs at a time and `gc`
///   refuses to run during one (ZEORaid's rule).
/// - `records.lock`: one process at a time writes the library's records to the stores.
///
/// A library whose catalog is shared (PostgreSQL) takes the same locks in the catalog instead,
/// so they hold across machines (`SharedLocks`).
public final class LibraryLock {
    private let fd: Int32?
    /// A shared catalog's lock, released when freed.
    private let held: AnyObject?

    public enum Kind: String { case activity, recovery, records }

    private init(fd: Int32) { self.fd = fd; self.held = nil }
    init(held: AnyObject) { self.fd = nil; self.held = held }
    deinit { if let fd { close(fd) } }

    /// Takes a lock, waiting when `wait`; nil when it is held elsewhere and `wait` is false.
    public static func acquire(_ kind: Kind, in library: String, exclusive: Bool, wait: Bool) throws -> LibraryLock? {
        let path = "\(library)/\(kind.rawValue).lock"
        let fd: Int32
        do { fd = try POSIX.open(path, O_RDWR | O_CREAT, mode: 0o644) } catch {
            throw TroveError(.storeNotWritable, "Cannot create \(path) (\(error)); check the library folder's permissions.")
        }
        let operation = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)
        while flock(fd, operation) != 0 {
            if errno == EINTR { continue }
            close(fd)
            if errno == EWOULDBLOCK { return nil }
            throw TroveError(.io, "Cannot lock \(path): \(String(cString: strerror(errno))).")
        }
        return LibraryLock(fd: fd)
    }
}
