#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TroveCore
import TroveStorage

/// How an import should place copies.
public struct ImportOptions: Sendable {
    /// Write only to this store (label).
    public var store: String?
    /// Acknowledge a file only once this many stores hold verified copies.
    public var mirror: Int
    /// List every imported file in the report (else only the totals are kept).
    public var listFiles: Bool
    public init(store: String? = nil, mirror: Int = 1, listFiles: Bool = true) {
        self.store = store
        self.mirror = mirror
        self.listFiles = listFiles
    }
}

/// One imported file.
public struct ImportedFile: Sendable, Codable {
    public var path: String
    public var id: String
    public var size: UInt64
    /// The content was already in the library.
    public var duplicate: Bool
    /// Labels of the stores that now hold it.
    public var stores: [String]
}

/// What an import did.
public struct ImportReport: Sendable, Codable {
    public var imported: [ImportedFile] = []
    public var skipped: [SkippedPath] = []
    public var bytes: UInt64 = 0
    public var newFiles = 0
    public var duplicates = 0
    public var seconds: Double = 0
    /// Set when the import stopped early; files before it are safe and recorded.
    public var stoppedBy: String?
    /// False for snapshot content: no import records or per-file events.
    var recordOrigins = true
    /// False when only the totals are wanted: `imported` stays empty (a million files' list is
    /// hundreds of megabytes).
    var listsFiles = true

    /// Files imported (new and already in the library), listed or not.
    public var count: Int { newFiles + duplicates }

    enum CodingKeys: String, CodingKey {
        case imported, skipped, bytes, newFiles, duplicates, seconds, stoppedBy
    }
}

extension Library {
    /// Imports files and folders (recursively) into content-addressed stores.
    public func importPaths(_ rawPaths: [String], options: ImportOptions = ImportOptions(),
                            progress: any ProgressReporter = SilentProgress()) throws -> ImportReport {
        guard !rawPaths.isEmpty else { throw TroveError(.usage, "Name at least one file or folder to import.") }
        guard options.mirror >= 1 else { throw TroveError(.usage, "--mirror must be at least 1.") }
        let paths = rawPaths.map(LibraryLocation.absolute)
        try FileWalker.validate(paths)
        let folders = try storeFolders()
        for path in paths { try refuseStoreFolder(path, purpose: "import from", folders: folders) }
        // Held shared so `gc` never removes an object written but not yet recorded.
        let activityLock = try lock(.activity, exclusive: false, wait: true)
        defer { withExtendedLifetime(activityLock) {} }
        var walker = try FileWalker(excluded: Set([path] + (try storeFolders()).map(\.folder)), spoolIn: path)
        for path in paths { try walker.walk(path) }
        var found = try walker.files.reader()
        var report = try importFiles(total: walker.files.bytes, next: { try found.next() }, options: options, progress: progress)
        report.skipped = walker.skipped + report.skipped
        return report
    }

    /// Imports files already found; with `recordOrigins` false (snapshots) no import records
    /// or per-file events are written, since the snapshot manifest holds that information.
    func importFiles(_ files: [FoundFile], options: ImportOptions, recordOrigins: Bool = true,
                     progress: any ProgressReporter) throws -> ImportReport {
        var remaining = files.makeIterator()
        return try importFiles(total: files.reduce(0) { $0 + $1.size }, next: { remaining.next() }, options: options,
                               recordOrigins: recordOrigins, progress: progress)
    }

