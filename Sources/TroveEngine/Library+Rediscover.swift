import Foundation
import TroveCore
import TroveStorage

/// What an object the catalog did not know turned out to be.
enum RecoveredObject {
    /// A file: kept as a recovered import, so gc never takes it for garbage.
    case file
    /// A snapshot manifest of this library taken after its records were last written: indexed again.
    case snapshot(SnapshotRecord, [SnapshotEntry])
    /// An older object of this library's own records (gc may collect it).
    case oldRecords
    /// Its bytes do not hash to its name: moved to the store's quarantine, never deleted.
    case corrupt
    /// It could not be read (a media or permission error): left where it is, unknown.
    case unreadable
}

extension Library {
    /// Finds the copies each store holds by listing it (sizes checked, leaves too with
    /// `verify`): copies the records gave a listed store that are not there go, copies found
    /// there that they lacked come. A store that cannot be listed keeps the records' copies and
    /// is remembered as unlisted (gc never collects what it does not know there). Objects no
    /// record knows are recovered; snapshots are indexed from their manifests.
    /// Each store's pack index is rebuilt from its packs' trailers first, unless it is among `indexed`.
    func rediscover(state: LibraryState, head: LibraryHead, snapshots: [SnapshotRecord], verify: Bool, now: Date,
                    report: inout RebuildReport, indexed: Set<String> = [], progress: any ProgressReporter) throws {
        let observed = try observeStores(state.stores.filter { $0.trust != .purged })
        var recoveredSnapshots: [(SnapshotRecord, [SnapshotEntry])] = []
        var unlisted: [StoreRecord] = []
        var recordObjectIDs = Set<ContentID>()
        for item in observed {
            guard let store = item.store else {
                var reason = "not connected"
                if case .missing(let why) = item.observation { reason = why }
                if case .wiped(let why) = item.observation { reason = why }
                report.missing[item.record.label] = reason
                unlisted.append(item.record)
                continue
            }
            do {
                if !indexed.contains(item.record.id), let packing = store as? PackingStore {
                    try storeCall { _ = try packing.reindex() }
                }
                let (found, unreadable) = try relist(item, store: store, head: head, verify: verify, now: now, report: &report,
                                                     recoveredSnapshots: &recoveredSnapshots, recordObjects: &recordObjectIDs,
                                                     progress: progress)
                report.listed[item.record.label] = found
                if unreadable > 0 {
                    report.missing[item.record.label] = "\(unreadable) object\(unreadable == 1 ? "" : "s") could not be read; they are left in place and never collected"
                    unlisted.append(item.record)
                }
            } catch let error where TroveError.from(any: error).code == .storeNotConnected {
                report.missing[item.record.label] = TroveError.from(any: error).message
                unlisted.append(item.record)
            }
        }
        // Snapshots in their original order (the index's version ranges follow it), then those
        // found on the stores that the records did not know.
        let reader = RecordReader(stores: observed.compactMap(\.store))
        for record in snapshots {
            do {
                let manifest = try Manifest.decode(try reader.read(record.id))
                _ = try snapshotIndex.addSnapshot(record, entries: manifest.entries, events: [])
                report.snapshots += 1
            } catch {
                report.unindexedSnapshots.append(record.id)
            }
        }
        for (record, entries) in recoveredSnapshots.sorted(by: { $0.0.time < $1.0.time }) {
            _ = try snapshotIndex.addSnapshot(record, entries: entries, events: [])
            report.snapshots += 1
            report.recoveredSnapshots += 1
        }
        report.files = try catalog.summary().files
        (report.imports, report.events) = try records.recordCounts()
        // Already in the records: the replayed snapshots indexed again, and every copy of the
        // library's own record objects (never library history).
        var settings: [CatalogChange] = [.dropJournal(keys: snapshots.map(\.id), kind: "snapshot"),
                                         .dropJournal(keys: recordObjectIDs.map(\.description))]
        if !report.unindexedSnapshots.isEmpty {
            settings.append(.setSetting(key: RecordsSetting.unindexed, value: try Self.jsonList(report.unindexedSnapshots)))
        }
        if !unlisted.isEmpty {
            settings.append(.setSetting(key: RecordsSetting.unlisted, value: try Self.jsonList(unlisted.map(\.id))))
        }
        try catalog.apply(settings)
    }

