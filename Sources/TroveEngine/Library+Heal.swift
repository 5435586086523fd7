import Foundation
import TroveCore
import TroveStorage

/// What one heal pass did.
public struct HealReport: Sendable, Codable {
    public var target = 0
    public var filesBelowTarget = 0
    public var copiesMade = 0
    public var copiesReverified = 0
    public var bytes: UInt64 = 0
    public var seconds: Double = 0
    /// Files still below target after the pass (no room, no source connected, …).
    public var stillBelowTarget = 0
    public var problems: [String] = []
}

/// How a heal pass is paced.
public struct HealOptions: Sendable {
    /// Bandwidth limit in bytes/s when nothing is being imported (nil = flat out).
    public var bandwidthLimit: Double?
    /// How much faster than imports healing must run (see `RecoveryPacer`).
    public var credit: Double
    /// Waits between copies; tests inject a recorder instead of sleeping.
    public var sleep: @Sendable (TimeInterval) -> Void
    public init(bandwidthLimit: Double? = nil, credit: Double = 1.5,
                sleep: @escaping @Sendable (TimeInterval) -> Void = { Thread.sleep(forTimeInterval: $0) }) {
        self.bandwidthLimit = bandwidthLimit
        self.credit = credit
        self.sleep = sleep
    }
}

extension Library {
    /// One pass: re-verify uncounted copies, then copy the most fragile files first until every
    /// file reaches the target, reading from good copies and writing only where placement allows.
    /// Only one recovery runs per library at a time; a second one is refused.
    public func heal(options: HealOptions = HealOptions(), progress: any ProgressReporter = SilentProgress()) throws -> HealReport {
        guard let recoveryLock = try LibraryLock.acquire(.recovery, in: path, exclusive: true, wait: false) else {
            throw TroveError(.busy, "Another recovery (`trove heal` or `trove serve`) is already running on this library; wait for it to finish.")
        }
        let activityLock = try LibraryLock.acquire(.activity, in: path, exclusive: false, wait: true)
        defer { withExtendedLifetime((recoveryLock, activityLock)) {} }
        let started = Date()
        let observed = try observe()
        var report = HealReport()
        report.target = try targetCopies()
        let pacer = RecoveryPacer(limit: options.bandwidthLimit, credit: options.credit, target: report.target)
        let below = try catalog.filesBelow(target: report.target, limit: Int.max)
        report.filesBelowTarget = below.count
        guard !below.isEmpty else { return report }
        let connected = observed.filter(\.isConnected)
        var candidates = connected.filter { $0.record.trust == .trusted && !$0.record.noNewCopies }.map { item in
            let space = (try? item.store?.space()) ?? nil
            let reserve = reserveBytes(capacity: space?.capacity ?? item.record.capacity)
            return PlacementCandidate(storeID: item.record.id, weight: item.record.copies,
                                      available: (space?.free ?? item.record.free ?? 0) - reserve)
        }
        var reads: [String: Int] = [:]
        try catalog.apply([.event(Event(time: clock.now(), kind: .recoveryStarted, details: [
            "files": DetailValue(below.count), "target": DetailValue(report.target),
        ]))])
        progress.begin("heal", total: below.reduce(0) { $0 + $1.file.size }, unit: .bytes)
        var done: UInt64 = 0
        for (file, start) in below {
            var durability = start
            let copies = try catalog.copies(of: file.id)
            // Cheapest step first: a copy that only needs re-verifying.
            for copy in copies where copy.copies == 0 && durability < report.target {
                guard let item = connected.first(where: { $0.record.id == copy.storeID }),
                      item.record.trust == .trusted, item.record.copies > 0, let store = item.store else { continue }
                switch try check(file, on: store, fromMedia: true) {
                case .good:
                    try markVerified(file.id, on: item.record)
                    durability += item.record.copies
                    report.copiesReverified += 1
                case .missing:
                    try catalog.apply([.removeCopy(file: file.id, store: item.record.id),
                                       .event(Event(time: clock.now(), kind: .copyMissing, storeID: item.record.id, fileID: file.id))])
                case .corrupt(let leaf, let reason):
                    try handleCorruption(file, on: item, leaf: leaf, reason: reason)
                    candidates.removeAll { $0.storeID == item.record.id }
                }
            }
            let holding = Set(try catalog.copies(of: file.id).map(\.storeID))
            let destinations = placement(size: file.size, durability: durability, target: report.target,
                                         holding: holding, candidates: candidates)
            for destinationID in destinations {
                guard let destination = connected.first(where: { $0.record.id == destinationID }) else { continue }
                let sources = connected.filter { holding.contains($0.record.id) && $0.record.id != destinationID }
                    .sorted { ($0.record.trust == .trusted ? 0 : 1, reads[$0.record.id] ?? 0) < ($1.record.trust == .trusted ? 0 : 1, reads[$1.record.id] ?? 0) }
                do {
                    if let source = try copy(file, from: sources, to: destination) {
                        reads[source, default: 0] += 1
                        durability += destination.record.copies
                        report.copiesMade += 1
                        report.bytes += file.size
                        if let index = candidates.firstIndex(where: { $0.storeID == destinationID }) {
                            candidates[index].available -= Int64(file.size)
                        }
                    } else {
                        report.problems.append("\(file.id): no connected good copy to read from")
                        break
                    }
                } catch let error as SourceUnavailable {
                    report.problems.append("\(file.id): could not read a source: \(error.message)")
                    break
                } catch let error as TroveError {
                    report.problems.append("\(file.id) → \(destination.record.label): \(error.message)")
                    candidates.removeAll { $0.storeID == destinationID }
                    try recordWriteFailure(destination, error: error, path: file.id.description)
                }
            }
            if durability < report.target { report.stillBelowTarget += 1 }
            done += file.size
            progress.update(done: done)
            if pacer.limit != nil {
                let window: TimeInterval = 600
                let importRate = Double(try catalog.importedBytes(since: clock.now() - window)) / window
                let wait = pacer.delay(sent: report.bytes, elapsed: Date().timeIntervalSince(started), importRate: importRate)
                if wait > 0 { options.sleep(wait) }
            }
        }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        try catalog.apply([.event(Event(time: clock.now(), kind: .recoveryFinished, details: [
            "copies_made": DetailValue(report.copiesMade), "reverified": DetailValue(report.copiesReverified),
            "bytes": .number(Int64(report.bytes)), "still_below_target": DetailValue(report.stillBelowTarget),
        ]))])
        return report
    }

