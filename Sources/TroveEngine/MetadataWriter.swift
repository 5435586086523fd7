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

    /// What metadata is set on: an open file (a restored file before its rename) or a path
    /// (folders, links, special files; never followed).
    enum Target {
        case open(Int32)
        case path
    }

    /// True when `entry` records an owner this process cannot give it.
    func ownerDiffers(_ entry: SnapshotEntry) -> Bool {
        guard !restoresOwners, let uid = entry.uid, let gid = entry.gid else { return false }
        return uid != geteuid() || gid != getegid()
    }

    /// Applies owner, attributes, mode (not to links) and time to an open file.
    func apply(_ entry: SnapshotEntry, fd: Int32, path: String) -> [String] { apply(entry, on: .open(fd), path: path) }

    /// Applies owner, attributes, mode (not to links) and time to `path`, never following a link.
    func apply(_ entry: SnapshotEntry, path: String) -> [String] { apply(entry, on: .path, path: path) }

    /// Returns what could not be set. A setuid or setgid file whose recorded owner is not given
    /// to it (not root, or chown refused) loses those bits: someone else's setuid program must
    /// not become setuid to the restoring user.
    private func apply(_ entry: SnapshotEntry, on target: Target, path: String) -> [String] {
        var problems: [String] = []
        func attempt(_ what: String, _ rc: () -> Int32) -> Bool {
            guard rc() != 0 else { return true }
            problems.append("\(what) (\(String(cString: strerror(errno))))")
            return false
        }
        var mode = mode_t(entry.mode)
        if ownerDiffers(entry) && mode & 0o6000 != 0 {
            problems.append("setuid/setgid cleared: the owner \(entry.uid ?? 0):\(entry.gid ?? 0) could not be restored (not root)")
            mode &= ~mode_t(0o6000)
        }
        if restoresOwners, let uid = entry.uid, let gid = entry.gid {
            let owned = attempt("owner \(uid):\(gid)") {
                switch target {
                case .open(let fd): fchown(fd, uid, gid)
                case .path: NameCodec.withCString(path) { lchown($0, uid, gid) }
                }
            }
            if !owned && mode & 0o6000 != 0 {
                problems[problems.count - 1] += "; setuid/setgid cleared"
                mode &= ~mode_t(0o6000)
            }
        }
        for attribute in entry.xattrs {
            do {
                switch target {
                case .open(let fd): try POSIX.setExtendedAttribute(fd, attribute, path: path)
                case .path: try POSIX.setExtendedAttribute(path, attribute)
                }
            } catch let failure as POSIX.Failure {
                problems.append("attribute \(attribute.name) (\(String(cString: strerror(failure.errno))))")
            } catch { problems.append("attribute \(attribute.name)") }
        }
        if entry.type != .symlink {
            _ = attempt("mode") {
                switch target {
                case .open(let fd): fchmod(fd, mode)
                case .path: NameCodec.withCString(path) { chmod($0, mode) }
                }
            }
        }
        let times = [POSIX.timespec(entry.mtime), POSIX.timespec(entry.mtime)]
        _ = attempt("modification time") {
            switch target {
            case .open(let fd): futimens(fd, times)
            case .path: NameCodec.withCString(path) { utimensat(AT_FDCWD, $0, times, AT_SYMLINK_NOFOLLOW) }
            }
        }
        return problems
    }
}
