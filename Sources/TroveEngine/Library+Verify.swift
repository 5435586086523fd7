import Dispatch
import Foundation
import TroveCore
import TroveStorage

/// What re-verifying one store found.
public struct VerifyReport: Sendable, Codable {
    public var storeID: String
    public var storeLabel: String
    public var connected: Bool
    public var checked = 0
    public var good = 0
    public var bytes: UInt64 = 0
    public var corrupt: [Problem] = []
    public var missing: [String] = []
    public var seconds: Double = 0
    /// Why the store stopped answering part-way (its remaining copies were not checked).
    public var unreachable: String?
    /// A grid's bad or missing shares, one line each (file, member, what is wrong).
    public var shareProblems: [String] = []
    /// Grid shares written because an object's good shares had fallen to the repair threshold.
    public var sharesWritten = 0

    /// A bad copy and the leaf that failed.
    public struct Problem: Sendable, Codable {
        public var fileID: String
        public var leaf: Int?
        public var reason: String
    }

    public var clean: Bool { connected && unreachable == nil && corrupt.isEmpty && missing.isEmpty }
}

/// What adopting an existing store found.
public struct AdoptionReport: Sendable, Codable {
    public var objects = 0
    public var known = 0
    public var new = 0
    public var corrupt = 0
    public var cleanedTemporary = 0
}

extension Library {
    /// Re-hashes every copy on the given stores (all connected ones when nil); corrupt copies are
    /// quarantined, missing ones dropped from the catalog, good ones stamped verified.
    public func verify(storeLabel: String? = nil, progress: any ProgressReporter = SilentProgress()) throws -> [VerifyReport] {
        let observed: [ObservedStore]
        if let storeLabel { observed = [try connectedStore(storeLabel)] } else { observed = try observeStores() }
        return try observed.map { try verify($0, progress: progress) }
    }

    func verify(_ observed: ObservedStore, progress: any ProgressReporter) throws -> VerifyReport {
        var report = VerifyReport(storeID: observed.record.id, storeLabel: observed.record.label, connected: observed.isConnected)
        guard let store = observed.store else { return report }
        let started = Date()
        // A page of the store's copies at a time, so memory does not grow with the store.
        let total = try catalog.summary().perStore[observed.record.id]?.bytes ?? 0
        progress.begin("verify \(observed.record.label)", total: total, unit: .bytes)
        let counter = ProgressCounter(progress)
        var after: ContentID?
        pages: while true {
            var files = try catalog.copiedFiles(onStore: observed.record.id, after: after, limit: Self.verifyPage)
            guard let last = files.last else { break }
            after = last.file.id
            // Largest first: each chunk then holds files of similar size, so no lane sits idle
            // while one long file finishes its chunk.
            files.sort { $0.file.size > $1.file.size }
            for start in stride(from: 0, to: files.count, by: 128) {
                let chunk = Array(files[start..<min(start + 128, files.count)])
                let verdicts = try checkOnHost(chunk.map(\.file), on: store, counter: counter)
                    ?? checkConcurrently(chunk.map(\.file), on: store, counter: counter)
                var verified: [CatalogChange] = []
                let now = clock.now()
                for ((file, copy), result) in zip(chunk, verdicts) {
                    let (verdict, audit) = try result.get()
                    if let audit {
                        report.shareProblems += audit.problems.map { "\(file.id): \($0)" }
                        report.sharesWritten += audit.repaired.count
                        if !audit.repaired.isEmpty { verified.append(Self.sharesRepaired(audit, of: file.id, on: observed.record, at: now)) }
                    }
                    try settle(verdict, of: file, on: observed)
                    switch verdict {
                    case .good:
                        report.checked += 1
                        report.good += 1
                        report.bytes += file.size
                        // A grid copy counts what its shares survive now.
                        verified.append(.saveCopy(CopyRecord(fileID: file.id, storeID: copy.storeID,
                                                             copies: audit.map { Self.gridCopyWeight($0, before: copy.copies) } ?? observed.record.copies,
                                                             mtime: copy.mtime, verified: now)))
                    case .missing:
                        report.checked += 1
                        report.missing.append(file.id.description)
                    case .corrupt(let leaf, let reason), .unreadable(let leaf, let reason):
                        report.checked += 1
                        report.corrupt.append(.init(fileID: file.id.description, leaf: leaf, reason: reason))
                    case .unavailable(let reason):
                        report.unreachable = reason
                    }
                }
                if report.unreachable != nil { break pages }
                // One transaction per chunk; a store downgraded meanwhile keeps its copies uncounted.
                let trusted = try catalog.stores().first { $0.id == observed.record.id }?.trust == .trusted
                if trusted { try catalog.apply(verified) }
            }
            if files.count < Self.verifyPage { break }
        }
        progress.finish()
        report.seconds = Date().timeIntervalSince(started)
        try catalog.apply([.event(Event(time: clock.now(), kind: .verifyFinished, storeID: observed.record.id, details: [
            "checked": DetailValue(report.checked), "good": DetailValue(report.good),
            "corrupt": DetailValue(report.corrupt.count), "missing": DetailValue(report.missing.count),
        ]))])
        return report
    }

