import Foundation
import TroveCore
import TroveStorage

/// The verdict on one physical copy after re-hashing it.
public enum CopyCheck: Sendable, Equatable {
    case good
    /// The store does not hold the object.
    case missing
    /// Bytes differ from the ID: `leaf` names the first leaf that does not hash to its value.
    case corrupt(leaf: Int?, reason: String)
    /// The medium reported an error reading it (a bad sector): the copy cannot be read back
    /// now, though nothing proves its bytes wrong.
    case unreadable(leaf: Int?, reason: String)
    /// The store could not be reached (timeout, connection refused, drive gone mid-read). Says
    /// nothing about the copy.
    case unavailable(reason: String)
}

extension CopyCheck {
    /// A few words for messages.
    var summary: String {
        switch self {
        case .good: "good"
        case .missing: "missing"
        case .corrupt(_, let reason): "corrupt (\(reason))"
        case .unreadable(_, let reason): "unreadable (\(reason))"
        case .unavailable(let reason): "unreachable (\(reason))"
        }
    }
}

/// Wraps an error of the sink so it passes through the copy's verdict untouched.
struct SinkFailure: Error {
    let underlying: Error
}

/// Thrown inside the pipeline when a leaf's hash differs from the catalog's.
struct LeafMismatch: Error {
    let leaf: Int
}

/// Stores that stopped answering during this process's work, with why: they are skipped for
/// the rest of the run and reported at its end, never quarantined or downgraded.
public final class UnreachableStores: @unchecked Sendable {
    private let lock = NSLock()
    private var reasons: [String: (label: String, reason: String)] = [:]

    public init() {}

    func clear() { lock.lock(); reasons = [:]; lock.unlock() }

    func note(_ record: StoreRecord, reason: String) {
        lock.lock(); defer { lock.unlock() }
        if reasons[record.id] == nil { reasons[record.id] = (record.label, reason) }
    }

    public func contains(_ storeID: String) -> Bool { lock.lock(); defer { lock.unlock() }; return reasons[storeID] != nil }

    /// Labels and reasons, sorted by label.
    public var all: [(label: String, reason: String)] {
        lock.lock(); defer { lock.unlock() }
        return reasons.values.sorted { $0.label < $1.label }
    }
}

extension Library {
    /// Re-hashes one copy (or the leaves from `firstLeaf` on) against the catalog's leaf hashes,
    /// optionally passing the bytes to `sink` (which must discard them if the verdict is not
    /// `.good`). Errors of the sink come back wrapped in `SinkFailure` so callers can tell the
    /// destination from the source. `fromMedia` (verify, scrub, a freshly written copy) reads
    /// the medium, not a cache of it. Store trouble becomes a verdict, never an error.
    func check(_ file: FileRecord, on store: any Store, fromMedia: Bool = false,
               sink: ((Int, UnsafeRawBufferPointer) throws -> Void)? = nil,
               progress: ((UInt64) -> Void)? = nil) throws -> CopyCheck {
        let reader: any ObjectReader
        do {
            // A missing object is the store's `notFound` (no separate size request: on object
            // storage each is a round trip).
            reader = try store.openReader(file.id, range: nil, fromMedia: fromMedia)
        } catch let error as StoreError {
            return Self.verdict(error, leaf: nil)
        } catch let corrupt as ObjectCorrupt {
            return .corrupt(leaf: Int(corrupt.offset / UInt64(ContentHash.leafSize)), reason: corrupt.reason)
        }
        defer { reader.close() }
        let expected = file.leafHashes
        let result: LeafPipeline.Result
        // Errors of the sink (the destination) must not be blamed on this copy.
        let sink = sink.map { body in
            { (index: Int, bytes: UnsafeRawBufferPointer) throws in
                do { try body(index, bytes) } catch { throw SinkFailure(underlying: error) }
            }
        }
        var leavesDone = 0
        do {
            result = try pipeline.run(source: { try reader.read(into: $0) }, sink: sink, onLeaf: { index, hash in
                if index >= expected.count || expected[index] != hash { throw LeafMismatch(leaf: index) }
                leavesDone = max(leavesDone, index + 1)
            }, progress: progress)
        } catch let failure as SinkFailure {
            throw failure
        } catch let mismatch as LeafMismatch {
            return .corrupt(leaf: mismatch.leaf, reason: "leaf \(mismatch.leaf) does not match its hash")
        } catch let error as StoreError {
            return Self.verdict(error, leaf: leavesDone)
        } catch let corrupt as ObjectCorrupt {
            return .corrupt(leaf: Int(corrupt.offset / UInt64(ContentHash.leafSize)), reason: corrupt.reason)
        }
        if result.size != file.size {
            let leaf = min(result.leaves.count, expected.count)
            return .corrupt(leaf: leaf, reason: "it holds \(result.size) bytes, expected \(file.size)")
        }
        return .good
    }

