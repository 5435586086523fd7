import Foundation
import TroveCore
import TroveStorage

/// What one heal pass did.
public struct HealReport: Sendable, Codable {
    public var target = 0
    public var filesBelowTarget = 0
    public var copiesMade = 0
    public var copiesReverified = 0
    /// Grid shares written by repair or rebalancing.
    public var sharesWritten = 0
    public var bytes: UInt64 = 0
    public var seconds: Double = 0
    /// Files still below target after the pass (no room, no source connected, …).
    public var stillBelowTarget = 0
    public var problems: [String] = []
    /// Stores that stopped answering during the pass, with why (the pass skipped them after).
    public var unreachable: [UnreachableStore] = []
}

/// A store that stopped answering during a run.
public struct UnreachableStore: Sendable, Codable, Equatable {
    public var label: String
    public var reason: String
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
        guard let recoveryLock = try lock(.recovery, exclusive: true, wait: false) else {
            throw TroveError(.busy, "Another recovery (`trove heal` or `trove serve`) is already running on this library; wait for it to finish.")
        }
        let activityLock = try lock(.activity, exclusive: false, wait: true)
        defer { withExtendedLifetime((recoveryLock, activityLock)) {} }
        let started = Date()
        let observed = try observe()
        var report = HealReport()
        // Grids first: repair shares that fell to the threshold, rebalance onto new members, and
        // let each grid copy count what its shares survive before deciding what is below target.
        for item in observed where item.record.kind == .grid && item.isConnected {
            let pass = try passOverGrid(item)
            report.sharesWritten += pass.sharesWritten
            report.problems += pass.problems
        }
        report.target = try targetCopies()
        let pacer = RecoveryPacer(limit: options.bandwidthLimit, credit: options.credit, target: report.target)
        // The pass's work list, taken once in one read and spooled to the library folder: a
        // million files below target cost a working file, not memory.
        let queue = try FileSpool(in: path)
        try catalog.filesBelow(target: report.target) { file, durability in try queue.append(file, durability) }
        report.filesBelowTarget = queue.count
        guard queue.count > 0 else { return report }
        let connected = observed.filter(\.isConnected)
        // Every store as placement and the stuck rule see it (free space asked once).
        let storeOptions = try catalog.stores().filter { $0.trust != .purged }.map { record in
            let item = connected.first { $0.record.id == record.id }
            let space = (try? item?.store?.space()) ?? nil
            let reserve = reserveBytes(capacity: space?.capacity ?? record.capacity)
            let free = item.map { freeBytes($0.store) } ?? record.free ?? 0
            return StoreOption(storeID: record.id, label: record.label, weight: record.copies, domain: record.domain,
                               connected: item != nil, trusted: record.trust == .trusted, noNewCopies: record.noNewCopies,
                               readOnly: item?.record.readOnly ?? record.readOnly,
                               available: free - reserve, absorbs: Set(record.shareDomains ?? []))
        }
        let candidates = storeOptions.filter { $0.connected && $0.trusted && !$0.noNewCopies && !$0.readOnly }.map {
            PlacementCandidate(storeID: $0.storeID, weight: $0.weight, available: $0.available, domain: $0.domain)
        }
        var state = HealState(report: report, candidates: candidates, connected: connected, options: storeOptions,
                              stuck: try StuckSpool(in: path))
        try catalog.apply([.event(Event(time: clock.now(), kind: .recoveryStarted, details: [
            "files": DetailValue(queue.count), "target": DetailValue(report.target),
        ]))])
        progress.begin("heal", total: queue.bytes, unit: .bytes)
        var reader = try queue.reader()
        var next = try reader.next()
        while let item = next {
            // Flat out, files up to one leaf are healed a group at a time: copied on several
            // lanes, committed with shared syncs, recorded in one transaction. Paced heals go
            // file by file so the pacing stays fine-grained.
            if pacer.limit == nil && item.record.size < Self.batchedFileSize {
                // At most 1,024 files and 64 MiB: a store that holds uncommitted objects in memory
                // (object storage, objects bound for a pack) then holds at most that much, and
                // the group's small files make one pack and one catalog transaction.
                var group: [(file: FileRecord, durability: Int)] = []
                var bytes: UInt64 = 0
                while let candidate = next, group.count < 1_024, bytes < 64 << 20, candidate.record.size < Self.batchedFileSize {
                    group.append((candidate.record, candidate.number))
                    bytes += candidate.record.size
                    next = try reader.next()
                }
                try healGroup(group, state: &state)
                progress.update(done: state.done)
                continue
            }
            try healOne(item.record, start: item.number, state: &state)
            next = try reader.next()
            progress.update(done: state.done)
            if pacer.limit != nil {
                let window: TimeInterval = 600
                let importRate = Double(try catalog.importedBytes(since: clock.now() - window)) / window
                let wait = pacer.delay(sent: state.report.bytes, elapsed: Date().timeIntervalSince(started), importRate: importRate)
                if wait > 0 { options.sleep(wait) }
            }
        }
        report = state.report
        report.unreachable = unreachable.all.map { UnreachableStore(label: $0.label, reason: $0.reason) }
        var stuck = try state.stuck.reader()
        try catalog.replaceStuck { try stuck.next(4_096) }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        try catalog.apply([.event(Event(time: clock.now(), kind: .recoveryFinished, details: [
            "copies_made": DetailValue(report.copiesMade), "reverified": DetailValue(report.copiesReverified),
            "bytes": .number(Int64(report.bytes)), "still_below_target": DetailValue(report.stillBelowTarget),
        ]))])
        return report
    }

    /// Re-verifies a file's uncounted copies (the cheapest step), then picks where new copies go.
    /// `known`: the file's copies when the caller already read them (a group's, in one read).
    func prepareHeal(_ file: FileRecord, start: Int, state: inout HealState, known: [CopyRecord]? = nil) throws
        -> (durability: Int, holding: Set<String>, destinations: [String]) {
        var durability = start
        let target = state.report.target
        let copies = try known ?? catalog.copies(of: file.id)
        var changed = false
        for copy in copies where copy.copies == 0 && durability < target {
            guard let item = state.connected.first(where: { $0.record.id == copy.storeID }),
                  item.record.trust == .trusted, item.record.copies > 0, let store = item.store else { continue }
            guard !unreachable.contains(item.record.id) else { continue }
            changed = true
            let verdict = try check(file, on: store, fromMedia: true)
            try settle(verdict, of: file, on: item)
            switch verdict {
            case .good:
                try markVerified(file.id, on: item.record)
                durability += item.record.copies
                state.report.copiesReverified += 1
            case .corrupt, .unreadable, .unavailable:
                state.candidates.removeAll { $0.storeID == item.record.id }
            case .missing:
                break
            }
        }
        // Read again only when a copy was looked at above (its record may have changed).
        let held = changed ? try heldCopies(of: file.id, state: state) : counted(copies, state: state)
        let destinations = placement(size: file.size, held: held, target: target, candidates: state.candidates)
        return (durability, Set(held.map(\.storeID)), destinations)
    }

    /// A file's copies with their stores' weights, disks and trust.
    func heldCopies(of id: ContentID, state: HealState) throws -> [CountedCopy] {
        counted(try catalog.copies(of: id), state: state)
    }

    /// Copies with their stores' weights, disks and trust.
    func counted(_ copies: [CopyRecord], state: HealState) -> [CountedCopy] {
        copies.map { copy in
            let option = state.options.first { $0.storeID == copy.storeID }
            return CountedCopy(storeID: copy.storeID, weight: copy.copies, domain: option?.domain ?? "store:" + copy.storeID,
                               trusted: option?.trusted ?? false, absorbs: option?.absorbs ?? [])
        }
    }

    /// Records why a file is still below target after its turn (what status reports).
    func noteStuck(_ file: FileRecord, state: inout HealState, problem: (StuckKind, String)?, held known: [CountedCopy]? = nil) throws {
        let held = try known ?? heldCopies(of: file.id, state: state)
        // What the stores themselves say first; else what went wrong while copying.
        let options = state.options.map { option -> StoreOption in
            var option = option
            if let candidate = state.candidates.first(where: { $0.storeID == option.storeID }) { option.available = candidate.available }
            return option
        }
        if let why = whyBelowTarget(size: file.size, held: held, target: state.report.target, stores: options) {
            try state.stuck.append(StuckFile(fileID: file.id, kind: why.kind, storeLabel: why.store, detail: nil))
        } else if let problem {
            try state.stuck.append(StuckFile(fileID: file.id, kind: problem.0, storeLabel: nil, detail: problem.1))
        }
    }

    /// Good sources for a new copy: trusted first, then the least read from so far.
    func healSources(holding: Set<String>, destination: String, state: HealState) -> [ObservedStore] {
        state.connected.filter { holding.contains($0.record.id) && $0.record.id != destination }
            .sorted { ($0.record.trust == .trusted ? 0 : 1, state.reads[$0.record.id] ?? 0)
                < ($1.record.trust == .trusted ? 0 : 1, state.reads[$1.record.id] ?? 0) }
    }

    /// Heals one file: every copy it needs, one after the other.
    func healOne(_ file: FileRecord, start: Int, state: inout HealState) throws {
        let prepared = try prepareHeal(file, start: start, state: &state)
        var durability = prepared.durability
        var problem: (StuckKind, String)?
        for destinationID in prepared.destinations {
            guard let destination = state.connected.first(where: { $0.record.id == destinationID }),
                  !unreachable.contains(destinationID) else { continue }
            let sources = healSources(holding: prepared.holding, destination: destinationID, state: state)
            do {
                if let source = try copy(file, from: sources, to: destination) {
                    state.reads[source, default: 0] += 1
                    durability += destination.record.copies
                    state.report.copiesMade += 1
                    state.report.bytes += file.size
                    if let index = state.candidates.firstIndex(where: { $0.storeID == destinationID }) {
                        state.candidates[index].available -= Int64(file.size)
                    }
                } else {
                    state.report.problems.append("\(file.id): no connected good copy to read from")
                    problem = (.noSource, "no connected store holds a good copy")
                    break
                }
            } catch let error as SourceUnavailable {
                state.report.problems.append("\(file.id): could not read a source: \(error.message)")
                problem = (.noSource, error.message)
                break
            } catch let error as TroveError {
                state.report.problems.append("\(file.id) → \(destination.record.label): \(error.message)")
                problem = (.writeFailed, "\(destination.record.label): \(error.message)")
                state.candidates.removeAll { $0.storeID == destinationID }
                try recordWriteFailure(destination, error: error, path: file.id.description)
            }
        }
        // Counted again by the rule (copies re-verified on one disk count once).
        let held = try heldCopies(of: file.id, state: state)
        if durability < state.report.target || TroveCore.durability(of: held) < state.report.target {
            state.report.stillBelowTarget += 1
            if prepared.destinations.isEmpty && problem == nil && !prepared.holding.isEmpty
                && !state.connected.contains(where: { prepared.holding.contains($0.record.id) }) {
                problem = (.noSource, "no connected store holds a copy")
            }
            try noteStuck(file, state: &state, problem: problem, held: held)
        }
        state.done += file.size
    }

    /// Copies one file from the first good source to `destination`, verifying the source leaf by
    /// leaf while copying and the new copy after writing. Returns the source store's ID, or nil
    /// when no source had a good copy. Throws when the destination fails.
    func copy(_ file: FileRecord, from sources: [ObservedStore], to destination: ObservedStore) throws -> String? {
        switch prepareCopy(file, from: sources, to: destination) {
        case .written(let writer, let source):
            do { try writer.commit(as: file.id) } catch { throw TroveError.from(any: error) }
            try catalog.apply(try verifyNewCopy(file, source: source, destination: destination))
            return source.record.id
        case .noSource: return nil
        case .sourceUnavailable(let message): throw SourceUnavailable(message: message)
        case .destinationFailed(let error): throw error
        case .failed(let error): throw error
        }
    }

    /// What copying a file towards a destination came to, before anything is committed.
    enum PreparedCopy {
        /// Written in full from a good source; not yet committed.
        case written(any ObjectWriter, source: ObservedStore)
        /// No connected source held a good copy.
        case noSource
        /// Every source failed while being read (unplugged mid-copy).
        case sourceUnavailable(String)
        case destinationFailed(TroveError)
        /// The catalog refused to record what was found.
        case failed(Error)
    }

    /// Streams a file from the first good source into a new, uncommitted copy on `destination`,
    /// checking every leaf on the way; bad or missing sources are handled and skipped.
    func prepareCopy(_ file: FileRecord, from sources: [ObservedStore], to destination: ObservedStore) -> PreparedCopy {
        guard let target = destination.store else { return .noSource }
        var sourceErrors: [String] = []
        for source in sources where !unreachable.contains(source.record.id) {
            guard let store = source.store else { continue }
            let writer: any ObjectWriter
            do { writer = try target.makeWriter(for: file.id, expectedSize: file.size) } catch {
                return .destinationFailed(TroveError.from(any: error))
            }
            let verdict: CopyCheck
            do {
                verdict = try check(file, on: store, sink: { _, bytes in try writer.write(bytes) })
            } catch let failure as SinkFailure {
                writer.abort()
                return .destinationFailed(TroveError.from(any: failure.underlying))
            } catch {
                writer.abort()
                return .failed(error)
            }
            if verdict == .good { return .written(writer, source: source) }
            writer.abort()
            if case .unavailable(let reason) = verdict { sourceErrors.append("'\(source.record.label)': \(reason)") }
            do { try settle(verdict, of: file, on: source) } catch { return .failed(error) }
        }
        return sourceErrors.isEmpty ? .noSource : .sourceUnavailable(sourceErrors.joined(separator: "; "))
    }

    /// Re-reads a committed new copy from the drive; returns the catalog changes that record it,
    /// or quarantines it and throws when it does not read back correctly.
    func verifyNewCopy(_ file: FileRecord, source: ObservedStore, destination: ObservedStore) throws -> [CatalogChange] {
        guard let target = destination.store else {
            throw TroveError(.storeNotConnected, "store '\(destination.record.label)' went away")
        }
        // Every leaf was verified from the source on its way; a store that checks writes on
        // arrival (S3: the signed payload hash) stored exactly those bytes. A drive is read back.
        // A pack is read back whole by the store when it is committed: its objects need no read each.
        let written = target.verifiedOnCommit(file.id) ? .good : try check(file, on: target, fromMedia: true)
        if case .unavailable(let reason) = written {
            throw TroveError(.storeNotConnected, "store '\(destination.record.label)' stopped answering while the new copy was read back (\(reason))")
        }
        guard written == .good else {
            _ = try? target.quarantine(file.id)
            throw TroveError(.io, "the copy written to '\(destination.record.label)' did not read back correctly (\(written))")
        }
        let now = clock.now()
        return [
            .saveCopy(CopyRecord(fileID: file.id, storeID: destination.record.id, copies: destination.record.copies,
                                 mtime: now, verified: now)),
            .event(Event(time: now, kind: .copyCreated, storeID: destination.record.id, fileID: file.id, details: [
                "from": .text(source.record.label), "size": .number(Int64(file.size)),
            ])),
        ]
    }
}

/// A heal pass's running state, shared by the one-by-one and the grouped paths.
struct HealState {
    var report: HealReport
    var candidates: [PlacementCandidate]
    let connected: [ObservedStore]
    /// Copies read from each store so far, to spread reads over sources.
    var reads: [String: Int] = [:]
    /// Bytes of files dealt with, for progress.
    var done: UInt64 = 0
    /// Every store (connected or not) as the stuck rule sees it.
    let options: [StoreOption]
    /// Files left below target, and why (spooled: every file of a pass may be stuck).
    let stuck: StuckSpool

    init(report: HealReport, candidates: [PlacementCandidate], connected: [ObservedStore], options: [StoreOption],
         stuck: StuckSpool) {
        self.stuck = stuck
        self.report = report
        self.candidates = candidates
        self.connected = connected
        self.options = options
    }
}

/// Every source of a copy failed while reading (not the destination's fault).
struct SourceUnavailable: Error {
    let message: String
}
