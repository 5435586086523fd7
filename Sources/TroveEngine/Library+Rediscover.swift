import Foundation
import TroveCore
import TroveStorage

/// What an object the catalog did not know turned out to be.
enum RecoveredObject {
    /// A file: kept as a recovered import, so gc never takes it for garbage.
    case file
    /// A snapshot manifest: indexed as a snapshot again.
    case snapshot(SnapshotRecord, [SnapshotEntry])
    /// An older object of the library's own records (gc may collect it).
    case oldRecords
    /// It does not hash to its name: not recorded.
    case corrupt
}

extension Library {
    /// Finds the copies each store holds by listing it (sizes checked, leaves too with
    /// `verify`), takes the records' word for stores that cannot be listed, recovers objects
    /// the records did not know, and indexes the snapshots from their manifests.
    func rediscover(state: LibraryState, replayed: Replayed, verify: Bool, now: Date, report: inout RebuildReport,
                    progress: any ProgressReporter) throws {
        let observed = try observeStores(state.stores.filter { $0.trust != .purged })
        var recoveredSnapshots: [(SnapshotRecord, [SnapshotEntry])] = []
        for item in observed {
            guard let store = item.store else {
                var reason = "not connected"
                if case .missing(let why) = item.observation { reason = why }
                if case .wiped(let why) = item.observation { reason = why }
                report.missing[item.record.label] = reason
                continue
            }
            var ids: [ContentID] = []
            do { try store.listObjects { ids.append($0); return true } } catch {
                report.missing[item.record.label] = TroveError.from(any: error).message
                continue
            }
            progress.begin("list \(item.record.label)", total: UInt64(ids.count), unit: .items)
            var found = 0
            var batch: [CatalogChange] = []
            for (index, id) in ids.enumerated() {
                if index % 1000 == 0 { progress.update(done: UInt64(index)) }
                guard let file = try catalog.file(id) else {
                    switch try recoverObject(id, on: item, now: now) {
                    case .file: report.recovered += 1; found += 1
                    case .snapshot(let record, let entries): recoveredSnapshots.append((record, entries)); found += 1
                    case .oldRecords: found += 1
                    case .corrupt: report.corrupt += 1
                    }
                    continue
                }
                guard (try? store.objectSize(id)) ?? nil == file.size else { report.wrongSize += 1; continue }
                if verify {
                    let verdict = try check(file, on: store, fromMedia: true)
                    try settle(verdict, of: file, on: item)
                    guard verdict == .good else { report.corrupt += 1; continue }
                }
                batch.append(.saveCopy(CopyRecord(fileID: id, storeID: item.record.id, copies: item.record.copies, mtime: now,
                                                  verified: verify ? now : nil)))
                found += 1
                if batch.count >= 5000 { try catalog.apply(batch); batch = [] }
            }
            try catalog.apply(batch)
            progress.finish()
            report.listed[item.record.label] = found
        }
        // Stores that could not be listed keep the copies the records gave them, uncounted by
        // `verified` until they are seen again.
        let unlisted = observed.filter { !$0.isConnected || report.missing[$0.record.label] != nil }.map(\.record)
        if !unlisted.isEmpty {
            var batch: [CatalogChange] = []
            for (file, stores) in replayed.copies {
                for record in unlisted where stores.contains(record.id) {
                    batch.append(.saveCopy(CopyRecord(fileID: file, storeID: record.id, copies: record.copies, mtime: now, verified: nil)))
                }
                if batch.count >= 5000 { try catalog.apply(batch); batch = [] }
            }
            try catalog.apply(batch)
        }
        // Snapshots in their original order (the index's version ranges follow it), then any
        // found on the stores that the records did not know.
        let reader = RecordReader(stores: observed.compactMap(\.store))
        for record in replayed.snapshots {
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
        let counts = try catalog.summary()
        report.files = counts.files
        (report.imports, report.events) = try records.recordCounts()
        var settings: [CatalogChange] = [.trimJournal(through: Int64.max)]
        if !report.unindexedSnapshots.isEmpty {
            settings.append(.setSetting(key: RecordsSetting.unindexed, value: try Self.jsonList(report.unindexedSnapshots)))
        }
        if !unlisted.isEmpty {
            settings.append(.setSetting(key: RecordsSetting.unlisted, value: try Self.jsonList(unlisted.map(\.id))))
        }
        try catalog.apply(settings)
    }

    static func jsonList(_ values: [String]) throws -> String {
        String(decoding: try LibraryRecords.encoder.encode(values), as: UTF8.self)
    }

    /// Reads an object the catalog does not know, hashes it, and records what it is: a file
    /// (as a recovered import, so gc keeps it), a snapshot manifest, or an old record object.
    func recoverObject(_ id: ContentID, on item: ObservedStore, now: Date) throws -> RecoveredObject {
        guard let store = item.store else { return .corrupt }
        let result: LeafPipeline.Result
        var head: [UInt8] = []
        do {
            let reader = try store.openReader(id)
            defer { reader.close() }
            result = try pipeline.run(source: { buffer in
                let n = try reader.read(into: buffer)
                if head.count < 256 { head += UnsafeRawBufferPointer(rebasing: buffer[0..<min(n, 256)]) }
                return n
            })
        } catch let error as StoreError where error.kind != .unavailable {
            return .corrupt
        } catch is ObjectCorrupt {
            return .corrupt
        }
        guard result.id == id else { return .corrupt }
        var changes: [CatalogChange] = [
            .insertFile(FileRecord(id: id, size: result.size, leafHashes: result.leaves, firstSeen: now)),
            .saveCopy(CopyRecord(fileID: id, storeID: item.record.id, copies: item.record.copies, mtime: now, verified: now)),
        ]
        let opening = String(decoding: head, as: UTF8.self)
        var kind = RecoveredObject.file
        if opening.contains(JournalSegment.formatName) || opening.contains(LibraryState.formatName) {
            kind = .oldRecords
        } else if opening.contains("trove-manifest-"), let bytes = try? RecordReader.readVerified(id, from: store),
                  let manifest = try? Manifest.decode(bytes) {
            let header = manifest.header
            let files = manifest.entries.filter { $0.type == .file }
            let record = SnapshotRecord(id: id.description, root: header.root, time: header.time, tag: header.tag, partial: header.partial,
                                        entries: manifest.entries.count,
                                        bytes: files.filter { $0.hardLink == nil }.reduce(0) { $0 + $1.size }, rootEntry: header.rootEntry)
            kind = .snapshot(record, manifest.entries)
        } else {
            changes.append(.addImport(ImportRecord(fileID: id, path: "recovered:" + item.record.label, name: id.description,
                                                   mtime: now, time: now)))
        }
        try catalog.apply(changes)
        return kind
    }
}
