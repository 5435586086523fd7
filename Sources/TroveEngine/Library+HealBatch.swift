import Foundation
import TroveCore
import TroveStorage

extension Library {
    /// Heals a group of small files the way imports write them: destinations are chosen in
    /// order (most fragile first), the copies are streamed on several lanes, each destination
    /// commits its new copies with shared syncs, every new copy is re-read from the drive on
    /// lanes, and the good ones are recorded in one transaction.
    func healGroup(_ group: [(file: FileRecord, durability: Int)], state: inout HealState) throws {
        struct Job {
            let member: Int
            let file: FileRecord
            let destination: ObservedStore
            let sources: [ObservedStore]
        }
        var durabilities: [Int] = []
        var jobs: [Job] = []
        // The group's copies in one read (a read per file cost more than the copying of small files).
        let before = try catalog.copies(ofFiles: group.map(\.file.id))
        for (member, item) in group.enumerated() {
            let (durability, holding, destinations) = try prepareHeal(item.file, start: item.durability, state: &state,
                                                                      known: before[item.file.id] ?? [])
            durabilities.append(durability)
            for destinationID in destinations {
                guard let destination = state.connected.first(where: { $0.record.id == destinationID }) else { continue }
                jobs.append(Job(member: member, file: item.file, destination: destination,
                                sources: healSources(holding: holding, destination: destinationID, state: state)))
                // Claimed now, so the next files' placement sees it; given back if the copy fails.
                if let index = state.candidates.firstIndex(where: { $0.storeID == destinationID }) {
                    state.candidates[index].available -= Int64(item.file.size)
                }
            }
        }
        let work = jobs
        let prepared = ResultBox<PreparedCopy>(count: work.count)
        /// Copies already committed in their lane (stores that commit each object alone), or why not.
        let early = ResultBox<TroveError?>(count: work.count)
        // Preparing a copy reads and checks it on a few lanes. A store that commits each object
        // alone (object storage, a peer) commits it right there, so its round trip overlaps the
        // other lanes' reading; more lanes overlap those waits, as they do reads from a remote source.
        let remote = work.contains { $0.destination.store?.commitsEachAlone == true || $0.sources.contains { !$0.record.kind.isAttached } }
        let lanes = remote ? remoteLanes : ioLanes
        runConcurrently(work.count, lanes: lanes) { index in
            let job = work[index]
            let outcome = self.prepareCopy(job.file, from: job.sources, to: job.destination)
            prepared.set(index, outcome)
            guard case .written(let writer, _) = outcome, let store = job.destination.store, store.commitsAlone(writer) else { return }
            do { try store.commitBatch([(writer: writer, id: job.file.id)]); early.set(index, nil) } catch {
                early.set(index, TroveError.from(any: error))
            }
        }
        let outcomes = prepared.values
        let committedEarly = early.slots
        var failures: [Int: TroveError] = [:]
        var committed: [(job: Int, source: ObservedStore)] = []
        for (index, result) in committedEarly.enumerated() {
            guard let result, case .written(_, let source) = outcomes[index] else { continue }
            if let error = result { failures[index] = error } else { committed.append((index, source)) }
        }
        // Every other destination commits its new copies together, sharing the syncs.
        let destinations = Array(Set(work.map(\.destination.record.id))).sorted()
        for destinationID in destinations {
            var batch: [(job: Int, writer: any ObjectWriter, source: ObservedStore)] = []
            for (index, outcome) in outcomes.enumerated() where work[index].destination.record.id == destinationID && committedEarly[index] == nil {
                if case .written(let writer, let source) = outcome { batch.append((index, writer, source)) }
            }
            guard !batch.isEmpty, let store = work[batch[0].job].destination.store else { continue }
            do {
                try store.commitBatch(batch.map { (writer: $0.writer, id: work[$0.job].file.id) })
                committed += batch.map { ($0.job, $0.source) }
            } catch {
                for item in batch { failures[item.job] = TroveError.from(any: error) }
            }
        }
        // Every new copy is read back from the drive before it counts.
        let rereads = ResultBox<Result<[CatalogChange], Error>>(count: committed.count)
        let toCheck = committed
        runConcurrently(toCheck.count, lanes: lanes) { index in
            let (job, source) = toCheck[index]
            rereads.set(index, Result { try self.verifyNewCopy(work[job].file, source: source, destination: work[job].destination) })
        }
        var changes: [CatalogChange] = []
        var made = Set<Int>()
        for ((job, source), reread) in zip(committed, rereads.values) {
            switch reread {
            case .success(let recorded):
                changes += recorded
                made.insert(job)
                state.reads[source.record.id, default: 0] += 1
            case .failure(let error):
                failures[job] = TroveError.from(any: error)
            }
        }
        try catalog.apply(changes)
        // Account for every job in order, as the one-by-one path would.
        var failedStores = Set<String>()
        var noSource = Set<Int>()
        var problems: [Int: (StuckKind, String)] = [:]
        for (index, job) in work.enumerated() {
            if made.contains(index) {
                state.report.copiesMade += 1
                state.report.bytes += job.file.size
                durabilities[job.member] += job.destination.record.copies
                continue
            }
            if let slot = state.candidates.firstIndex(where: { $0.storeID == job.destination.record.id }) {
                state.candidates[slot].available += Int64(job.file.size)
            }
            var destinationError = failures[index]
            switch outcomes[index] {
            case .noSource where !noSource.contains(job.member):
                noSource.insert(job.member)
                problems[job.member] = (.noSource, "no connected store holds a good copy")
                state.report.problems.append("\(job.file.id): no connected good copy to read from")
            case .sourceUnavailable(let message) where !noSource.contains(job.member):
                noSource.insert(job.member)
                problems[job.member] = (.noSource, message)
                state.report.problems.append("\(job.file.id): could not read a source: \(message)")
            case .destinationFailed(let error):
                destinationError = error
            case .failed(let error):
                throw error
            default:
                break
            }
            guard let error = destinationError else { continue }
            state.report.problems.append("\(job.file.id) → \(job.destination.record.label): \(error.message)")
            problems[job.member] = (.writeFailed, "\(job.destination.record.label): \(error.message)")
            let storeID = job.destination.record.id
            if failedStores.insert(storeID).inserted {
                state.candidates.removeAll { $0.storeID == storeID }
                try recordWriteFailure(job.destination, error: error, path: job.file.id.description)
            }
        }
        let after = try catalog.copies(ofFiles: group.map(\.file.id))
        for (member, item) in group.enumerated() {
            // Counted again by the rule (copies re-verified on one disk count once).
            let held = counted(after[item.file.id] ?? [], state: state)
            if durabilities[member] < state.report.target || durability(of: held) < state.report.target {
                state.report.stillBelowTarget += 1
                try noteStuck(item.file, state: &state, problem: problems[member], held: held)
            }
            state.done += item.file.size
        }
    }
}
