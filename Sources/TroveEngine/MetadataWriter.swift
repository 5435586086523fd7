#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// Gives a restored entry its recorded metadata, in the one order that works: owner first
/// (chown clears setuid and setgid), then extended attributes (an ACL rewrites group bits),
/// then the mode, then the times (every other change touches ctime, and writing into a folder
/// touches its mtime, so folders are finished last by the caller).
struct MetadataWriter: Sendable {
    /// Owners are restored only by root; others cannot give files away.
    let restoresOwners: Bool

    init(restoresOwners: Bool = geteuid() == 0) {
        self.restoresOwners = restoresOwners
    }

    /// True when `entry` records an owner this process cannot give it.
    func ownerDiffers(_ entry: SnapshotEntry) -> Bool {
        guard !restoresOwners, let uid = entry.uid, let gid = entry.gid else { return false }
        return uid != geteuid() || gid != getegid()
    }

    /// Applies owner, attributes, mode and time to an open file; returns what could not be set.
    func apply(_ entry: SnapshotEntry, fd: Int32, path: String) -> [String] {
        var problems: [String] = []
        var mode = mode_t(entry.mode)
        if restoresOwners, let uid = entry.uid, let gid = entry.gid, fchown(fd, uid, gid) != 0 {
            problems.append("owner \(uid):\(gid) (\(String(cString: strerror(errno)))); setuid/setgid cleared")
            mode &= ~mode_t(0o6000)
        } else if ownerDiffers(entry) && mode & 0o6000 != 0 {
            // Someone else's setuid program must not become setuid to the restoring user.
            problems.append("setuid/setgid cleared: the owner \(entry.uid ?? 0):\(entry.gid ?? 0) could not be restored (not root)")
            mode &= ~mode_t(0o6000)
        }
        for attribute in entry.xattrs {
            do { try POSIX.setExtendedAttribute(fd, attribute, path: path) } catch let failure as POSIX.Failure {
                problems.append("attribute \(attribute.name) (\(String(cString: strerror(failure.errno))))")
            } catch { problems.append("attribute \(attribute.name)") }
        }
        if fchmod(fd, mode) != 0 { problems.append("mode (\(String(cString: strerror(errno))))") }
        let times = [POSIX.timespec(entry.mtime), POSIX.timespec(entry.mtime)]
        if futimens(fd, times) != 0 { problems.append("modification time (\(String(cString: strerror(errno))))") }
        return problems
    }

    /// Applies owner, attributes, mode (not for links) and time to a path, never following a link.
    func apply(_ entry: SnapshotEntry, path: String, mode: Bool = true, time: Bool = true) -> [String] {
        var problems: [String] = []
        func attempt(_ what: String, _ body: () throws -> Void) {
            do { try body() } catch let failure as POSIX.Failure {
                problems.append("\(what) (\(String(cString: strerror(failure.errno))))")
            } catch { problems.append(what) }
        }
        var bits = mode_t(entry.mode)
        if ownerDiffers(entry) && bits & 0o6000 != 0 {
            problems.append("setuid/setgid cleared: the owner \(entry.uid ?? 0):\(entry.gid ?? 0) could not be restored (not root)")
            bits &= ~mode_t(0o6000)
        }
        if restoresOwners, let uid = entry.uid, let gid = entry.gid {
            let before = problems.count
            attempt("owner \(uid):\(gid)") { try POSIX.changeOwner(path, uid: uid, gid: gid) }
            // A setuid file whose owner could not be set must not become setuid to someone else.
            if problems.count > before && bits & 0o6000 != 0 {
                problems[before] += "; setuid/setgid cleared"
                bits &= ~mode_t(0o6000)
            }
        }
        for attribute in entry.xattrs {
            attempt("attribute \(attribute.name)") { try POSIX.setExtendedAttribute(path, attribute) }
        }
        if mode && entry.type != .symlink { attempt("mode") { try POSIX.changeMode(path, bits) } }
        if time { attempt("modification time") { try POSIX.setTimes(path, entry.mtime) } }
        return problems
    }
}