    /// Copies `verify` reads from the catalog at a time.
    static let verifyPage = 8192

    /// On a store whose host checks its own drive (a peer's): the host's verdicts, with no
    /// bytes crossing the network; nil for other stores (and for a host caught lying, whose
    /// copies are then read back here like any store's). The host's word is spot-checked: one
    /// random leaf of one file it calls good is read here against its leaf hash.
    func checkOnHost(_ files: [FileRecord], on store: any Store, counter: ProgressCounter) throws
        -> [Result<(CopyCheck, ShareAudit?), Error>]? {
        guard let remote = store.remoteVerifier else { return nil }
        let verdicts: [ContentID: RemoteVerdict]
        do { verdicts = try remote.verifyOnHost(files.map { ($0.id, $0.size) }) } catch let error as StoreError {
            // A host that cannot answer (or answers nonsense) says nothing about the copies.
            return files.map { _ in .success((.unavailable(reason: error.message), nil)) }
        }
        if let sample = files.filter({ verdicts[$0.id] == .good && $0.size > 0 }).randomElement() {
            let leaf = Int.random(in: 0..<ContentHash.leafCount(size: sample.size))
            guard spotCheck(sample, leaf: leaf, on: store) else {
                logger.error("a peer called a copy good that is not", metadata: ["file": "\(sample.id)", "leaf": "\(leaf)"])
                return nil
            }
        }
        return files.map { file in
            counter.add(file.size)
            switch verdicts[file.id] {
            case .good?: return .success((.good, nil))
            case .missing?: return .success((.missing, nil))
            case .corrupt?, nil:
                return .success((.corrupt(leaf: nil, reason: "the machine holding the drive read it back and it does not match its content ID"), nil))
            }
        }
    }

    /// Reads one leaf of a copy and checks it against the file's leaf hash.
    func spotCheck(_ file: FileRecord, leaf: Int, on store: any Store) -> Bool {
        let start = UInt64(leaf) * UInt64(ContentHash.leafSize)
        let end = min(file.size, start + UInt64(ContentHash.leafSize))
        guard leaf < file.leafHashes.count,
              let reader = try? store.openReader(file.id, range: start..<end, fromMedia: false) else { return false }
        defer { reader.close() }
        var bytes = [UInt8](repeating: 0, count: Int(end - start))
        var filled = 0
        while filled < bytes.count {
            guard let count = try? bytes.withUnsafeMutableBytes({ try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }),
                  count > 0 else { return false }
            filled += count
        }
        return ContentHash.leafHash(index: leaf, leaf: bytes) == file.leafHashes[leaf]
    }

    /// Checks several copies at once (small files would otherwise leave a core idle); each
    /// large file's leaves are already hashed in parallel by the pipeline. On a grid every
    /// share is checked first (and repaired at the threshold), then the object is read back
    /// from k of them against its leaf hashes.
    func checkConcurrently(_ files: [FileRecord], on store: any Store, counter: ProgressCounter)
        -> [Result<(CopyCheck, ShareAudit?), Error>] {
        let results = ResultBox<Result<(CopyCheck, ShareAudit?), Error>>(count: files.count)
        runConcurrently(files.count, lanes: ioLanes) { index in
            results.set(index, Result {
                var audit: ShareAudit?
                if let grid = store as? ShareStore {
                    do { audit = try grid.audit(files[index].id, fromMedia: true, repair: .atThreshold) } catch let error as StoreError {
                        return (error.kind == .unavailable ? .unavailable(reason: error.message) : .unreadable(leaf: nil, reason: error.message), nil)
                    } catch {
                        // A repair that could not decode: the copy's own check below says what it is.
                        audit = nil
                    }
                }
                return (try self.check(files[index], on: store, fromMedia: true, progress: nil), audit)
            })
            counter.add(files[index].size)
        }
        return results.values
    }

    /// Stamps a copy verified now and lets it count again at its store's weight.
    func markVerified(_ id: ContentID, on record: StoreRecord) throws {
        let now = clock.now()
        let existing = try catalog.copies(of: id).first { $0.storeID == record.id }
        try catalog.apply([.saveCopy(CopyRecord(fileID: id, storeID: record.id, copies: record.copies,
                                                mtime: existing?.mtime ?? now, verified: now))])
    }