    /// The verdict a store error gives a copy.
    static func verdict(_ error: StoreError, leaf: Int?) -> CopyCheck {
        switch error.kind {
        case .notFound: .missing
        case .media: .unreadable(leaf: leaf, reason: "read error: \(error.message)")
        case .unavailable, .noSpace, .permissionDenied: .unavailable(reason: error.message)
        }
    }

    /// The one place a copy's verdict becomes catalog changes and events:
    /// - good: nothing here (callers stamp it verified their own way);
    /// - missing: the copy leaves the catalog, with a `copy_missing` event;
    /// - corrupt: quarantined, dropped, the store downgraded and given no new copies;
    /// - unreadable: kept but uncounted until it reads back, the store downgraded likewise;
    /// - unavailable: nothing changes; the store is skipped for the rest of this run.
    /// Serialised, so concurrent workers downgrade a store once.
    func settle(_ verdict: CopyCheck, of file: FileRecord, on observed: ObservedStore) throws {
        try corruptionLock.withLock {
            switch verdict {
            case .good:
                return
            case .missing:
                try catalog.apply([.removeCopy(file: file.id, store: observed.record.id),
                                   .event(Event(time: clock.now(), kind: .copyMissing, storeID: observed.record.id, fileID: file.id,
                                                details: ["location": .text(observed.record.location)]))])
            case .corrupt(let leaf, let reason):
                try recordBadCopy(file, on: observed, leaf: leaf, reason: reason, quarantine: true)
            case .unreadable(let leaf, let reason):
                try recordBadCopy(file, on: observed, leaf: leaf, reason: reason, quarantine: false)
            case .unavailable(let reason):
                noteUnreachable(observed.record, reason: reason)
            }
        }
    }

    /// Remembers (once per run) that a store stopped answering, with an event.
    func noteUnreachable(_ record: StoreRecord, reason: String) {
        guard !unreachable.contains(record.id) else { return }
        unreachable.note(record, reason: reason)
        try? catalog.apply([.event(Event(time: clock.now(), kind: .storeUnreachable, storeID: record.id, details: [
            "label": .text(record.label), "reason": .text(reason),
        ]))])
        logger.warning("store unreachable", metadata: ["store": "\(record.label)", "reason": "\(reason)"])
    }

    /// A copy that does not read back: a corrupt one is quarantined and leaves the catalog; an
    /// unreadable one stays, uncounted. Either way the event names the leaf and the drive, and
    /// the store is downgraded and gets no new copies.
    private func recordBadCopy(_ file: FileRecord, on observed: ObservedStore, leaf: Int?, reason: String, quarantine: Bool) throws {
        let now = clock.now()
        var record = try catalog.stores().first { $0.id == observed.record.id } ?? observed.record
        var details: [String: DetailValue] = ["reason": .text(reason), "location": .text(record.location)]
        var changes: [CatalogChange] = []
        var moved = false
        if quarantine, let store = observed.store {
            do {
                details["quarantined_to"] = .text(try store.quarantine(file.id))
                changes.append(.removeCopy(file: file.id, store: record.id))
                moved = true
            } catch {
                // Still under its ID: kept uncounted, so the next pass tries again instead of
                // a new copy being refused by the bad one in its place.
                details["quarantine_failed"] = .text("\(error)")
            }
        }
        if !moved, let copy = try catalog.copies(of: file.id).first(where: { $0.storeID == record.id }) {
            changes.append(.saveCopy(CopyRecord(fileID: file.id, storeID: record.id, copies: 0, mtime: copy.mtime, verified: copy.verified)))
        }
        if let leaf { details["leaf"] = DetailValue(leaf) }
        if let uuid = record.filesystemUUID { details["filesystem_uuid"] = .text(uuid) }
        changes.append(.event(Event(time: now, kind: .corruptCopy, storeID: record.id, fileID: file.id, details: details)))
        if record.kind.badCopySuggestsFailingMedium && (record.trust == .trusted || !record.noNewCopies) {
            let count = try catalog.copies(onStore: record.id).count - 1
            record.trust = record.trust == .purged ? .purged : .downgraded
            record.noNewCopies = true
            changes.append(.saveStore(record))
            changes.append(.event(Event(time: now, kind: .storeDowngraded, storeID: record.id, details: [
                "reason": .text(quarantine ? "corrupt copy found: suspected failing drive" : "read errors: suspected failing drive"),
                "count": DetailValue(max(0, count)),
            ])))
        }
        try catalog.apply(changes)
        logger.error(quarantine ? "corrupt copy quarantined" : "copy unreadable", metadata: [
            "file": "\(file.id)", "store": "\(record.label)", "leaf": "\(leaf.map(String.init) ?? "-")", "reason": "\(reason)",
        ])
    }
}
