#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TroveCore
import TroveStorage
import TroveStores

/// What a restore did.
public struct RestoreReport: Sendable, Codable {
    public var snapshot: String
    public var path: String
    public var destination: String
    public var files = 0
    public var directories = 0
    public var symlinks = 0
    /// Extra names of hard-linked files, linked (not copied) to the first.
    public var hardLinks = 0
    /// FIFOs and device nodes.
    public var special = 0
    public var bytes: UInt64 = 0
    /// Copies that were missing or corrupt on the way (other copies were used).
    public var badCopies: [String] = []
    /// Entries or attributes that could not be restored, with the reason (the restore exits 1).
    public var notRestored: [SkippedPath] = []
    /// Entries whose recorded owner was not set because Trove does not run as root.
    public var ownersNotRestored = 0
    public var seconds: Double = 0
}

extension Library {
    /// Restores a file or folder from a snapshot with every recorded attribute: verified content
    /// (holes re-created), mode with setuid/setgid/sticky, times to the nanosecond, owner and group
    /// (as root), extended attributes, hard links, symbolic links, FIFOs and devices (as root).
    ///
    /// Where it lands: a restored folder's contents go into `destination` (created if missing;
    /// an existing folder is merged into); a restored file goes inside `destination` when that is
    /// an existing folder, and otherwise becomes `destination`. Nothing is replaced without
    /// `overwrite`, a folder holding files is never replaced by a file, and entries that would
    /// land outside the destination are refused. Every conflict is found before anything is written.
    public func restore(_ spec: String, to rawDestination: String, overwrite: Bool = false,
                        progress: any ProgressReporter = SilentProgress()) throws -> RestoreReport {
        let started = Date()
        let (snapshot, inner) = try resolveSnapshotPath(spec)
        var destination = LibraryLocation.absolute(rawDestination)
        // A destination that is a link to a folder (~/Docs → /data/Docs) is that folder: merged
        // into, never replaced by a new folder on another disk.
        if let link = try POSIX.stat(destination, follow: false), POSIX.isSymlink(link),
           let target = try POSIX.stat(destination, follow: true), POSIX.isDirectory(target) {
            destination = (destination as NSString).resolvingSymlinksInPath
        }
        let under = inner.isEmpty ? nil : inner
        let item = try under.flatMap { try snapshotIndex.versions(of: snapshot, under: $0, after: nil, limit: 1).first?.entry }
        if let under, item.map({ $0.path.utf8.elementsEqual(under.utf8) }) != true {
            throw TroveError(.pathMissing, "\(NameCodec.display(inner)) is not in snapshot \(snapshot.id.prefix(12)) of \(snapshot.root); `trove ls \(snapshot.id.prefix(12))` shows what is.")
        }
        if let item, item.type != .directory, let found = try POSIX.stat(destination), POSIX.isDirectory(found) {
            destination += "/" + item.name
        }
        // Each entry's path relative to the destination.
        func relativePath(_ path: String) -> String {
            inner.isEmpty ? path : (path.utf8.elementsEqual(inner.utf8) ? "" : SafePath.dropping(inner.utf8.count + 1, from: path))
        }
        // The snapshotted folder's own metadata, when the snapshot recorded it.
        let recordedRoot = inner.isEmpty ? snapshot.rootEntry.flatMap { try? Manifest.entry(fromLine: Array($0.utf8), path: "") } : nil
        let rootRecorded = !inner.isEmpty || recordedRoot != nil
        let rootEntry = inner.isEmpty ? recordedRoot ?? SnapshotEntry(path: "", type: .directory, mode: 0o755) : nil
        // First pass, a page at a time: refuse anything hostile and find every conflict before
        // anything is written; the entries go to a spool file for the second pass, so memory
        // does not grow with the tree.
        let metadata = MetadataWriter()
        var report = RestoreReport(snapshot: snapshot.id, path: inner, destination: destination)
        var targets = try RestoreTargetCheck(library: self, destination: destination, overwrite: overwrite)
        let spool = try EntrySpool(in: path)
        var total: UInt64 = 0
        // First names of hard-linked files (the paths later names point to).
        var linked = Set<PathKey>()
        func plan(_ entry: SnapshotEntry, _ relative: String) throws {
            try targets.check(entry.type, relative)
            if let first = entry.hardLink { linked.insert(PathKey(first)) }
            if entry.type == .file { total += entry.size }
            if metadata.ownerDiffers(entry) { report.ownersNotRestored += 1 }
        }
        if let rootEntry { try plan(rootEntry, "") }
        var pages = VersionCursor { after, limit in try self.snapshotIndex.versions(of: snapshot, under: under, after: after, limit: limit) }
        try pages.finish { version in
            guard SafePath.isSafeRelative(version.entry.path) else {
                throw TroveError(.corruptData, "Refusing to restore: the snapshot holds an unsafe path '\(NameCodec.display(version.entry.path))' that would escape the destination. Nothing was written.")
            }
            try plan(version.entry, relativePath(version.entry.path))
            try spool.append(version.entry)
        }
        try targets.finish()
        progress.begin("restore", total: total, unit: .bytes)
        defer { progress.finish() }
        var folders: [(path: String, entry: SnapshotEntry)] = []
        var files: [(entry: SnapshotEntry, target: String)] = []
        var links: [(entry: SnapshotEntry, target: String, leader: String)] = []
        var written: UInt64 = 0
        // Later names of a hard-linked file are linked to the first name of the group restored
        // (by the first name's snapshot path): only those are remembered, not every file.
        var groupTarget: [PathKey: String] = [:]
        func notRestored(_ target: String, _ reasons: [String]) {
            for reason in reasons { report.notRestored.append(.init(path: target, reason: reason)) }
        }
        // Opened before anything is written, so syncfs reports write-back errors of this restore;
        // where one filesystem sync cannot be trusted, every file is fsynced as it is written.
        let syncFolder = (try? POSIX.stat(destination)).map(POSIX.isDirectory) == true
            ? destination : (destination as NSString).deletingLastPathComponent
        let syncFD = try? POSIX.open(syncFolder, O_RDONLY | O_DIRECTORY)
        defer { if let syncFD { close(syncFD) } }
        let oneSync = syncFD.map(POSIX.trustsSyncFilesystem) ?? false
        // A single file, link or special file lands in an existing folder: clear a killed run's
        // temporaries there (folders are cleared as the plan reaches them).
        if rootEntry == nil && item?.type != .directory { Self.removeStaleTemporaries(in: (destination as NSString).deletingLastPathComponent) }
        // File contents several at a time, a batch at a time; then the batch's hard links.
        func writeBatch() throws {
            try restoreContents(files, snapshot: snapshot, destination: destination, metadata: metadata,
                                syncEach: !oneSync, report: &report, progress: PartProgress(whole: progress, before: written))
            written += files.reduce(0) { $0 + $1.entry.size }
            files.removeAll(keepingCapacity: true)
            for (_, target, leader) in links {
                try clear(target)
                do { try POSIX.link(leader, as: target) } catch let failure as POSIX.Failure {
                    throw Self.destinationError(failure, target)
                }
                report.hardLinks += 1
            }
            links.removeAll(keepingCapacity: true)
        }
        do {
            // Folders, links and special files as they come, in order.
            var entries = try spool.reader()
            var next: SnapshotEntry? = rootEntry
            if next == nil { next = try entries.next() }
            while let entry = next {
                next = try entries.next()
                let relative = entry.path.isEmpty ? "" : relativePath(entry.path)
                let target = relative.isEmpty ? destination : destination + "/" + relative
                try ensureNoSymlinkParents(target, under: destination)
                switch entry.type {
                case .directory:
                    // Made private until its metadata is set last; a destination the snapshot
                    // has no metadata for gets an ordinary mode at once. Existing folders keep
                    // their own metadata unless overwriting.
                    let unrecordedRoot = entry.path.isEmpty && !rootRecorded
                    let created = try makeFolder(target, replacing: overwrite, mode: unrecordedRoot ? 0o755 : 0o700)
                    // A restore killed earlier may have left temporaries here.
                    if !created { Self.removeStaleTemporaries(in: target) }
                    if created || (overwrite && (rootRecorded || !entry.path.isEmpty)) { folders.append((target, entry)) }
                    report.directories += 1
                case .symlink:
                    try clear(target)
                    do { try POSIX.symlink(entry.target ?? "", at: target) } catch let failure as POSIX.Failure {
                        throw Self.destinationError(failure, target)
                    }
                    notRestored(target, metadata.apply(entry, path: target))
                    report.symlinks += 1
                case .fifo, .charDevice, .blockDevice:
                    try clear(target)
                    do {
                        if entry.type == .fifo {
                            try POSIX.makeFIFO(target, mode: mode_t(entry.mode))
                        } else {
                            try POSIX.makeDevice(target, character: entry.type == .charDevice, mode: mode_t(entry.mode),
                                                 device: entry.device ?? 0)
                        }
                        notRestored(target, metadata.apply(entry, path: target))
                        report.special += 1
                    } catch let failure as POSIX.Failure where failure.isPermission {
                        notRestored(target, ["device node not created (only root can; \(String(cString: strerror(failure.errno))))"])
                    }
                case .file:
                    // An empty folder in the way (allowed with --overwrite) cannot be renamed over.
                    if let found = try POSIX.stat(target, follow: false), POSIX.isDirectory(found) { try clear(target) }
                    let group = PathKey(entry.hardLink ?? entry.path)
                    if let leader = groupTarget[group] {
                        links.append((entry, target, leader))
                    } else {
                        if entry.hardLink != nil || linked.contains(group) { groupTarget[group] = target }
                        files.append((entry, target))
                    }
                    if files.count + links.count >= Self.restoreBatch { try writeBatch() }
                }
            }
            try writeBatch()
        } catch {
            // Folders made so far still get their final modes and times; content already
            // written stays (whole and verified), and no temporary is left behind.
            finishFolders(folders, rootRecorded: rootRecorded, metadata: metadata)
            let done = "\(report.files) file\(report.files == 1 ? "" : "s") and \(report.directories) folder\(report.directories == 1 ? "" : "s") were restored to \(destination) before this; the rest was not"
            if let trove = error as? TroveError { throw TroveError(trove.code, "\(trove.message) (\(done).)") }
            throw TroveError(.io, "\(error) (\(done).)")
        }
        // Folder metadata last, deepest first, so writing inside them does not undo it.
        for problem in finishFolders(folders, rootRecorded: rootRecorded, metadata: metadata) {
            report.notRestored.append(problem)
        }
        // Everything (files, links, folders and their times) durable before we say it is done.
        try makeDurable(syncFD: oneSync ? syncFD : nil, filesSynced: !oneSync) { each in
            if let rootEntry { try each(destination, rootEntry.type) }
            var entries = try spool.reader()
            while let entry = try entries.next() {
                let relative = relativePath(entry.path)
                try each(relative.isEmpty ? destination : destination + "/" + relative, entry.type)
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        try catalog.apply([.event(Event(time: clock.now(), kind: .restoreFinished, details: [
            "snapshot": .text(snapshot.id), "path": .text(inner), "destination": .text(destination),
            "files": DetailValue(report.files), "bad_copies": DetailValue(report.badCopies.count),
        ]))])
        return report
    }

    /// Files (and hard links) a restore writes per batch: enough to keep every lane busy.
    static let restoreBatch = 4096

    /// Writes file contents (verified, several at a time) with their metadata, then makes them
    /// durable with one filesystem sync (or file by file where that is not possible).
    private func restoreContents(_ files: [(entry: SnapshotEntry, target: String)], snapshot: SnapshotRecord,
                                 destination: String, metadata: MetadataWriter, syncEach: Bool, report: inout RestoreReport,
                                 progress: any ProgressReporter) throws {
        let stores = snapshot.external ? [] : try observeStores()
        let counter = ProgressCounter(progress)
        let outcomes = ResultBox<Result<Written?, Error>>(count: files.count)
        // Neighbouring files (taken by different lanes) lie in different folders wherever the
        // batch spans several (`folderInterleaved`); outcomes keep the batch's order.
        let order = folderInterleaved(files.map(\.target))
        runConcurrently(files.count, lanes: ioLanes) { step in
            let index = order[step]
            let (entry, target) = files[index]
            outcomes.set(index, Result {
                try self.ensureNoSymlinkParents(target, under: destination)
                if let source = snapshot.source, snapshot.external {
                    let problems = try self.copyExternal(source + "/" + entry.path, to: target, entry: entry, metadata: metadata)
                    return Written(store: "external", bad: [], problems: problems)
                }
                guard let id = entry.fileID else { return nil }
                return try self.writeVerified(try self.fileRecord(id), to: target, sparse: entry.sparse,
                                              finish: { fd, path in metadata.apply(entry, fd: fd, path: path) },
                                              stores: stores, sync: syncEach)
            })
            counter.add(entry.size)
        }
        var firstError: Error?
        for (index, outcome) in outcomes.values.enumerated() {
            switch outcome {
            case .success(let written):
                report.files += 1
                report.bytes += files[index].entry.size
                if let written {
                    report.badCopies += written.bad
                    report.notRestored += written.problems.map { SkippedPath(path: files[index].target, reason: $0) }
                }
            case .failure(let error):
                if firstError == nil { firstError = error }
            }
        }
        if let firstError { throw firstError }
    }

    /// One filesystem sync makes the whole restore durable; where that is not trusted (or fails)
    /// each file is fsynced (already, through its own descriptor, when `filesSynced`) and then
    /// every folder that received an entry, so the renames and links survive a crash too.
    /// `targets` gives every restored path and its type to the function it is passed.
    func makeDurable(syncFD: Int32?, filesSynced: Bool,
                     targets: (_ each: (_ target: String, _ type: EntryType) throws -> Void) throws -> Void) throws {
        if let syncFD, POSIX.syncFilesystem(syncFD) { return }
        func failed(_ path: String, _ failure: POSIX.Failure) -> TroveError {
            TroveError(.io, "The restored \(NameCodec.display(path)) could not be made durable (\(failure)); the destination drive may be failing.")
        }
        var folders = Set<String>()
        try targets { target, type in
            folders.insert((target as NSString).deletingLastPathComponent)
            if type == .directory { folders.insert(target) }
            guard type == .file, !filesSynced, (try? POSIX.stat(target, follow: false)) != nil else { return }
            do {
                let fd = try POSIX.open(target, O_RDONLY | O_NOFOLLOW)
                defer { close(fd) }
                try POSIX.fsync(fd, path: target)
            } catch let failure as POSIX.Failure { throw failed(target, failure) }
        }
        for folder in folders.sorted() where (try? POSIX.stat(folder, follow: false)).map(POSIX.isDirectory) == true {
            do { try POSIX.fsyncDirectory(folder) } catch let failure as POSIX.Failure { throw failed(folder, failure) }
        }
    }

    /// Sets folders' owners, attributes, modes and times, deepest first; returns what failed.
    @discardableResult
    func finishFolders(_ folders: [(path: String, entry: SnapshotEntry)], rootRecorded: Bool,
                       metadata: MetadataWriter) -> [SkippedPath] {
        var problems: [SkippedPath] = []
        for (folder, entry) in folders.reversed() {
            // A destination the snapshot has no metadata for keeps the mode it was made with.
            if entry.path.isEmpty && !rootRecorded { continue }
            problems += metadata.apply(entry, path: folder).map { SkippedPath(path: folder, reason: $0) }
        }
        return problems
    }

    /// Copies a file out of an external (ZFS, btrfs, dated) snapshot folder, by its exact name
    /// bytes, with holes and every attribute (as restores from the stores do).
    func copyExternal(_ source: String, to target: String, entry: SnapshotEntry, metadata: MetadataWriter) throws -> [String] {
        let input: Int32
        do { input = try POSIX.open(source, O_RDONLY | O_NOFOLLOW) } catch let failure as POSIX.Failure {
            throw TroveError(.io, "Cannot read \(NameCodec.display(source)) from the external snapshot (\(failure)).")
        }
        defer { close(input) }
        let folder = (target as NSString).deletingLastPathComponent
        let tmp = Self.temporaryName(in: folder)
        var problems: [String] = []
        do {
            let writer = try SequentialFileWriter.create(tmp, flags: O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600,
                                                         size: entry.size, in: folder, sparse: entry.sparse)
            defer { close(writer.fd) }
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: DirectIO.alignment)
            defer { buffer.deallocate() }
            while true {
                let count = try POSIX.readFully(input, into: buffer, path: source)
                if count == 0 { break }
                try writer.write(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            }
            try writer.finish()
            problems = metadata.apply(entry, fd: writer.fd, path: target)
            try POSIX.rename(tmp, target)
        } catch let failure as POSIX.Failure {
            try? POSIX.unlink(tmp)
            throw Self.destinationError(failure, target)
        } catch {
            try? POSIX.unlink(tmp)
            throw error
        }
        return problems
    }
}