    /// Copies one file from the first good source to `destination`, verifying the source leaf by
    /// leaf while copying and the new copy after writing. Returns the source store's ID, or nil
    /// when no source had a good copy. Throws when the destination fails.
    func copy(_ file: FileRecord, from sources: [ObservedStore], to destination: ObservedStore) throws -> String? {
        guard let target = destination.store else { return nil }
        var sourceErrors: [String] = []
        for source in sources {
            guard let store = source.store else { continue }
            let writer = try target.makeWriter(expectedSize: file.size)
            let verdict: CopyCheck
            do {
                verdict = try check(file, on: store, sink: { _, bytes in try writer.write(bytes) })
            } catch let failure as SinkFailure {
                writer.abort()
                throw MirrorWriter.asTroveError(failure.underlying)
            } catch {
                // The source failed (unplugged mid-copy): try the next one.
                writer.abort()
                sourceErrors.append("'\(source.record.label)': \(error)")
                continue
            }
            switch verdict {
            case .good:
                try writer.commit(as: file.id)
                let written = try check(file, on: target, fromMedia: true)
                guard written == .good else {
                    _ = try? target.quarantine(file.id)
                    throw TroveError(.io, "the copy written to '\(destination.record.label)' did not read back correctly (\(written))")
                }
                let now = clock.now()
                try catalog.apply([
                    .saveCopy(CopyRecord(fileID: file.id, storeID: destination.record.id, copies: destination.record.copies,
                                         mtime: now, verified: now)),
                    .event(Event(time: now, kind: .copyCreated, storeID: destination.record.id, fileID: file.id, details: [
                        "from": .text(source.record.label), "size": .number(Int64(file.size)),
                    ])),
                ])
                return source.record.id
            case .missing:
                writer.abort()
                try catalog.apply([.removeCopy(file: file.id, store: source.record.id),
                                   .event(Event(time: clock.now(), kind: .copyMissing, storeID: source.record.id, fileID: file.id))])
            case .corrupt(let leaf, let reason):
                writer.abort()
                try handleCorruption(file, on: source, leaf: leaf, reason: reason)
            }
        }
        if !sourceErrors.isEmpty { throw SourceUnavailable(message: sourceErrors.joined(separator: "; ")) }
        return nil
    }
}

/// Every source of a copy failed while reading (not the destination's fault).
struct SourceUnavailable: Error {
    let message: String
}
