#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TroveCore
import TroveStorage

/// What a restore did.
public struct RestoreReport: Sendable, Codable {
    public var snapshot: String
    public var path: String
    public var destination: String
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    public var bytes: UInt64 = 0
    /// Copies that were missing or corrupt on the way (other copies were used).
    public var badCopies: [String] = []
    public var seconds: Double = 0
}

extension Library {
    /// Restores a file or folder from a snapshot so that it becomes `destination` (like `cp -r`
    /// to a new name): verified content, modes, mtimes and symbolic links. Nothing is overwritten
    /// without `overwrite`; entries that would land outside the destination are refused.
    public func restore(_ spec: String, to rawDestination: String, overwrite: Bool = false,
                        progress: any ProgressReporter = SilentProgress()) throws -> RestoreReport {
        let started = Date()
        let (snapshot, inner) = try resolveSnapshotPath(spec)
        let destination = LibraryLocation.absolute(rawDestination)
        let all = try snapshotIndex.entries(of: snapshot, under: inner.isEmpty ? nil : inner)
        if !inner.isEmpty && !all.contains(where: { $0.path == inner }) {
            throw TroveError(.pathMissing, "\(inner) is not in snapshot \(snapshot.id.prefix(12)) of \(snapshot.root); `trove ls \(snapshot.id.prefix(12))` shows what is.")
        }
        // Map each entry to a path relative to the destination, refusing anything hostile.
        var plan: [(entry: SnapshotEntry, relative: String)] = []
        for entry in all {
            guard SafePath.isSafeRelative(entry.path) else {
                throw TroveError(.corruptData, "Refusing to restore: the snapshot holds an unsafe path '\(entry.path)' that would escape the destination. Nothing was written.")
            }
            let relative = inner.isEmpty ? entry.path
                : (entry.path.utf8.elementsEqual(inner.utf8) ? "" : SafePath.dropping(inner.utf8.count + 1, from: entry.path))
            plan.append((entry, relative))
        }
        if inner.isEmpty { plan.insert((SnapshotEntry(path: "", type: .directory, mode: 0o755), ""), at: 0) }
        try checkRestoreTargets(plan.map(\.relative), destination: destination, overwrite: overwrite)
        var report = RestoreReport(snapshot: snapshot.id, path: inner, destination: destination)
        let total = plan.reduce(0) { $0 + ($1.entry.type == .file ? $1.entry.size : 0) }
        progress.begin("restore", total: total, unit: .bytes)
        var folders: [(path: String, entry: SnapshotEntry)] = []
        var files: [(entry: SnapshotEntry, target: String)] = []
        // Folders and links first, in order; then file contents, several at a time.
        for (entry, relative) in plan {
            let target = relative.isEmpty ? destination : destination + "/" + relative
            try ensureNoSymlinkParents(target, under: destination)
            switch entry.type {
            case .directory:
                // Folders that already existed keep their own mode and times.
                if try makeFolder(target) { folders.append((target, entry)) }
                report.directories += 1
            case .symlink:
                if (try POSIX.stat(target, follow: false)) != nil { try POSIX.unlink(target) }
                guard symlink(entry.target ?? "", target) == 0 else {
                    throw TroveError(.io, "Cannot create the link \(target): \(String(cString: strerror(errno))).")
                }
                setTimes(target, entry.mtimeNs, followLink: false)
                report.symlinks += 1
            case .file:
                files.append((entry, target))
            }
        }
        // Opened before any file is written, so syncfs reports write-back errors of this restore.
        let syncFD = try? POSIX.open(destination, O_RDONLY | O_DIRECTORY)
        defer { if let syncFD { close(syncFD) } }
        let stores = snapshot.external ? [] : try observeStores()
        let work = files
        let counter = ProgressCounter(progress)
        let outcomes = ResultBox<Result<[String], Error>>(count: files.count)
        runConcurrently(work.count, lanes: ioLanes) { index in
            let (entry, target) = work[index]
            outcomes.set(index, Result {
                try self.ensureNoSymlinkParents(target, under: destination)
                if let source = snapshot.source, snapshot.external {
                    try self.copyExternal(source + "/" + entry.path, to: target, entry: entry)
                    return []
                }
                guard let id = entry.fileID else { return [] }
                return try self.writeVerified(try self.fileRecord(id), to: target, mode: mode_t(entry.mode), mtimeNs: entry.mtimeNs,
                                         stores: stores, sync: false).bad
            })
            counter.add(entry.size)
        }
        for outcome in outcomes.values { report.badCopies += try outcome.get() }
        report.files = files.count
        report.bytes = files.reduce(0) { $0 + $1.entry.size }
        // Folder modes and times last, deepest first, so writing inside them does not undo it.
        for (folder, entry) in folders.reversed() {
            chmod(folder, mode_t(entry.path.isEmpty && inner.isEmpty ? 0o755 : entry.mode))
            if !(entry.path.isEmpty && inner.isEmpty) { setTimes(folder, entry.mtimeNs, followLink: true) }
        }
        // One flush makes every restored file durable before we say it is done; where that is
        // not possible each file is fsynced, and any failure fails the restore.
        if syncFD == nil || !POSIX.syncFilesystem(syncFD ?? -1) {
            for (_, target) in files {
                let fd = try POSIX.open(target, O_RDONLY)
                defer { close(fd) }
                do { try POSIX.fsync(fd, path: target) } catch let failure as POSIX.Failure {
                    throw TroveError(.io, "The restored file \(target) could not be made durable (\(failure)); the destination drive may be failing.")
                }
            }
        }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        try catalog.apply([.event(Event(time: clock.now(), kind: .restoreFinished, details: [
            "snapshot": .text(snapshot.id), "path": .text(inner), "destination": .text(destination),
            "files": DetailValue(report.files), "bad_copies": DetailValue(report.badCopies.count),
        ]))])
        return report
    }