    /// Enters the objects of a store found on a drive into the catalog. Known files are checked
    /// against their leaf hashes; unknown objects are hashed and kept only if they match their name.
    func adopt(_ store: any Store, kind: StoreKind? = nil, label: String? = nil, location: String, config: StoreConfig,
               fileSystemUUID: String?, known: StoreRecord?, now: Date,
               declaredDisk: String? = nil, progress: any ProgressReporter) throws -> (record: StoreRecord, adopted: AdoptionReport?) {
        var report = AdoptionReport()
        report.cleanedTemporary = try storeCall { try store.cleanTemporary() }
        var record = known ?? StoreRecord(id: store.identity.id, label: label ?? store.identity.label, kind: kind ?? store.identity.kind,
                                          location: location, copies: store.identity.copies,
                                          filesystemUUID: store.identity.filesystemUUID, created: store.identity.created)
        record.location = location
        record.config = config
        record.encrypted = store.identity.encryption != nil
        record.lastSeen = now
        record = Self.sighting(record, store)
        if record.trust == .purged { record.trust = .trusted }
        if let fileSystemUUID { record.filesystemUUID = fileSystemUUID }
        if let declaredDisk { record.declaredDisk = declaredDisk }
        try catalog.apply([.saveStore(record), .replaceStuck([])])
        // Its packs are read through the index, rebuilt here from their trailers.
        let observed = packing(ObservedStore(record: record, observation: .connected(store)))
        let store = observed.store ?? store
        if let packing = store as? PackingStore { try storeCall { _ = try packing.reindex() } }
        let ids = try storeCall { try store.objectIDs() }
        report.objects = ids.count
        progress.begin("adopt \(record.label)", total: UInt64(ids.count), unit: .items)
        for (index, id) in ids.enumerated() {
            progress.update(done: UInt64(index))
            if let file = try catalog.file(id) {
                report.known += 1
                let verdict = try check(file, on: store, fromMedia: true)
                try settle(verdict, of: file, on: observed)
                switch verdict {
                case .good: try markVerified(id, on: record)
                case .missing: break
                case .corrupt, .unreadable: report.corrupt += 1
                case .unavailable(let reason):
                    throw TroveError(.storeNotConnected, "Store '\(record.label)' stopped answering while its objects were checked (\(reason)); run `trove store add` again when it is back: what was checked so far is kept.")
                }
                continue
            }
            var result: LeafPipeline.Result?
            do {
                let reader = try store.openReader(id)
                defer { reader.close() }
                result = try pipeline.run(source: { try reader.read(into: $0) })
            } catch let error as StoreError where error.kind == .unavailable {
                throw TroveError(.storeNotConnected, "Store '\(record.label)' stopped answering while its objects were read (\(error.message)); run `trove store add` again when it is back: what was read so far is kept.")
            } catch is StoreError, is ObjectCorrupt {
                result = nil
            }
            if let result, result.id == id {
                report.new += 1
                try catalog.apply([
                    .insertFile(FileRecord(id: id, size: result.size, leafHashes: result.leaves, firstSeen: now)),
                    .saveCopy(CopyRecord(fileID: id, storeID: record.id, copies: record.copies, mtime: now, verified: now)),
                ])
            } else {
                report.corrupt += 1
                let moved = (try? store.quarantine(id)) ?? "(could not be moved)"
                try catalog.apply([.event(Event(time: now, kind: .corruptCopy, storeID: record.id, fileID: id, details: [
                    "reason": "object content does not match its name", "quarantined_to": .text(moved),
                ]))])
            }
        }
        progress.finish()
        try catalog.apply([.event(Event(time: now, kind: .storeAdopted, storeID: record.id, details: [
            "label": .text(record.label), "location": .text(location), "objects": DetailValue(report.objects),
            "new": DetailValue(report.new), "corrupt": DetailValue(report.corrupt),
        ]))])
        return (try storeRecord(record.id), report)
    }
}

/// Results written by concurrent workers, one slot each.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [T?]
    init(count: Int) { stored = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: T) { lock.lock(); stored[index] = value; lock.unlock() }
    var values: [T] { lock.lock(); defer { lock.unlock() }; return stored.compactMap { $0 } }
    /// Every slot in order, nil where nothing was set.
    var slots: [T?] { lock.lock(); defer { lock.unlock() }; return stored }
}

/// Adds up bytes done by concurrent workers for one progress bar.
final class ProgressCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var total: UInt64 = 0
    private let reporter: any ProgressReporter
    init(_ reporter: any ProgressReporter) { self.reporter = reporter }
    func add(_ bytes: UInt64) {
        lock.lock(); total += bytes; let now = total; lock.unlock()
        reporter.update(done: now)
    }

    /// Bytes done so far.
    var done: UInt64 { lock.lock(); defer { lock.unlock() }; return total }
}
