import Dispatch
import Foundation
import TroveCore
import TroveStorage

/// Small files written but not yet committed: they are made durable together (two filesystem
/// syncs for the batch instead of several journal commits per file) and recorded in one
/// catalog transaction. Nothing is acknowledged before that.
struct ImportBatch {
    struct Item {
        var file: FoundFile
        var result: LeafPipeline.Result
        var writers: [(ObservedStore, any ObjectWriter)]
    }
    var items: [Item] = []
    var bytes: UInt64 = 0

    /// Limits that bound what a crash can cost to re-import.
    static let maxFiles = 8192
    static let maxBytes: UInt64 = 64 << 20

    var isFull: Bool { items.count >= Self.maxFiles || bytes >= Self.maxBytes }

    mutating func abort() {
        for item in items { for (_, writer) in item.writers { writer.abort() } }
        items = []
        bytes = 0
    }
}

extension Library {
    /// Files that fit in one leaf are imported in batches: several are read, hashed and written
    /// at once (on `ioLanes` threads), and the batch shares its syncs and its catalog transaction.
    static let batchedFileSize = UInt64(ContentHash.leafSize)

    /// Writes a group of small files to the first `mirror` candidates, several at once (reading,
    /// hashing and writing each is independent), then settles them one by one in order.
    func importSmall(_ files: [FoundFile], mirror: Int, candidates: inout [ObservedStore], batch: inout ImportBatch,
                     report: inout ImportReport, counter: ProgressCounter) throws {
        let targets = Array(candidates.prefix(mirror))
        let outcomes = ResultBox<Result<Outcome, Error>>(count: files.count)
        runConcurrently(files.count, lanes: ioLanes) { index in
            outcomes.set(index, Result { try self.write(files[index], to: targets, commit: false, progress: { _ in }) })
            counter.add(files[index].size)
        }
        // Files written everywhere first, so a store that fails mid-group (say, full) costs
        // only the files it actually refused, whatever order the workers ran in.
        let settled = zip(files, outcomes.values).sorted { a, b in Self.cleanlyWritten(a.1) && !Self.cleanlyWritten(b.1) }
        for (file, outcome) in settled {
            try settleSmall(file, outcome, mirror: mirror, candidates: &candidates, batch: &batch, report: &report)
        }
    }

    static func cleanlyWritten(_ written: Result<Outcome, Error>) -> Bool {
        guard case .success(let outcome) = written else { return false }
        return outcome.result != nil && outcome.failures.isEmpty
    }

    /// Queues a written small file for the batched commit; a file whose write failed on some
    /// store goes through the one-by-one path instead (which picks other stores).
    func settleSmall(_ file: FoundFile, _ written: Result<Outcome, Error>, mirror: Int, candidates: inout [ObservedStore],
                     batch: inout ImportBatch, report: inout ImportReport) throws {
        let outcome: Outcome
        do {
            outcome = try written.get()
        } catch let skip as SkippedPath {
            report.skipped.append(skip)
            return
        }
        guard let result = outcome.result, let pending = outcome.pending, outcome.failures.isEmpty else {
            outcome.pending?.abort()
            for (observed, error) in outcome.failures where candidates.contains(where: { $0.record.id == observed.record.id }) {
                candidates.removeAll { $0.record.id == observed.record.id }
                try recordWriteFailure(observed, error: error, path: file.path)
            }
            if candidates.count < mirror, let (_, error) = outcome.failures.first { throw error }
            if let imported = try importFile(file, mirror: mirror, candidates: &candidates, report: &report, progress: { _ in }) {
                report.add(imported)
            }
            return
        }
        // A store dropped while this group was written: write the file again elsewhere.
        if pending.targets.contains(where: { target in !candidates.contains { $0.record.id == target.observed.record.id } }) {
            pending.abort()
            if let imported = try importFile(file, mirror: mirror, candidates: &candidates, report: &report, progress: { _ in }) {
                report.add(imported)
            }
            return
        }
        batch.items.append(.init(file: file, result: result, writers: pending.take()))
        batch.bytes += result.size
        if batch.isFull { try flush(&batch, mirror: mirror, candidates: &candidates, report: &report) }
    }

    /// Commits the batch on each store, then records every fully placed file in one transaction.
    func flush(_ batch: inout ImportBatch, mirror: Int, candidates: inout [ObservedStore],
               report: inout ImportReport) throws {
        guard !batch.items.isEmpty else { return }
        let items = batch.items
        batch = ImportBatch()
        var failed: [String: TroveError] = [:]
        let storeIDs = Array(Set(items.flatMap { $0.writers.map(\.0.record.id) })).sorted()
        for storeID in storeIDs {
            let entries = items.compactMap { item in
                item.writers.first { $0.0.record.id == storeID }.map { (observed: $0.0, writer: $0.1, id: item.result.id) }
            }
            guard let observed = entries.first?.observed, let store = observed.store else { continue }
            do {
                try store.commitBatch(entries.map { (writer: $0.writer, id: $0.id) })
            } catch {
                let trove = TroveError.from(any: error)
                failed[storeID] = trove
                candidates.removeAll { $0.record.id == storeID }
                try recordWriteFailure(observed, error: trove, path: "\(entries.count) files")
            }
        }
        var changes: [CatalogChange] = []
        var imported: [ImportedFile] = []
        var retry: [FoundFile] = []
        var seen = try catalog.knownFileIDs(items.map(\.result.id))
        for item in items {
            let placed = item.writers.map(\.0).filter { failed[$0.record.id] == nil }
            guard placed.count >= mirror else { retry.append(item.file); continue }
            let duplicate = seen.contains(item.result.id)
            seen.insert(item.result.id)
            changes += importChanges(item.file, result: item.result, placed: placed, duplicate: duplicate,
                                     recordOrigin: report.recordOrigins)
            imported.append(ImportedFile(path: item.file.path, id: item.result.id.description, size: item.result.size,
                                         duplicate: duplicate, stores: placed.map(\.record.label)))
        }
        try catalog.apply(changes)
        for file in imported { report.add(file) }
        // Too few stores left for the files the failed commit held: stop with why (a full disk).
        if !retry.isEmpty, candidates.count < mirror, let error = failed.sorted(by: { $0.key < $1.key }).first?.value { throw error }
        for file in retry {
            if let again = try importFile(file, mirror: mirror, candidates: &candidates, report: &report, progress: { _ in }) {
                report.add(again)
            }
        }
    }
}