    /// Refuses before writing anything when a target exists (without `overwrite`) or when the
    /// destination's parent is missing.
    func checkRestoreTargets(_ relatives: [String], destination: String, overwrite: Bool) throws {
        let parent = (destination as NSString).deletingLastPathComponent
        guard let info = try POSIX.stat(parent), POSIX.isDirectory(info) else {
            throw TroveError(.pathMissing, "The folder \(parent) does not exist; create it first.")
        }
        guard !overwrite else { return }
        var existing: [String] = []
        for relative in relatives {
            let target = relative.isEmpty ? destination : destination + "/" + relative
            // Existing folders are merged into; anything else in the way is a conflict.
            if let found = try POSIX.stat(target, follow: false), !POSIX.isDirectory(found) { existing.append(target) }
        }
        if !existing.isEmpty {
            let shown = existing.prefix(3).joined(separator: ", ") + (existing.count > 3 ? " and \(existing.count - 3) more" : "")
            throw TroveError(.usage, "\(shown) already exist\(existing.count == 1 ? "s" : ""); pass --overwrite to replace, or restore to a new folder. Nothing was written.")
        }
    }

    /// Refuses to write through a symbolic link planted inside the destination.
    func ensureNoSymlinkParents(_ target: String, under destination: String) throws {
        var current = (target as NSString).deletingLastPathComponent
        while current.count >= destination.count && current.hasPrefix(destination) {
            if let info = try POSIX.stat(current, follow: false), POSIX.isSymlink(info) {
                throw TroveError(.corruptData, "Refusing to restore \(target): \(current) is a symbolic link, so the file would land outside \(destination).")
            }
            current = (current as NSString).deletingLastPathComponent
        }
    }

    /// Creates a folder; false when it already existed.
    func makeFolder(_ path: String) throws -> Bool {
        if let info = try POSIX.stat(path, follow: false) {
            guard POSIX.isDirectory(info) else {
                throw TroveError(.usage, "\(path) exists and is not a folder; move it away or restore elsewhere.")
            }
            return false
        }
        do { try POSIX.mkdir(path, mode: 0o700); return true } catch let failure as POSIX.Failure {
            if failure.isNoSpace { throw TroveError(.diskFull, "There is no space left to create \(path).") }
            throw TroveError(.storeNotWritable, "Cannot create \(path) (\(failure)); pick a writable destination.")
        }
    }

    func setTimes(_ path: String, _ mtimeNs: Int64, followLink: Bool) {
        let time = POSIX.timespec(nanoseconds: mtimeNs)
        let times = [time, time]
        utimensat(AT_FDCWD, path, times, followLink ? 0 : AT_SYMLINK_NOFOLLOW)
    }

    /// Copies a file out of an external (ZFS, btrfs, dated) snapshot folder.
    func copyExternal(_ source: String, to target: String, entry: SnapshotEntry) throws {
        let tmp = (target as NSString).deletingLastPathComponent + "/." + (target as NSString).lastPathComponent + ".trove-tmp"
        do {
            if FileManager.default.fileExists(atPath: tmp) { try FileManager.default.removeItem(atPath: tmp) }
            try FileManager.default.copyItem(atPath: source, toPath: tmp)
            chmod(tmp, mode_t(entry.mode))
            setTimes(tmp, entry.mtimeNs, followLink: true)
            try POSIX.rename(tmp, target)
        } catch let error as TroveError { throw error } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw TroveError(.io, "Cannot copy \(source) from the external snapshot: \(error.localizedDescription).")
        }
    }
}