    /// Imports the files `next` gives until nil (`total` bytes in all, for progress).
    func importFiles(total: UInt64, next: () throws -> FoundFile?, options: ImportOptions, recordOrigins: Bool = true,
                     progress: any ProgressReporter) throws -> ImportReport {
        var candidates = try importTargets(options)
        let started = Date()
        var report = ImportReport()
        report.recordOrigins = recordOrigins
        report.listsFiles = options.listFiles
        progress.begin("import", total: total, unit: .bytes)
        defer { progress.finish() }
        let counter = ProgressCounter(progress)
        var batch = ImportBatch()
        var group: [FoundFile] = []
        do {
            while let file = try next() {
                if file.size < Self.batchedFileSize && options.mirror <= candidates.count {
                    group.append(file)
                    if group.count >= 64 {
                        try importSmall(group, mirror: options.mirror, candidates: &candidates, batch: &batch,
                                        report: &report, counter: counter)
                        group = []
                    }
                    continue
                }
                if !group.isEmpty {
                    try importSmall(group, mirror: options.mirror, candidates: &candidates, batch: &batch,
                                    report: &report, counter: counter)
                    group = []
                }
                let base = counter.done
                if let imported = try importFile(file, mirror: options.mirror, candidates: &candidates,
                                                 report: &report, progress: { progress.update(done: base + $0) }) {
                    report.add(imported)
                }
                counter.add(file.size)
            }
            if !group.isEmpty {
                try importSmall(group, mirror: options.mirror, candidates: &candidates, batch: &batch,
                                report: &report, counter: counter)
            }
            try flush(&batch, mirror: options.mirror, candidates: &candidates, report: &report)
        } catch let error as TroveError where [.diskFull, .storeNotConnected, .storeNotWritable, .io].contains(error.code) {
            // Files already written in full are still committed and recorded before stopping.
            do { try flush(&batch, mirror: options.mirror, candidates: &candidates, report: &report) } catch { batch.abort() }
            report.stoppedBy = error.message
            report.seconds = Date().timeIntervalSince(started)
            throw ImportStopped(report: report, error: error)
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }

    /// Stores an import may write to, best first: connected, trusted, accepting copies, most free space.
    func importTargets(_ options: ImportOptions) throws -> [ObservedStore] {
        if let label = options.store {
            let observed = try connectedStore(label)
            if observed.record.noNewCopies || observed.record.trust != .trusted {
                throw TroveError(.storeNotWritable, "Store '\(label)' is \(observed.record.trust.rawValue)\(observed.record.noNewCopies ? " and flagged no-new-copies" : ""); Trove will not place new copies there. Pick another store, or clear it with `trove store set \(label) --trust`.")
            }
            guard options.mirror == 1 else {
                throw TroveError(.usage, "--store picks one store, so it cannot be combined with --mirror \(options.mirror).")
            }
            return [observed]
        }
        let usable = try observeStores().filter { $0.isConnected && $0.record.trust == .trusted && !$0.record.noNewCopies }
        guard !usable.isEmpty else {
            throw TroveError(.storeNotConnected, "No store can take new copies: add one with `trove store add FOLDER`, or plug in a known drive (`trove store list`).")
        }
        // Copies on one disk are one copy: --mirror counts disks.
        let disks = Set(usable.map(\.record.domain)).count
        guard disks >= options.mirror else {
            throw TroveError(.usage, "--mirror \(options.mirror) needs \(options.mirror) connected stores on different disks that accept copies, but only \(disks) disk\(disks == 1 ? "" : "s") \(disks == 1 ? "has" : "have") one (\(usable.map(\.record.label).joined(separator: ", "))).")
        }
        // Ask each drive for its free space once, not once per comparison; the first store of
        // each disk comes first, so the first N targets are N disks.
        // Drives attached here come before remote stores (an import should not wait on the
        // network; heal copies off-site after), then the most free space.
        let free = usable.map { item in (item, freeBytes(item.store)) }
            .sorted { ($0.0.record.kind.isAttached ? 0 : 1, -$0.1) < ($1.0.record.kind.isAttached ? 0 : 1, -$1.1) }.map(\.0)
        var seen = Set<String>()
        let firsts = free.filter { seen.insert($0.record.domain).inserted }
        return firsts + free.filter { item in !firsts.contains { $0.record.id == item.record.id } }
    }

    /// Imports one file; nil when it was skipped (reported in `report.skipped`).
    func importFile(_ file: FoundFile, mirror: Int, candidates: inout [ObservedStore], report: inout ImportReport,
                    progress: @escaping (UInt64) -> Void) throws -> ImportedFile? {
        var placed: [ObservedStore] = []
        var result: LeafPipeline.Result?
        var lastError: TroveError?
        var attempts = 0
        while placed.count < mirror {
            let targets = Array(candidates.filter { c in !placed.contains { $0.record.id == c.record.id } }.prefix(mirror - placed.count))
            guard !targets.isEmpty else { break }
            attempts += 1
            let outcome: Outcome
            do {
                outcome = try write(file, to: targets, progress: progress)
            } catch let skip as SkippedPath {
                report.skipped.append(skip)
                return nil
            }
            if let id = outcome.result?.id, let expected = result?.id, id != expected {
                // The file changed between two passes: the copies do not agree.
                report.skipped.append(.init(path: file.path, reason: "changed while it was being imported; import it again when it is not being written"))
                return nil
            }
            result = outcome.result ?? result
            placed += outcome.placed
            for (observed, error) in outcome.failures {
                lastError = error
                candidates.removeAll { $0.record.id == observed.record.id }
                try recordWriteFailure(observed, error: error, path: file.path)
            }
            if outcome.result == nil && outcome.failures.isEmpty { break }
            if attempts > 8 { break }
        }
        guard let result, !placed.isEmpty else {
            throw lastError ?? TroveError(.storeNotConnected, "No store could take \(file.path).")
        }
        let duplicate = try catalog.file(result.id) != nil
        try catalog.apply(importChanges(file, result: result, placed: placed, duplicate: duplicate,
                                        recordOrigin: report.recordOrigins))
        if placed.count < mirror {
            throw TroveError(.diskFull, "\(file.path) is on \(placed.count) store(s) but --mirror asked for \(mirror): \(lastError?.message ?? "no other store can take it"). Add or free a store, then run `trove heal`.")
        }
        return ImportedFile(path: file.path, id: result.id.description, size: result.size, duplicate: duplicate,
                            stores: placed.map(\.record.label))
    }

    /// The catalog records of one imported file, its copies and its `file_imported` event.
    func importChanges(_ file: FoundFile, result: LeafPipeline.Result, placed: [ObservedStore],
                       duplicate: Bool, recordOrigin: Bool) -> [CatalogChange] {
        let now = clock.now()
        var changes: [CatalogChange] = [
            .insertFile(FileRecord(id: result.id, size: result.size, leafHashes: result.leaves, firstSeen: now)),
        ]
        if recordOrigin {
            changes.append(.addImport(ImportRecord(fileID: result.id, path: file.path, name: (file.path as NSString).lastPathComponent,
                                                   mtime: file.mtime, time: now)))
        }
        for observed in placed {
            changes.append(.saveCopy(CopyRecord(fileID: result.id, storeID: observed.record.id,
                                                copies: observed.record.copies, mtime: now, verified: now)))
        }
        guard recordOrigin else { return changes }
        changes.append(.event(Event(time: now, kind: .fileImported, storeID: placed.first?.record.id, fileID: result.id, details: [
            "path": .text(file.path), "size": .number(Int64(result.size)), "duplicate": .text(duplicate ? "yes" : "no"),
            "stores": .text(placed.map(\.record.label).joined(separator: ",")),
        ])))
        return changes
    }

    struct Outcome {
        var result: LeafPipeline.Result?
        var placed: [ObservedStore]
        var failures: [(ObservedStore, TroveError)]
        /// The uncommitted writers, when the caller commits them later (batched small files).
        var pending: MirrorWriter?
    }

    /// One pass over the file: hash every leaf while writing it to each target; commit only if the
    /// file did not change underneath.
    func write(_ file: FoundFile, to targets: [ObservedStore], commit: Bool = true,
               progress: @escaping (UInt64) -> Void) throws -> Outcome {
        let fd: Int32
        do { fd = try POSIX.open(file.path, O_RDONLY) } catch let failure as POSIX.Failure {
            throw SkippedPath(path: file.path, reason: failure.isMissing ? "vanished before it could be read" : "cannot be read: \(failure)")
        }
        defer { close(fd) }
        posix_fadvise(fd, 0, 0, Int32(POSIX_FADV_SEQUENTIAL))
        var before = stat()
        fstat(fd, &before)
        let mirror = MirrorWriter(stores: targets, expectedSize: UInt64(before.st_size))
        if mirror.live == 0 { return Outcome(result: nil, placed: [], failures: mirror.failures) }
        let result: LeafPipeline.Result
        do {
            result = try pipeline.run(source: { try POSIX.readFully(fd, into: $0, path: file.path) },
                                      sink: { _, bytes in try mirror.write(bytes) }, progress: progress)
        } catch let failure as POSIX.Failure {
            mirror.abort()
            throw SkippedPath(path: file.path, reason: "read failed: \(failure)")
        } catch {
            mirror.abort()
            return Outcome(result: nil, placed: [], failures: mirror.failures)
        }
        var after = stat()
        fstat(fd, &after)
        if after.st_size != before.st_size || after.st_mtim.tv_sec != before.st_mtim.tv_sec
            || after.st_mtim.tv_nsec != before.st_mtim.tv_nsec || result.size != UInt64(after.st_size) {
            mirror.abort()
            throw SkippedPath(path: file.path, reason: "changed while it was being read; import it again when it is not being written")
        }
        if !commit { return Outcome(result: result, placed: [], failures: mirror.failures, pending: mirror) }
        let placed = mirror.commit(as: result.id)
        return Outcome(result: result, placed: placed, failures: mirror.failures)
    }

    /// A store that failed mid-write stops getting copies; an I/O failure (not a full disk)
    /// also downgrades it, since its drive is suspect.
    func recordWriteFailure(_ observed: ObservedStore, error: TroveError, path: String) throws {
        let now = clock.now()
        var changes: [CatalogChange] = [.event(Event(time: now, kind: .writeFailed, storeID: observed.record.id, details: [
            "path": .text(path), "reason": .text(error.message),
        ]))]
        if error.code == .io, var record = try catalog.stores().first(where: { $0.id == observed.record.id }), record.trust == .trusted {
            record.trust = .downgraded
            changes.append(.saveStore(record))
            changes.append(.event(Event(time: now, kind: .storeDowngraded, storeID: record.id, details: [
                "reason": .text("write failed: \(error.message)"),
            ])))
        }
        try catalog.apply(changes)
        if error.code == .storeNotConnected { noteUnreachable(observed.record, reason: error.message) }
        logger.warning("store dropped from import", metadata: ["store": "\(observed.record.label)", "reason": "\(error.message)"])
    }
}

extension SkippedPath: Error {}

extension ImportReport {
    mutating func add(_ imported: ImportedFile) {
        if listsFiles { self.imported.append(imported) }
        bytes += imported.size
        if imported.duplicate { duplicates += 1 } else { newFiles += 1 }
    }
}

/// An import that stopped early: the files before the failure are imported and recorded.
public struct ImportStopped: Error, Sendable {
    public let report: ImportReport
    public let error: TroveError
}