    /// Lists one store and reconciles its copies; returns the copies found and how many
    /// unknown objects could not be read.
    private func relist(_ item: ObservedStore, store: any Store, head: LibraryHead, verify: Bool, now: Date,
                        report: inout RebuildReport, recoveredSnapshots: inout [(SnapshotRecord, [SnapshotEntry])],
                        recordObjects: inout Set<ContentID>, progress: any ProgressReporter) throws -> (found: Int, unreadable: Int) {
        var ids: [ContentID] = []
        try storeCall { try store.listObjects { ids.append($0); return true } }
        var recorded = Set(try catalog.copies(onStore: item.record.id).map(\.fileID))
        progress.begin("list \(item.record.label)", total: UInt64(ids.count), unit: .items)
        var found = 0, unreadable = 0
        var batch: [CatalogChange] = []
        for (index, id) in ids.enumerated() {
            if index % 1000 == 0 { progress.update(done: UInt64(index)) }
            recorded.remove(id)
            guard let file = try catalog.file(id) else {
                switch try recoverObject(id, on: item, now: now, recordsTime: head.time) {
                case .file: report.recovered += 1; found += 1
                case .snapshot(let record, let entries): recoveredSnapshots.append((record, entries)); found += 1
                case .oldRecords: found += 1; recordObjects.insert(id)
                case .corrupt: report.corrupt += 1
                case .unreadable: unreadable += 1
                }
                continue
            }
            guard try storeCall({ try store.objectSize(id) }) == file.size else {
                report.wrongSize += 1
                batch.append(.removeCopy(file: id, store: item.record.id))
                continue
            }
            if verify {
                let verdict = try check(file, on: store, fromMedia: true)
                try settle(verdict, of: file, on: item)
                if case .unavailable(let reason) = verdict { throw TroveError(.storeNotConnected, reason) }
                guard verdict == .good else { report.corrupt += 1; continue }
            }
            batch.append(.saveCopy(CopyRecord(fileID: id, storeID: item.record.id, copies: item.record.copies, mtime: now,
                                              verified: verify ? now : nil)))
            found += 1
            if batch.count >= 5000 { try catalog.apply(batch); batch = [] }
        }
        // What the records said the store held and it does not hold now.
        batch += recorded.map { .removeCopy(file: $0, store: item.record.id) }
        try catalog.apply(batch)
        progress.finish()
        return (found, unreadable)
    }

    static func jsonList(_ values: [String]) throws -> String {
        String(decoding: try LibraryRecords.encoder.encode(values), as: UTF8.self)
    }

    /// Reads an object the catalog does not know, hashes it, and records what it is: a file
    /// (as a recovered import, so gc keeps it), a snapshot manifest taken after the records
    /// were written (`recordsTime`), or an old object of this library's records. Only an object
    /// that decodes as this library's own is taken for anything but a file.
    func recoverObject(_ id: ContentID, on item: ObservedStore, now: Date, recordsTime: Date?) throws -> RecoveredObject {
        guard let store = item.store else { return .unreadable }
        let result: LeafPipeline.Result
        var opening: [UInt8] = []
        do {
            let reader = try store.openReader(id)
            defer { reader.close() }
            result = try pipeline.run(source: { buffer in
                let n = try reader.read(into: buffer)
                if opening.count < 512 { opening += UnsafeRawBufferPointer(rebasing: buffer[0..<min(n, 512)]) }
                return n
            })
        } catch let error as StoreError where error.kind == .unavailable {
            throw TroveError(.storeNotConnected, error.message)
        } catch is StoreError {
            return .unreadable
        }
        guard result.id == id else {
            _ = try? store.quarantine(id)
            return .corrupt
        }
        var changes: [CatalogChange] = [
            .insertFile(FileRecord(id: id, size: result.size, leafHashes: result.leaves, firstSeen: now)),
            .saveCopy(CopyRecord(fileID: id, storeID: item.record.id, copies: item.record.copies, mtime: now, verified: now)),
        ]
        let library = try catalog.setting("library_id")
        var kind = RecoveredObject.file
        let text = String(decoding: opening, as: UTF8.self)
        if text.contains(JournalSegment.formatName) || text.contains(LibraryState.formatName),
           let bytes = try? RecordReader.readVerified(id, from: store),
           (try? JournalSegment.decode(bytes))?.library == library || (try? LibraryState.decode(bytes))?.library == library {
            kind = .oldRecords
            // Record objects are not library history: kept out of the journal.
            changes.append(.dropJournal(keys: [id.description]))
        } else if text.contains("trove-manifest-"), let bytes = try? RecordReader.readVerified(id, from: store),
                  let manifest = try? Manifest.decode(bytes), manifest.header.time > (recordsTime ?? .distantPast) {
            let header = manifest.header
            let files = manifest.entries.filter { $0.type == .file && $0.hardLink == nil }
            let record = SnapshotRecord(id: id.description, root: header.root, time: header.time, tag: header.tag, partial: header.partial,
                                        entries: manifest.entries.count, bytes: files.reduce(0) { $0 + $1.size },
                                        rootEntry: header.rootEntry)
            kind = .snapshot(record, manifest.entries)
        } else {
            changes.append(.addImport(ImportRecord(fileID: id, path: "recovered:" + item.record.label, name: id.description,
                                                   mtime: now, time: now)))
        }
        try catalog.apply(changes)
        return kind
    }
}
