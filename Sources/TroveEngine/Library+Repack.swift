import Foundation
import TroveCore
import TroveStorage

/// What `trove store repack` did.
public struct StoreRepackReport: Sendable, Codable {
    public var store: String
    /// Loose objects moved into packs.
    public var objectsPacked = 0
    /// Packs written (new packs of loose objects, and rewrites of mostly dead packs).
    public var packsWritten = 0
    /// Mostly dead packs rewritten and deleted.
    public var packsRewritten = 0
    public var bytesFreed: UInt64 = 0
    /// Copies found corrupt or missing on the way (settled as verify would).
    public var corrupt: [String] = []
    public var missing: [String] = []
    public var seconds: Double = 0
}

extension Library {
    /// Converts a store in place: its loose small objects go into packs (each checked against
    /// its ID first, the loose object deleted only once its pack is committed, read back and
    /// recorded), and its mostly dead packs are rewritten. Like gc, never during a recovery or
    /// an import. Copies found corrupt or missing are settled as `verify` settles them.
    public func repackStore(_ label: String, progress: any ProgressReporter = SilentProgress()) throws -> StoreRepackReport {
        guard let recovery = try lock(.recovery, exclusive: true, wait: false) else {
            throw TroveError(.busy, "A recovery (`trove heal` or `trove serve`) is running; repack never runs during a recovery. Retry when it has finished.")
        }
        guard let activity = try lock(.activity, exclusive: true, wait: false) else {
            throw TroveError(.busy, "An import or heal is running on this library; retry the repack when it has finished.")
        }
        defer { withExtendedLifetime((recovery, activity)) {} }
        let started = Date()
        let observed = try connectedStore(label)
        guard let packing = observed.store as? PackingStore else {
            throw TroveError(.usage, "Store '\(label)' cannot keep packs with this catalog.")
        }
        var report = StoreRepackReport(store: observed.record.label)
        let repacker = PackingStore.Repacker(packing)
        let total = try catalog.summary().perStore[observed.record.id]?.files ?? 0
        progress.begin("repack \(observed.record.label)", total: UInt64(total), unit: .items)
        var after: CopyRecord?
        var done = 0
        // Every copy of the store, a page at a time (bounded memory however large the store).
        while true {
            let page = try catalog.copies(after: after, limit: 5_000)
            for copy in page where copy.storeID == observed.record.id {
                guard let file = try catalog.file(copy.fileID) else { continue }
                try storeCall { try repacker.add(file.id, size: file.size) }
                done += 1
                if done % 1_000 == 0 { progress.update(done: UInt64(done)) }
            }
            guard page.count == 5_000 else { break }
            after = page.last
        }
        let packed = try storeCall { try repacker.finish() }
        let compacted = try storeCall { try packing.compact() }
        progress.finish()
        report.objectsPacked = packed.objectsMoved
        report.packsWritten = packed.packsWritten + compacted.packsWritten
        report.packsRewritten = compacted.packsRemoved
        report.bytesFreed = compacted.bytesFreed
        for id in packed.corrupt + compacted.corrupt + packed.missing {
            guard let file = try catalog.file(id) else { continue }
            let verdict = try check(file, on: packing, fromMedia: true)
            try settle(verdict, of: file, on: observed)
            switch verdict {
            case .missing: report.missing.append(id.description)
            case .corrupt, .unreadable: report.corrupt.append(id.description)
            default: break
            }
        }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
