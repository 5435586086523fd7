import Foundation
import TroveCore
import TroveStorage

/// What garbage collection found (and, unless a dry run, did).
public struct GCReport: Sendable, Codable {
    public struct Object: Sendable, Codable {
        public var store: String
        public var id: String
        public var size: UInt64
    }
    public var dryRun: Bool
    /// Objects no file record needs: removed (or would be). Only the first 50 unless the report
    /// lists all (`gc(dryRun:listAll:)`); `removed` counts them all.
    public var unreferenced: [Object] = []
    /// How many objects were removed (or would be).
    public var removed = 0
    var listsAll = true
    /// Objects of known files that the catalog had lost track of: re-linked, uncounted until verified.
    public var relinked: [Object] = []
    /// Objects the catalog did not know on a store a catalog rebuild could not list: recorded as
    /// recovered imports (they may be imports made after the last backup of the records).
    public var recovered: [Object] = []
    public var bytesFreed: UInt64 = 0
    /// Packs rewritten because most of their bytes were dead (or would be, in a dry run).
    public var packsRewritten = 0
    public var temporaryCleaned = 0
    public var storesSkipped: [String] = []

    enum CodingKeys: String, CodingKey {
        case dryRun, unreferenced, removed, relinked, recovered, bytesFreed, packsRewritten, temporaryCleaned, storesSkipped
    }

    mutating func addUnreferenced(_ object: Object) {
        removed += 1
        bytesFreed += object.size
        if listsAll || unreferenced.count < 50 { unreferenced.append(object) }
    }
}

extension Library {
    /// Drops objects no file record needs from every connected store. Refused while a recovery
    /// or an import runs, so nothing in flight is ever collected.
    public func gc(dryRun: Bool, listAll: Bool = true) throws -> GCReport {
        guard let recovery = try lock(.recovery, exclusive: true, wait: false) else {
            throw TroveError(.busy, "A recovery (`trove heal` or `trove serve`) is running; gc never runs during a recovery. Retry when it has finished.")
        }
        guard let activity = try lock(.activity, exclusive: true, wait: false) else {
            throw TroveError(.busy, "An import or heal is running on this library; retry gc when it has finished.")
        }
        defer { withExtendedLifetime((recovery, activity)) {} }
        // After a rebuild that could not index every snapshot, files only those snapshots list
        // would look unneeded: nothing is collected until they are indexed.
        let unindexed = try settingList(RecordsSetting.unindexed)
        guard unindexed.isEmpty else {
            throw TroveError(.busy, "gc waits: \(unindexed.count) snapshot\(unindexed.count == 1 ? "" : "s") could not be indexed at the last catalog rebuild (their manifests could not be read); connect every store and run `trove catalog rebuild` again.")
        }
        var unlisted = Set(try settingList(RecordsSetting.unlisted))
        var report = GCReport(dryRun: dryRun)
        report.listsAll = listAll
        let now = clock.now()
        let observed = try observe()
        // Every object a head on a connected store names stays (a store that missed backups, or
        // a backup cut short after writing heads, still needs them to be rebuilt from).
        var keep = try recordObjects()
        for item in observed {
            guard let bytes = (try? item.store?.readRecord(.libraryHead)).flatMap({ $0 }),
                  let head = try? LibraryHead.decode(bytes) else { continue }
            keep.formUnion(head.objects.compactMap(ContentID.init))
        }
        // Content no import and no snapshot needs any more (e.g. after `forget`).
        let libraryID = try catalog.setting("library_id")
        // The library's records in the stores (the current head's objects) are needed too.
        // Taken in one read and spooled, so a million doomed files cost a working file, not memory.
        let unneeded = try FileSpool(in: path)
        try catalog.unreferencedFiles(keeping: keep) { try unneeded.append($0) }
        // A thousand files at a time: their records go in one transaction, then their objects
        // (a store of packs then records its dead objects once per pack, not once per object).
        // A crash in between leaves objects the catalog does not know (the next gc removes
        // them), never a recorded copy that is gone.
        var pending: [String: (store: any Store, ids: [ContentID])] = [:]
        var removals: [CatalogChange] = []
        var wouldFree: [String: [ContentID: UInt64]] = [:]
        func deletePending() throws {
            if !removals.isEmpty { try catalog.apply(removals) }
            removals = []
            for (_, item) in pending {
                if let packing = item.store as? PackingStore { try packing.remove(item.ids) } else { for id in item.ids { try item.store.remove(id) } }
            }
            pending = [:]
        }
        var doomedFiles = try unneeded.reader()
        var index = 0
        while let (file, _) = try doomedFiles.next() {
            if index % 1_000 == 0 { try deletePending() }
            index += 1
            var doomed: [(String, any Store)] = []
            for copy in try catalog.copies(of: file.id) {
                guard let item = observed.first(where: { $0.record.id == copy.storeID }) else { continue }
                // On a drive another library made, the same object may still be that library's.
                if let owner = item.store?.identity.library, owner != libraryID { continue }
                report.addUnreferenced(.init(store: item.record.label, id: file.id.description, size: file.size))
                if let store = item.store { doomed.append((item.record.id, store)) }
            }
            guard !dryRun else {
                // What the removals would leave live in each pack, for the packs' verdict below.
                for (storeID, store) in doomed {
                    if let packed = try (store as? PackingStore)?.packed(file.id) { wouldFree[storeID, default: [:]][packed.pack, default: 0] += packed.length }
                }
                continue
            }
            removals += [.removeFile(file.id), .event(Event(time: now, kind: .copyRemoved, fileID: file.id, details: [
                "reason": "no import or snapshot needs it (gc)", "size": .number(Int64(file.size)),
            ]))]
            for (storeID, store) in doomed { pending[storeID, default: (store, [])].ids.append(file.id) }
        }
        try deletePending()
        for item in observed {
            guard let store = item.store else { report.storesSkipped.append(item.record.label); continue }
            // A store made by another library (a shared drive) holds objects this catalog cannot
            // know about: never delete there.
            if let owner = store.identity.library, owner != libraryID {
                report.storesSkipped.append("\(item.record.label) (made by another library)")
                continue
            }
            // Streamed: the listing is checked against the catalog a page at a time, and only the
            // objects the catalog does not track are kept.
            var untracked: [ContentID] = []
            var page: [ContentID] = []
            func checkPage() throws {
                let tracked = try catalog.copied(onStore: item.record.id, among: page)
                untracked += page.filter { !tracked.contains($0) }
                page.removeAll(keepingCapacity: true)
            }
            try storeCall {
                try store.listObjects { id in
                    page.append(id)
                    if page.count == 8_192 { try checkPage() }
                    return true
                }
            }
            try checkPage()
            for id in untracked where !keep.contains(id) {
                let size = (try? store.objectSize(id)) ?? nil ?? 0
                let object = GCReport.Object(store: item.record.label, id: id.description, size: size)
                if try catalog.file(id) != nil {
                    report.relinked.append(object)
                    if !dryRun {
                        try catalog.apply([.saveCopy(CopyRecord(fileID: id, storeID: item.record.id, copies: 0, mtime: now, verified: nil))])
                    }
                } else if unlisted.contains(item.record.id) {
                    // A store the last rebuild could not list: what the catalog does not know may
                    // be an import made after the last backup. Recovered, never collected.
                    report.recovered.append(object)
                    if !dryRun, case .snapshot(let record, let entries) = try recoverObject(id, on: item, now: now, recordsTime: try lastRecordsBackup()) {
                        _ = try snapshotIndex.addSnapshot(record, entries: entries, events: [])
                    }
                } else {
                    report.addUnreferenced(object)
                    if !dryRun {
                        try store.remove(id)
                        try catalog.apply([.event(Event(time: now, kind: .copyRemoved, storeID: item.record.id, fileID: id,
                                                        details: ["reason": "unreferenced (gc)", "size": .number(Int64(size))]))])
                    }
                }
            }
            if let packing = store as? PackingStore {
                try compact(packing, on: item, dryRun: dryRun, freed: wouldFree[item.record.id] ?? [:], report: &report)
            }
            if !dryRun {
                report.temporaryCleaned += try store.cleanTemporary()
                if unlisted.remove(item.record.id) != nil {
                    try catalog.apply([.setSetting(key: RecordsSetting.unlisted, value: try Self.jsonList(unlisted.sorted()))])
                }
            }
        }
        if !dryRun {
            try catalog.apply([.event(Event(time: now, kind: .gcFinished, details: [
                "removed": DetailValue(report.removed), "bytes": .number(Int64(report.bytesFreed)),
                "relinked": DetailValue(report.relinked.count), "packs_rewritten": DetailValue(report.packsRewritten),
            ]))])
        }
        return report
    }

    /// Rewrites the store's packs that are mostly dead (docs/packs.md#gc). An object found
    /// corrupt on the way is settled like any corrupt copy (its pack stays until nothing in it
    /// is live).
    /// In a dry run, `freed` holds the bytes per pack the removals would have made dead.
    func compact(_ packing: PackingStore, on item: ObservedStore, dryRun: Bool, freed: [ContentID: UInt64], report: inout GCReport) throws {
        let due = try storeCall { try packing.packSummaries() }.map { summary in
            var summary = summary
            summary.liveBytes -= min(summary.liveBytes, freed[summary.pack] ?? 0)
            return summary
        }.filter(\.worthRewriting)
        guard !due.isEmpty else { return }
        guard !dryRun else {
            report.packsRewritten += due.count
            report.bytesFreed += due.reduce(0) { $0 + $1.size - min($1.size, $1.liveBytes) }
            return
        }
        let result = try storeCall { try packing.compact() }
        report.packsRewritten += result.packsRemoved
        report.bytesFreed += result.bytesFreed
        for id in result.corrupt {
            guard let file = try catalog.file(id) else { continue }
            try settle(try check(file, on: packing, fromMedia: true), of: file, on: item)
        }
    }
}
